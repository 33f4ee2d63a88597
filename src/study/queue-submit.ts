/**
 * `dfkd study --queue URL`: the study runs as in src/study/run.ts (teachers trained or reused here first,
 * the same state.json, results.json and report), but each unfinished cell becomes a BullMQ job for
 * `dfkd worker` processes, and its run directory is filled from the job's result.
 *
 * Re-submitting is safe: the job id is the cell id, so a job that is waiting or running is left alone, a
 * finished job's result is collected (even one that finished while no submitter was waiting), and a failed
 * job (or one queued with another config) is replaced by a fresh one.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Queue, QueueEvents } from 'bullmq';
import { DfkdError } from '../errors';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic';
import { distillConfigFor, runConfigHash, studentArchOf, DistillOptions, DistillResult, DistillSummary } from '../distill/run';
import { readTeacherRecord, TEACHER_RECORD } from '../train/teacher';
import { runStudy, cellDirName, CellKey, RunStudyOptions, StudyRunResult, StudyState, STATE_FILE } from './run';
import { RUN_FILES } from '../io/run-dir';
import {
  CellJob, CellJobResult, JOB_NAME, QUEUE_NAME, QueueUrl, cellJobId, decodeFailure, ensureQueueFile, probeQueue, queueVersion, readQueueFile,
} from './queue';

/** How often a waiting cell re-reads its job state when no event arrived (events may be missed across reconnects). */
const POLL_MS = 10_000;
/** Finished jobs nobody collected are dropped after a week. */
const KEEP_SECONDS = 7 * 24 * 3600;
const EVENTS_MAX_LEN = 1000;

export interface QueueStudyOptions extends RunStudyOptions {
  queue: QueueUrl;
  /** Where a finished cell ran (for the CLI's progress lines). */
  onRemoteDone?: (e: { cell: CellKey; host: string; shared: boolean; resumed: boolean }) => void;
}

interface Conn {
  queue: Queue;
  events: QueueEvents;
  waiters: Map<string, Set<() => void>>;
}

