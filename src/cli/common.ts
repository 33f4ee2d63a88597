/** Shared CLI plumbing: option parsing helpers and the error boundary. */
import { InvalidArgumentError } from 'commander';
import type { z } from 'zod';
import { DfkdError } from '../errors';
import { readJson, checkJsonShape } from '../io/json';

export function parseIntArg(name: string) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be an integer, got '${v}'`);
    if (!Number.isSafeInteger(Number(v))) throw new InvalidArgumentError(`${name} must be an integer of at most ${Number.MAX_SAFE_INTEGER}, got '${v}'`);
    return Number(v);
  };
}
export function parseNumArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${v}'`);
    return n;
  };
}

/** Reads a JSON config file, naming the file in every error. */
export function readJsonFile(file: string, what = 'config'): unknown {
  const v = readJson(file, `${what} file`, 'ECONFIG');
  checkJsonShape(v, `${what} file '${file}'`);
  return v;
}

/** Runs a command body, turning any error into one line on stderr and exit code 1 (2 for usage errors). */
export async function runCommand(fn: () => void | Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const err = e as Error;
    if (process.env.DFKD_DEBUG === '1') console.error(err.stack);
    const msg = err instanceof DfkdError ? err.message : `${err.message}`;
    process.stderr.write(`dfkd: error: ${msg}\n`);
    process.exitCode = err instanceof DfkdError && err.code === 'EUSAGE' ? 2 : 1;
  }
}

/** Help text of the --device option shared by the commands that compute. */
export const DEVICE_HELP = "where to compute: cpu (default), cuda or cuda:N (needs an addon built against a CUDA-enabled libtorch: docs/gpu.md)";

export function pct(v: number): string {
  return `${(100 * v).toFixed(2)}%`;
}

/**
 * The typed options of a command: commander's parsed options checked against the command's zod schema
 * (a mismatch is a bug in the command's declaration, reported as a usage error naming the option).
 */
export function typedOptions<S extends z.ZodTypeAny>(schema: S, raw: unknown, command: string): z.infer<S> {
  const r = schema.safeParse(raw);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `--${String(i.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`).join('; ');
    throw new DfkdError(`dfkd ${command}: ${msg}`, 'EUSAGE');
  }
  return r.data;
}

/** `--on-nan stop|rollback` (distill and study). */
export function parseOnNan(v: string): 'stop' | 'rollback' {
  if (v !== 'stop' && v !== 'rollback') throw new InvalidArgumentError(`--on-nan must be 'stop' or 'rollback', got '${v}'`);
  return v;
}
