/**
 * The job processor of `dfkd worker`. BullMQ runs it in a child process of the worker (a "sandboxed
 * processor"), one process per concurrent job: the seeded RNG of the engine is process-wide, so two cells
 * in one process would interleave their random streams and lose determinism, and the worker's main process
 * stays free to renew job locks while a cell computes.
 *
 * Where the cell runs: in the submitter's study directory when this machine can see it (its queue.json holds
 * the job's studyId): the run then continues from the cell's checkpoint after a worker died. Otherwise in
 * the worker's own directory (DFKD_WORKER_DIR), with the teacher written from the job's copy.
 *
 * Settings come from the worker process through the environment (the child inherits it):
 *   DFKD_WORKER_DIR        local work directory      DFKD_WORKER_SHARED   'auto' (default) or 'never'
 *   DFKD_WORKER_DATA_PATH  overrides the job's data path
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { SandboxedJob } from 'bullmq';
import { DfkdError } from '../errors';
import { runDistill } from '../distill/run';
import { sha256File } from '../io/weights';
import { CellJob, CellJobResult, collectRunFiles, encodeFailure, queueVersion, readQueueFile } from './queue';
import { RUN_FILES } from '../io/run-dir';
import { TEACHER_RECORD } from '../train/teacher';

// When the worker process dies (SIGKILL, machine gone) the IPC channel closes: checkpoint and exit rather
// than run on as an orphan while another worker takes the job over.
let parentGone = false;
process.on('disconnect', () => {
  parentGone = true;
});

function workerDir(): string {
  return process.env.DFKD_WORKER_DIR || path.join(os.tmpdir(), `dfkd-worker-${os.userInfo().uid}`);
}

/** The teacher directory to use: the submitter's when visible and intact, else a local copy from the job. */
function teacherDirFor(job: CellJob, shared: boolean): string {
  const t = job.teacher;
  if (shared) return t.dir;
  const dir = path.join(workerDir(), 'teachers', t.weightsSha256);
  if (fs.existsSync(path.join(dir, TEACHER_RECORD))) return dir;
  // Written to a temporary sibling and renamed: concurrent jobs with the same teacher never see half a copy.
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  for (const [name, data] of Object.entries(t.files)) {
    if (name.includes('/') || name.includes('\\') || name.startsWith('.')) throw new DfkdError(`job teacher file name '${name}' is not a plain file name`, 'EPAYLOAD');
    fs.writeFileSync(path.join(tmp, name), Buffer.from(data, 'base64'));
  }
  const rec = JSON.parse(fs.readFileSync(path.join(tmp, TEACHER_RECORD), 'utf8')) as { weightsFile: string };
  if (sha256File(path.join(tmp, rec.weightsFile)) !== t.weightsSha256) throw new DfkdError(`the teacher weights sent with the job do not match their SHA-256 ${t.weightsSha256}`, 'ECORRUPT');
  try {
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(dir, TEACHER_RECORD))) throw e;
  }
  return dir;
}

function canSeeStudy(job: CellJob): boolean {
  if (process.env.DFKD_WORKER_SHARED === 'never') return false;
  const q = readQueueFile(job.studyDir);
  if (q?.studyId !== job.studyId) return false;
  try {
    const rec = JSON.parse(fs.readFileSync(path.join(job.teacher.dir, TEACHER_RECORD), 'utf8')) as { weightsSha256?: string };
    return rec.weightsSha256 === job.teacher.weightsSha256;
  } catch {
    return false;
  }
}

/** The job's payload, after checking that it was submitted by this dfkd version (a job of another version may not even parse). */
function parseCellJob(job: SandboxedJob): CellJob {
  const theirs = (job.data as { version?: unknown } | undefined)?.version;
  const mine = queueVersion();
  if (theirs !== mine) {
    throw new DfkdError(
      `version mismatch: job ${job.id} was submitted by dfkd ${String(theirs)} but this worker (${os.hostname()}) runs dfkd ${mine}; ` +
        'run workers and the submitter from the same dfkd version, then submit again to retry the cell',
      'EVERSION',
    );
  }
  const parsed = CellJob.safeParse(job.data);
  if (!parsed.success) throw new DfkdError(`invalid job payload for ${job.id}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'EPAYLOAD');
  return parsed.data;
}

/** A run's progress callback that reports to the job at most once a second (and at the last iteration). */
function jobProgress(job: SandboxedJob): (p: { iteration: number; iterations: number }) => void {
  let lastReport = 0;
  return (p) => {
    const now = Date.now();
    if (now - lastReport < 1000 && p.iteration < p.iterations) return;
    lastReport = now;
    void Promise.resolve(job.updateProgress({ iteration: p.iteration, iterations: p.iterations })).catch(() => undefined);
  };
}

/** Runs one cell job; throws errors whose message starts with '[CODE] '. */
export default async function processCell(job: SandboxedJob): Promise<CellJobResult> {
  try {
    const data = parseCellJob(job);
    const mine = queueVersion();
    const shared = canSeeStudy(data);
    const out = shared ? path.join(data.studyDir, data.runDir) : path.join(workerDir(), data.studyId, data.runDir);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const resumed = fs.existsSync(path.join(out, RUN_FILES.config));
    const res = await runDistill({
      teacherDir: teacherDirFor(data, shared),
      studentArch: data.student,
      method: data.method,
      overrides: data.overrides,
      out,
      dataPath: process.env.DFKD_WORKER_DATA_PATH || data.dataPath,
      resume: true,
      onWarn: (m) => void Promise.resolve(job.log(`warning: ${m}`)).catch(() => undefined),
      onProgress: jobProgress(job),
      shouldStop: () => parentGone,
    });
    if (res.stopped || parentGone) process.exit(1); // checkpointed; the job returns to the queue when its lock expires
    const summary = res.summary!;
    if (summary.configHash !== data.configHash) {
      throw new DfkdError(`cell ${data.runDir} ran with config hash ${summary.configHash} but the submitter expects ${data.configHash} (a different dfkd build?)`, 'ECONFIG');
    }
    return {
      version: mine,
      worker: { host: os.hostname(), pid: process.pid },
      shared,
      resumed,
      configHash: summary.configHash,
      finalAccuracy: Number.isFinite(summary.finalAccuracy) ? summary.finalAccuracy : null,
      // A shared run's files are in the study directory already: no need to send them through Redis.
      files: shared ? {} : collectRunFiles(out),
    };
  } catch (e) {
    throw encodeFailure(e);
  }
}