/** Runs a study whose cells are computed by queue workers. */
export async function runStudyOnQueue(opts: QueueStudyOptions): Promise<StudyRunResult> {
  await probeQueue(opts.queue);
  // queue.json is written with the first job, once the preset and the teachers are known to be good.
  let studyId: string | undefined;
  let conn: Promise<Conn> | undefined;
  const connect = async (): Promise<Conn> => {
    const { Queue, QueueEvents } = await import('bullmq');
    // Finished jobs' events carry their results (a cell's files when storage is not shared): keep few of them.
    const queue = new Queue(QUEUE_NAME, { connection: opts.queue.connection, streams: { events: { maxLen: EVENTS_MAX_LEN } } });
    const events = new QueueEvents(QUEUE_NAME, { connection: opts.queue.connection });
    const warn = (e: Error): void => (opts.onWarn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`)))(`queue ${opts.queue.display}: ${e.message}`);
    queue.on('error', warn);
    events.on('error', warn);
    const waiters = new Map<string, Set<() => void>>();
    const wake = ({ jobId }: { jobId: string }): void => waiters.get(jobId)?.forEach((f) => f());
    events.on('completed', wake);
    events.on('failed', wake);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return { queue, events, waiters };
  };
  // A stop request (Ctrl-C) wakes every waiting cell at once.
  const ticker = setInterval(() => {
    if (opts.shouldStop?.() && conn) void conn.then((c) => c.waiters.forEach((s) => s.forEach((f) => f())));
  }, 250);
  try {
    return await runStudy({
      ...opts,
      concurrency: Number.MAX_SAFE_INTEGER,
      dispatchStatus: 'queued',
      keepGoing: true,
      runCell: async (o, cell) => remoteCell(await (conn ??= connect()), (studyId ??= ensureQueueFile(opts.out, opts.queue).studyId), opts, o, cell),
    });
  } finally {
    clearInterval(ticker);
    if (conn) {
      const c = await conn.catch(() => undefined);
      await c?.events.close().catch(() => undefined);
      await c?.queue.close().catch(() => undefined);
    }
  }
}

function jobData(studyId: string, out: string, o: DistillOptions, cell: CellKey): CellJob {
  const rec = readTeacherRecord(o.teacherDir);
  const cfg = distillConfigFor(o, rec.dataset);
  const student = studentArchOf(o, rec.arch);
  const files: Record<string, string> = {};
  for (const f of [TEACHER_RECORD, rec.weightsFile]) files[f] = fs.readFileSync(path.join(o.teacherDir, f)).toString('base64');
  return {
    version: queueVersion(),
    studyId,
    studyDir: path.resolve(out),
    cell,
    runDir: cellDirName(cell),
    student,
    method: o.method,
    overrides: (o.overrides ?? {}) as Record<string, unknown>,
    configHash: runConfigHash(cfg, rec.weightsSha256, student),
    dataPath: o.dataPath ? path.resolve(o.dataPath) : undefined,
    teacher: { dir: path.resolve(o.teacherDir), weightsSha256: rec.weightsSha256, files },
  };
}

/** Adds the cell's job unless an equivalent one is waiting, running or finished. */
async function submit(c: Conn, jobId: string, data: CellJob): Promise<void> {
  const prev = await c.queue.getJob(jobId);
  if (prev) {
    const state = await c.queue.getJobState(jobId);
    const same = prev.data?.configHash === data.configHash;
    const replace = state === 'failed' || (state === 'completed' && !same) || (state !== 'active' && state !== 'completed' && (!same || prev.data?.version !== data.version));
    if (!replace) return;
    await prev.remove();
  }
  await c.queue.add(JOB_NAME, data, { jobId, attempts: 1, removeOnComplete: { age: KEEP_SECONDS }, removeOnFail: { age: KEEP_SECONDS } });
}

async function remoteCell(c: Conn, studyId: string, opts: QueueStudyOptions, o: DistillOptions, cell: CellKey): Promise<DistillResult> {
  const data = jobData(studyId, opts.out, o, cell);
  const jobId = cellJobId(studyId, cell);
  await submit(c, jobId, data);
  for (;;) {
    if (opts.shouldStop?.()) return { stopped: true, iteration: 0 };
    const state = await c.queue.getJobState(jobId);
    if (state === 'completed') {
      const job = await c.queue.getJob(jobId);
      const r = CellJobResult.safeParse(job?.returnvalue);
      if (!r.success) throw new DfkdError(`job ${jobId} returned an invalid result: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'EPAYLOAD');
      if (r.data.configHash !== data.configHash) throw new DfkdError(`job ${jobId} ran config ${r.data.configHash}, expected ${data.configHash}`, 'ECONFIG');
      const summary = storeResult(o, r.data, data);
      // Stored in the study directory: the job (teacher copy, result files) no longer needs Redis memory.
      await job?.remove().catch(() => undefined);
      opts.onRemoteDone?.({ cell, host: r.data.worker.host, shared: r.data.shared, resumed: r.data.resumed });
      return { summary, stopped: false, iteration: summary.iterations };
    }
    if (state === 'failed') {
      const job = await c.queue.getJob(jobId);
      throw decodeFailure(job?.failedReason ?? 'failed without a reason');
    }
    if (state === 'unknown') {
      // Removed behind our back (Redis flushed, jobs cleaned): queue it again.
      await submit(c, jobId, data);
      continue;
    }
    await new Promise<void>((resolve) => {
      const set = c.waiters.get(jobId) ?? new Set<() => void>();
      c.waiters.set(jobId, set);
      const done = (): void => {
        clearTimeout(t);
        set.delete(done);
        resolve();
      };
      const t = setTimeout(done, POLL_MS);
      set.add(done);
    });
  }
}

const RESULT_FILE = /^(config\.json|log\.jsonl|summary\.json|student\.safetensors|student\.json|samples\/[\w.-]+\.png)$/;

/**
 * Writes a finished cell's files into its run directory unless they are there already (a worker that ran
 * in the shared study directory, or an earlier submitter). summary.json goes last: a cell counts as done only
 * once all of its files are in place. The teacher path in config.json and summary.json is the study's.
 */
