/** `dfkd worker`: runs study cells from a Redis queue (see docs/distributed.md). */
import { Command } from 'commander';
import { DfkdError } from '../errors';
import { z } from 'zod';
import { onStopSignals } from '../distill/stop-signals';
import { parseIntArg, runCommand, typedOptions } from './common';

const WorkerFlags = z.object({ queue: z.string(), concurrency: z.number().int(), device: z.string(), workDir: z.string().optional(), shared: z.boolean(), dataPath: z.string().optional() });

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('take study cells from a Redis queue (filled by `dfkd study --queue URL`) and run them; see docs/distributed.md')
    .requiredOption('--queue <url>', 'Redis URL, e.g. redis://127.0.0.1:6379 or redis://:PASSWORD@HOST:6379/0')
    .option('--concurrency <n>', 'cells run at once, each in its own process', parseIntArg('--concurrency'), 1)
    .option('--device <device>', 'compute device (only cpu so far)', 'cpu')
    .option('--work-dir <dir>', 'where cells run when the study directory is not visible from this machine (default: a dfkd-worker folder in the temp directory)')
    .option('--no-shared', "never run in the submitter's study directory, even when this machine can see it")
    .option('--data-path <dir>', "dataset location on this machine (replaces the submitter's --data-path)")
    .action((raw) =>
      runCommand(async () => {
        const o = typedOptions(WorkerFlags, raw, 'worker');
        if (o.device !== 'cpu') throw new DfkdError(`--device ${o.device} is not supported by dfkd worker yet (only cpu)`, 'EUSAGE');
        const { parseQueueUrl } = await import('../study/queue');
        const queue = parseQueueUrl(o.queue);
        const { startWorker } = await import('../study/queue-worker');
        const w = await startWorker({ queue, concurrency: o.concurrency, workDir: o.workDir, isolated: o.shared === false, dataPath: o.dataPath });
        // First signal: take no new cells, finish the ones in progress, exit 0. Second: leave at once; the
        // cells' processes checkpoint and exit, and their jobs return to the queue when their locks expire.
        await new Promise<void>((resolve) => {
          onStopSignals({
            onForce: (sig) => {
              process.stderr.write(`${sig} again: leaving now; unfinished cells go back to the queue\n`);
              process.exit(130);
            },
            onStop: (sig) => {
              process.stderr.write(`${sig}: finishing the cells in progress, then exiting (send it again to leave at once)\n`);
              void w.close().then(resolve, resolve);
            },
          });
        });
        console.log('worker stopped');
      }),
    );
}
