/**
 * The queue protocol shared by `dfkd study --queue` (src/study/queue-submit.ts) and `dfkd worker`
 * (src/study/queue-worker.ts): the Redis URL, the BullMQ queue name and job options, the job payload and
 * result (validated with zod on both sides: they cross machines and versions), and the version check.
 *
 * One job per study cell; the job id is the cell id (`<studyId>.<teacher>.<method>.seed-<n>`), so submitting
 * the same study twice adds nothing twice. `studyId` is a random id kept in `<study>/queue.json`: two studies
 * with the same preset do not share jobs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { z } from 'zod';
import type { ConnectionOptions } from 'bullmq';
import { DfkdError } from '../errors';
import { DFKD_VERSION } from '../versions';
import { writeJsonAtomic } from '../io/atomic';
import { RUN_FILES } from '../io/run-dir';

/** Bumped whenever the job payload or result changes shape. */
export const QUEUE_PROTOCOL = 1;
export const QUEUE_NAME = 'dfkd-study-cells';
export const JOB_NAME = 'cell';
/** `<study>/queue.json`: the study's queue identity (shared-storage workers look for it too). */
export const QUEUE_FILE = 'queue.json';

/**
 * The version a submitter stamps on its jobs and a worker requires: package version + protocol.
 * DFKD_VERSION_OVERRIDE replaces it (a test hook: it lets a test act as a submitter of another version).
 */
export function queueVersion(): string {
  return process.env.DFKD_VERSION_OVERRIDE || `${DFKD_VERSION}+queue.${QUEUE_PROTOCOL}`;
}

/**
 * Lock and stall settings. A worker renews its job lock every lockDuration / 2; a job whose lock expired
 * (its worker died) is moved back to the queue by the next stalled-job check of any worker. 30 s by
 * default; tests shorten it with DFKD_QUEUE_LOCK_MS.
 */
export function lockSettings(): { lockDuration: number; stalledInterval: number; maxStalledCount: number } {
  const raw = process.env.DFKD_QUEUE_LOCK_MS;
  const ms = raw === undefined || raw === '' ? 30_000 : Number(raw);
  if (!Number.isInteger(ms) || ms < 500) throw new DfkdError(`DFKD_QUEUE_LOCK_MS must be an integer >= 500 (milliseconds), got '${raw}'`, 'EUSAGE');
  // A cell may lose its worker several times (preemptible machines) before it is given up.
  return { lockDuration: ms, stalledInterval: Math.max(250, Math.round(ms / 2)), maxStalledCount: 5 };
}

// Redis URL --------------------------------------------------------------------------------------

export interface QueueUrl {
  /** The URL with any password replaced by '***' (for messages and state files). */
  display: string;
  connection: { host: string; port: number; username?: string; password?: string; db?: number; tls?: object };
}

/** Parses redis://[user:password@]host[:port][/db] (rediss:// for TLS). Throws EUSAGE with an example. */
export function parseQueueUrl(url: string): QueueUrl {
  const usage = (why: string): DfkdError =>
    new DfkdError(`--queue must be a Redis URL like redis://HOST:PORT or redis://:PASSWORD@HOST:PORT/DB (${why}), got '${redact(url)}'`, 'EUSAGE');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usage('not a URL');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw usage(`scheme '${u.protocol}' is not redis: or rediss:`);
  if (!u.hostname) throw usage('no host');
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbPart = u.pathname.replace(/^\//, '');
  if (dbPart !== '' && !/^\d+$/.test(dbPart)) throw usage(`database '${dbPart}' is not a number`);
  if (u.search || u.hash) throw usage('query strings and fragments are not supported');
  const connection: QueueUrl['connection'] = { host: u.hostname.replace(/^\[|\]$/g, ''), port };
  if (u.username) connection.username = decodeURIComponent(u.username);
  if (u.password) connection.password = decodeURIComponent(u.password);
  if (dbPart !== '') connection.db = Number(dbPart);
  if (u.protocol === 'rediss:') connection.tls = {};
  return { display: redact(url), connection };
}

function redact(url: string): string {
  return url.replace(/^(\w+:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}

/**
 * Connects once with no retries and a short timeout, so a wrong or unreachable URL fails in seconds
 * (ioredis, under BullMQ, would otherwise retry forever). The long-lived connections opened afterwards
 * keep BullMQ's defaults: they should survive a Redis restart.
 */
export async function probeQueue(q: QueueUrl, timeoutMs = 3000): Promise<void> {
  const { Queue } = await import('bullmq');
  const probe = new Queue(QUEUE_NAME, {
    connection: { ...q.connection, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, lazyConnect: false } as ConnectionOptions,
  });
  probe.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.waitUntilReady(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs + 500))),
    ]);
  } catch (e) {
    const msg = (e as Error).message;
    if (/NOAUTH|WRONGPASS|invalid password/i.test(msg)) {
      throw new DfkdError(`Redis at ${q.display} refused the login: ${msg} (give the password in the URL: redis://:PASSWORD@HOST:PORT)`, 'EQUEUE');
    }
    throw new DfkdError(`cannot reach Redis at ${q.display}: ${msg} (is redis-server running there, and is the URL right?)`, 'EQUEUE');
  } finally {
    clearTimeout(timer);
    await probe.close().catch(() => undefined);
  }
}