function storeResult(o: DistillOptions, r: CellJobResult, data: CellJob): DistillSummary {
  const dir = o.out;
  const sumFile = path.join(dir, RUN_FILES.summary);
  const present = (): DistillSummary | undefined => {
    if (!fs.existsSync(sumFile)) return undefined;
    const s = JSON.parse(fs.readFileSync(sumFile, 'utf8')) as DistillSummary;
    return s.configHash === data.configHash ? s : undefined;
  };
  const have = present();
  if (have) return have;
  if (!r.files[RUN_FILES.summary]) {
    throw new DfkdError(
      r.shared
        ? `the worker on ${r.worker.host} ran ${data.runDir} in the shared study directory, but its summary.json is not in ${dir}`
        : `job for ${data.runDir} returned no summary.json`,
      'EPAYLOAD',
    );
  }
  const teacherDir = path.resolve(o.teacherDir);
  const names = Object.keys(r.files).filter((n) => n !== RUN_FILES.summary);
  for (const name of names) {
    if (!RESULT_FILE.test(name)) throw new DfkdError(`job for ${data.runDir} returned an unexpected file '${name}'`, 'EPAYLOAD');
  }
  fs.rmSync(path.join(dir, RUN_FILES.checkpoints), { recursive: true, force: true });
  for (const name of names) {
    const buf = Buffer.from(r.files[name], 'base64');
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    if (name === RUN_FILES.config) {
      const cfg = JSON.parse(buf.toString('utf8')) as { teacher?: { dir?: string } };
      if (cfg.teacher) cfg.teacher.dir = teacherDir;
      writeJsonAtomic(path.join(dir, name), cfg);
    } else {
      writeFileAtomic(path.join(dir, name), buf);
    }
  }
  const summary = JSON.parse(Buffer.from(r.files[RUN_FILES.summary], 'base64').toString('utf8')) as DistillSummary;
  summary.teacher.dir = teacherDir;
  writeJsonAtomic(sumFile, summary);
  return summary;
}

// --status -------------------------------------------------------------------------------------------

export type ShownStatus = 'pending' | 'queued' | 'running' | 'done' | 'failed' | 'stopped';

export interface CellStatusLine {
  cell: CellKey;
  runDir: string;
  status: ShownStatus;
  detail?: string;
}

/** The cells of a study and where they stand: from the queue when given, else from the study directory. */
export async function studyStatus(out: string, q?: QueueUrl): Promise<{ source: string; cells: CellStatusLine[] }> {
  const f = path.join(out, STATE_FILE);
  if (!fs.existsSync(f)) throw new DfkdError(`'${out}' holds no study (no ${STATE_FILE})`, 'ENOENT');
  const state = JSON.parse(fs.readFileSync(f, 'utf8')) as StudyState;
  const local = (c: StudyState['cells'][number]): CellStatusLine => {
    const done = fs.existsSync(path.join(out, c.runDir, RUN_FILES.summary));
    const status: ShownStatus = done ? 'done' : c.status;
    const detail = done ? (c.finalAccuracy !== undefined ? `final ${(100 * c.finalAccuracy).toFixed(2)}%` : undefined) : c.error;
    return { cell: { teacherId: c.teacherId, methodId: c.methodId, seed: c.seed }, runDir: c.runDir, status, detail };
  };
  if (!q) return { source: `${path.join(out, STATE_FILE)} (updated ${state.updatedAt})`, cells: state.cells.map(local) };
  const qf = readQueueFile(out);
  if (!qf) throw new DfkdError(`study '${out}' was never submitted to a queue (no ${path.join(out, 'queue.json')}); omit --queue to see its local status`, 'EUSAGE');
  await probeQueue(q);
  const { Queue } = await import('bullmq');
  const queue = new Queue(QUEUE_NAME, { connection: q.connection });
  queue.on('error', () => undefined);
  try {
    const cells: CellStatusLine[] = [];
    for (const c of state.cells) {
      const line = local(c);
      const id = cellJobId(qf.studyId, line.cell);
      const js = await queue.getJobState(id);
      if (js === 'active') {
        const job = await queue.getJob(id);
        const p = job?.progress as { iteration?: number; iterations?: number } | undefined;
        line.status = 'running';
        line.detail = p?.iteration !== undefined ? `iteration ${p.iteration}/${p.iterations}` : undefined;
      } else if (js === 'completed') {
        line.status = 'done';
        if (!line.detail) {
          const r = (await queue.getJob(id))?.returnvalue as CellJobResult | undefined;
          line.detail = `${typeof r?.finalAccuracy === 'number' ? `final ${(100 * r.finalAccuracy).toFixed(2)}%, ` : ''}not yet collected by the submitter`;
        }
      } else if (js === 'failed') {
        line.status = 'failed';
        line.detail = decodeFailure((await queue.getJob(id))?.failedReason ?? '').message;
      } else if (js !== 'unknown') {
        line.status = 'queued';
        line.detail = undefined;
      } else if (line.status !== 'done') {
        line.detail = 'not in the queue';
      }
      cells.push(line);
    }
    return { source: `queue ${q.display} (study ${qf.studyId})`, cells };
  } finally {
    await queue.close().catch(() => undefined);
  }
}
