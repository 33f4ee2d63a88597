/**
 * Crash-safe file writes: data goes to a temporary sibling file which is
 * fsync'ed and then renamed over the target, so readers see either the old or
 * the new content, never a partial file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DfkdError } from '../errors';

/** Error codes returned by filesystems that cannot fsync a directory; safe to ignore. */
const DIR_FSYNC_IGNORABLE = new Set(['EINVAL', 'EISDIR', 'EPERM', 'EACCES', 'ENOTSUP', 'EBADF']);

function osCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

function osMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * TEST HOOK (fault injection, not for normal use): `DFKD_TEST_ENOSPC=SUBSTRING[@N]` makes the N-th
 * (default: every) atomic write whose target path contains SUBSTRING fail with ENOSPC after part of
 * the temporary file was written, exactly as a full disk would. Used by test/reliability.test.ts.
 */
let enospcHits = 0;
function injectedEnospc(filePath: string): boolean {
  const spec = process.env.DFKD_TEST_ENOSPC;
  if (!spec) return false;
  const at = spec.lastIndexOf('@');
  const needle = at > 0 ? spec.slice(0, at) : spec;
  const nth = at > 0 ? Number(spec.slice(at + 1)) : 0;
  if (!filePath.includes(needle)) return false;
  enospcHits += 1;
  return nth === 0 || enospcHits === nth;
}

/** Best-effort fsync of a directory so that a rename inside it is durable. */
function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    if (!DIR_FSYNC_IGNORABLE.has(osCode(err))) throw err;
  } finally {
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch { /* ignore */ }
    }
  }
}

/**
 * Atomically replace `filePath` with `data` (synchronous).
 *
 * Writes `filePath.tmp-<pid>-<random>`, fsyncs it, renames it over the target
 * and fsyncs the containing directory. On failure the temporary file is
 * removed and a DfkdError is thrown whose message names the path and the OS
 * error code (code property = the OS code, e.g. 'ENOSPC').
 */
export function writeFileAtomic(filePath: string, data: Buffer | Uint8Array | string): void {
  const tmp = `${filePath}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number | undefined;
  let renamed = false;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    if (injectedEnospc(filePath)) {
      fs.writeSync(fd, bytes, 0, Math.floor(bytes.byteLength / 2));
      throw Object.assign(new Error(`ENOSPC: no space left on device, write (injected by DFKD_TEST_ENOSPC)`), { code: 'ENOSPC' });
    }
    while (off < bytes.byteLength) {
      off += fs.writeSync(fd, bytes, off, bytes.byteLength - off);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, filePath);
    renamed = true;
    fsyncDir(path.dirname(path.resolve(filePath)));
  } catch (err) {
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch { /* ignore */ }
    }
    if (!renamed) {
      try { fs.unlinkSync(tmp); } catch { /* temp file may not exist */ }
    }
    const code = osCode(err);
    if (code === 'ENOSPC') {
      throw new DfkdError(`disk full while writing '${filePath}' (ENOSPC): free some space and retry`, code);
    }
    throw new DfkdError(`cannot write '${filePath}': ${code}: ${osMessage(err)}`, code);
  }
}

/** Removes the temporary files that writes interrupted by a crash left in `dir` (not recursive). */
export function removeStaleTemps(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const f of names) if (/\.tmp-\d+-[0-9a-f]{12}$/.test(f)) fs.rmSync(path.join(dir, f), { force: true });
}

/** Atomically write `obj` as pretty-printed JSON (2-space indent) followed by a newline. */
export function writeJsonAtomic(filePath: string, obj: unknown): void {
  const text = JSON.stringify(obj, null, 2);
  if (text === undefined) {
    throw new DfkdError(`cannot write '${filePath}': value of type ${typeof obj} is not JSON-serialisable`);
  }
  writeFileAtomic(filePath, text + '\n');
}