// Study identity -----------------------------------------------------------------------------------

export interface QueueStudyFile {
  kind: 'dfkd-queue-study';
  studyId: string;
  queue: string;
  createdAt: string;
}

export function readQueueFile(studyDir: string): QueueStudyFile | undefined {
  const f = path.join(studyDir, QUEUE_FILE);
  if (!fs.existsSync(f)) return undefined;
  try {
    const q = JSON.parse(fs.readFileSync(f, 'utf8')) as QueueStudyFile;
    return q.kind === 'dfkd-queue-study' && typeof q.studyId === 'string' ? q : undefined;
  } catch {
    return undefined;
  }
}

/** The study's queue id: read from queue.json, or created there on the first submission. */
export function ensureQueueFile(studyDir: string, q: QueueUrl): QueueStudyFile {
  const prev = readQueueFile(studyDir);
  if (prev) return prev;
  const f: QueueStudyFile = { kind: 'dfkd-queue-study', studyId: randomBytes(6).toString('hex'), queue: q.display, createdAt: new Date().toISOString() };
  fs.mkdirSync(studyDir, { recursive: true });
  writeJsonAtomic(path.join(studyDir, QUEUE_FILE), f);
  return f;
}

/** The job id of a cell (BullMQ ids may not contain ':'). */
export { cellJobId } from '../io/run-dir';

// Payload and result -----------------------------------------------------------------------------

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');

/** Everything a worker needs to run one cell, whether or not it can see the study directory. */
export const CellJob = z.object({
  version: z.string(),
  studyId: z.string().regex(/^[\w-]+$/),
  /** The study directory on the submitter's machine (absolute): used in place when a worker can see it. */
  studyDir: z.string(),
  cell: z.object({ teacherId: z.string(), methodId: z.string(), seed: z.number().int() }),
  /** The cell's run directory relative to the study directory (cells/<teacher>/<method>/seed-<n>). */
  runDir: z.string().refine((p) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..'), 'a relative path inside the study'),
  student: z.string(),
  method: z.string(),
  /** The cell's config overrides (validated again by resolveConfig on the worker). */
  overrides: z.record(z.unknown()),
  /** The config hash the submitter expects (the worker checks its run against it). */
  configHash: z.string(),
  dataPath: z.string().optional(),
  teacher: z.object({
    /** The teacher directory on the submitter (absolute). */
    dir: z.string(),
    weightsSha256: z.string(),
    /** teacher.json and the weights file, base64, for workers that cannot see `dir`. */
    files: z.record(b64),
  }),
});
export type CellJob = z.infer<typeof CellJob>;

/** What a worker returns: the finished run's small files (base64), so any submitter can store them. */
export const CellJobResult = z.object({
  version: z.string(),
  worker: z.object({ host: z.string(), pid: z.number() }),
  /** True when the worker ran in the submitter's study directory (the files are already there). */
  shared: z.boolean(),
  resumed: z.boolean(),
  configHash: z.string(),
  finalAccuracy: z.number().nullable(),
  /**
   * Run-directory-relative path -> base64 content (config.json, log.jsonl, summary.json, student files,
   * samples); empty when `shared` (the files are in the study directory).
   */
  files: z.record(b64),
});
export type CellJobResult = z.infer<typeof CellJobResult>;

/** Failure reasons carry the DfkdError code as a '[CODE] ' prefix (BullMQ keeps only the message). */
export function encodeFailure(e: unknown): Error {
  const code = e instanceof DfkdError ? e.code : 'EWORKER';
  return new Error(`[${code}] ${(e as Error)?.message ?? String(e)}`);
}

export function decodeFailure(reason: string): DfkdError {
  const m = /^\[(\w+)\] ([\s\S]*)$/.exec(reason);
  return m ? new DfkdError(m[2], m[1]) : new DfkdError(reason, 'EWORKER');
}

/** The files of a run directory a result carries (samples only while they stay small). */
export function collectRunFiles(runDir: string, maxSampleBytes = 2 << 20): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of [RUN_FILES.config, RUN_FILES.log, RUN_FILES.studentWeights, RUN_FILES.studentRecord, RUN_FILES.summary]) {
    const p = path.join(runDir, f);
    if (fs.existsSync(p)) files[f] = fs.readFileSync(p).toString('base64');
  }
  const samples = path.join(runDir, RUN_FILES.samples);
  if (fs.existsSync(samples)) {
    let budget = maxSampleBytes;
    for (const f of fs.readdirSync(samples).sort().reverse()) {
      const buf = fs.readFileSync(path.join(samples, f));
      if (buf.length > budget) break;
      budget -= buf.length;
      files[`${RUN_FILES.samples}/${f}`] = buf.toString('base64');
    }
  }
  return files;
}
