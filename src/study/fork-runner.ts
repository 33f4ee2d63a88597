/**
 * `dfkd study --jobs N`: each cell in a child process of its own (src/study/cell-process.ts) with
 * `threads` engine threads, N at a time. On 2 cores two 1-thread cells do about 1.4x the work of one
 * 2-thread cell (docs/benchmarks.md): a single cell's ops are too small to keep both cores busy. The
 * engine's thread count changes a run's last bits, so a cell run with other threads is another
 * (reproducible) run.
 */
import { fork } from 'child_process';
import * as path from 'path';
import { DfkdError } from '../errors';
import type { CellRunner } from './run';
import type { CellReply, CellRequest } from './cell-process';

/** A CellRunner that forks one process per cell with DFKD_NUM_THREADS = threads. */
export function forkCellRunner(threads: number): CellRunner {
  return (opts) =>
    new Promise((resolve, reject) => {
      const { onProgress, onEval, onWarn, shouldStop, ...plain } = opts;
      const child = fork(path.join(__dirname, 'cell-process.js'), [], { env: { ...process.env, DFKD_NUM_THREADS: String(threads) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      let settled = false;
      const finish = (f: () => void): void => {
        if (settled) return;
        settled = true;
        clearInterval(poll);
        f();
      };
      // Ctrl-C in the parent: the child checkpoints at the end of its iteration and replies 'done' (stopped).
      const poll = setInterval(() => {
        if (shouldStop?.() && child.connected) child.send({ type: 'stop' } satisfies CellRequest);
      }, 500);
      child.on('message', (m: CellReply) => {
        if (m.type === 'progress') onProgress?.(m.p);
        else if (m.type === 'eval') onEval?.(m.e);
        else if (m.type === 'warn') onWarn?.(m.message);
        else if (m.type === 'done') finish(() => resolve(m.result));
        else finish(() => reject(new DfkdError(m.message, m.code ?? 'ECELL')));
      });
      child.on('error', (e) => finish(() => reject(e)));
      // 'close' (not 'exit'): by then every message the child sent has been delivered.
      child.on('close', (code, signal) => finish(() => reject(new DfkdError(`cell ${opts.out}: its process ended (${signal ?? `exit code ${code}`}) without a result`, 'ECELL'))));
      child.send({ type: 'run', opts: plain } satisfies CellRequest);
    });
}
