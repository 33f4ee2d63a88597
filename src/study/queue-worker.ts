/**
 * `dfkd worker`: takes study cells from the queue and runs them. The BullMQ Worker lives in this process
 * (it holds and renews the job locks, runs the stalled-job checks); each cell runs in a child process
 * (src/study/queue-processor.ts, BullMQ's sandboxed processor), `concurrency` of them at most.
 *
 * A worker that dies (SIGKILL, lost machine) stops renewing its locks; after lockDuration the stalled-job
 * check of any live worker puts the job back in the queue, and the next worker continues it (from its
 * checkpoint when the study directory is shared). The cell id is the job id, and the submitter stores a
 * cell once, so a cell is never counted twice.
 */
import * as path from 'path';
import type { Worker } from 'bullmq';
import { DfkdError } from '../errors';
import { QueueUrl, QUEUE_NAME, lockSettings, probeQueue, queueVersion, decodeFailure, CellJobResult } from './queue';

export interface StartWorkerOptions {
  queue: QueueUrl;
  concurrency?: number;
  /** Local work directory for cells whose study directory this machine cannot see. */
  workDir?: string;
  /** Never run in the submitter's study directory, even when it is visible. */
  isolated?: boolean;
  /** Replaces the data path of every job (the dataset may live elsewhere on this machine). */
  dataPath?: string;
  log?: (line: string) => void;
}

export interface RunningWorker {
  worker: Worker;
  /** Stops taking jobs; graceful (default) waits for the cells in progress, force abandons them to the stalled-job check. */
  close(force?: boolean): Promise<void>;
}

export async function startWorker(o: StartWorkerOptions): Promise<RunningWorker> {
  const concurrency = o.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new DfkdError(`--concurrency must be a positive integer, got ${concurrency}`, 'EUSAGE');
  const locks = lockSettings();
  await probeQueue(o.queue);
  const log = o.log ?? ((l: string) => console.log(l));
  // The processor children inherit these (see queue-processor.ts).
  if (o.workDir) process.env.DFKD_WORKER_DIR = path.resolve(o.workDir);
  process.env.DFKD_WORKER_SHARED = o.isolated ? 'never' : 'auto';
  if (o.dataPath) process.env.DFKD_WORKER_DATA_PATH = path.resolve(o.dataPath);

  const { Worker } = await import('bullmq');
  const processor = path.join(__dirname, 'queue-processor.js');
  const worker = new Worker(QUEUE_NAME, processor, { connection: o.queue.connection, concurrency, ...locks, useWorkerThreads: false });
  worker.on('active', (job) => log(`cell ${job.id} started`));
  worker.on('completed', (job) => {
    const r = job.returnvalue as CellJobResult | undefined;
    const acc = r?.finalAccuracy;
    log(`cell ${job.id} done: final ${acc === null || acc === undefined ? '-' : `${(100 * acc).toFixed(2)}%`}${r?.resumed ? ' (continued from a checkpoint)' : ''}`);
  });
  worker.on('failed', (job, err) => log(`cell ${job?.id ?? '?'} failed: ${decodeFailure(err.message).message}`));
  worker.on('stalled', (id) => log(`cell ${id} stalled (its worker stopped renewing the lock): back in the queue`));
  worker.on('error', (err) => log(`queue error: ${err.message}`));
  await worker.waitUntilReady();
  log(`worker ready: queue ${o.queue.display}, concurrency ${concurrency}, dfkd ${queueVersion()}, lock ${locks.lockDuration} ms`);
  return { worker, close: (force = false) => worker.close(force) };
}
