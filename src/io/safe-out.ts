/**
 * Output locations, checked before anything is written (issue 15):
 *   - `checkOutputDir`: an output directory must be (or be creatable inside) a writable directory of
 *     an ordinary filesystem. Pseudo filesystems (/proc, /sys, ...) are refused at once: Node's
 *     recursive mkdir spins forever inside /proc, ignoring SIGINT and SIGTERM.
 *   - `assertOwnOrEmpty`: a command writes only into an empty directory or one holding its own output.
 *   - `checkOutputFile`: a single output file (ONNX export): its directory must exist, and an existing
 *     file is replaced only when asked to (--force).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DfkdError } from '../errors';

/** statfs magic numbers of pseudo filesystems that hold no user files. */
const PSEUDO_FS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0xcafe4a11, 'bpf'],
  [0x6165676c, 'pstore'],
  [0x42494e4d, 'binfmt_misc'],
  [0x19800202, 'mqueue'],
]);

/** Temporary files of interrupted atomic writes (src/io/atomic.ts) count as a command's own output. */
const TEMP_FILE = /\.tmp-\d+-[0-9a-f]{12}$/;

function code(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? 'EIO';
}

/** The path itself if it exists, else its nearest existing ancestor. */
function nearestExisting(abs: string): string {
  let p = abs;
  while (!fs.existsSync(p)) {
    const up = path.dirname(p);
    if (up === p) break;
    p = up;
  }
  return p;
}

/** Throws when `existing` (an existing directory) lies on a pseudo filesystem or cannot be written. */
function checkWritableDir(existing: string, what: string): void {
  let type: number | undefined;
  try {
    type = fs.statfsSync(existing).type;
  } catch {
    type = undefined; // statfs unsupported: the access check below still runs
  }
  const fsName = type === undefined ? undefined : PSEUDO_FS.get(type);
  if (fsName) throw new DfkdError(`${what}: '${existing}' is on the ${fsName} pseudo filesystem, which cannot hold dfkd output; choose a directory on a normal disk`, 'EBADOUT');
  try {
    fs.accessSync(existing, fs.constants.W_OK);
  } catch (e) {
    throw new DfkdError(`${what}: directory '${existing}' is not writable (${code(e)}); choose another location`, code(e));
  }
}

/**
 * Checks that `dir` can be used (or created) as an output directory: it is a directory or does not
 * exist yet, its nearest existing ancestor is a writable directory on an ordinary filesystem. Writes
 * nothing. `flag` names the option in messages (default --out).
 */
export function checkOutputDir(dir: string, flag = '--out'): void {
  const abs = path.resolve(dir);
  const existing = nearestExisting(abs);
  const what = `${flag} '${dir}'`;
  if (!fs.statSync(existing).isDirectory()) {
    const why = existing === abs ? 'is a file, not a directory' : `cannot be created: '${existing}' is a file, not a directory`;
    throw new DfkdError(`${what} ${why}; choose a directory`, 'ENOTDIR');
  }
  checkWritableDir(existing, what);
}

/** `checkOutputDir`, then creates the directory (and its parents). */
export function makeOutputDir(dir: string, flag = '--out'): void {
  checkOutputDir(dir, flag);
  fs.mkdirSync(dir, { recursive: true });
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 5).map((n) => `'${n}'`).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

/**
 * Refuses an existing, non-empty `dir` unless every entry in it is the command's own (`own(name)`;
 * temporary files of interrupted writes always are). `what` describes the command's output, e.g.
 * 'a dfkd teacher'. Nothing is touched.
 */
export function assertOwnOrEmpty(dir: string, own: (name: string) => boolean, what: string, flag = '--out'): void {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return;
  const foreign = fs.readdirSync(dir).filter((n) => !own(n) && !TEMP_FILE.test(n)).sort();
  if (foreign.length > 0) {
    throw new DfkdError(`output directory '${dir}' is not empty and does not hold ${what} (it has ${listNames(foreign)}); nothing was written: choose another ${flag} or empty it`, 'EEXIST');
  }
}

/**
 * Checks an output file path: its directory must already exist (it is not created) and be writable,
 * and an existing file is refused unless `force`. `flag` names the option in messages.
 */
export function checkOutputFile(file: string, force: boolean, flag = '--out'): void {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const what = `${flag} '${file}'`;
  if (!fs.existsSync(dir)) throw new DfkdError(`${what}: directory '${dir}' does not exist (it is not created); create it first or choose another path`, 'ENOENT');
  if (!fs.statSync(dir).isDirectory()) throw new DfkdError(`${what}: '${dir}' is a file, not a directory`, 'ENOTDIR');
  checkWritableDir(dir, what);
  if (fs.existsSync(abs)) {
    if (fs.statSync(abs).isDirectory()) throw new DfkdError(`${what} is a directory; give a file name`, 'EISDIR');
    if (!force) throw new DfkdError(`${what} already exists; pass --force to overwrite it`, 'EEXIST');
  }
}
