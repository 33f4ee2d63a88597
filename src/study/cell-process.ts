/**
 * Child-process entry of `dfkd study --jobs N` (src/study/fork-runner.ts): runs one cell with runDistill in
 * its own process, so that its engine threads and seeded random stream are its own, and reports back over
 * IPC: progress, evaluations and warnings as they happen, then the result or the error. A 'stop' message
 * makes the cell checkpoint and stop at the end of its iteration, as Ctrl-C does in a one-process study.
 */
import { runDistill, type DistillOptions } from '../distill/run';
import { DfkdError } from '../errors';

/** What the parent sends: the cell's options without their callbacks. */
export type CellRequest = { type: 'run'; opts: Omit<DistillOptions, 'onProgress' | 'onEval' | 'onWarn' | 'shouldStop'> } | { type: 'stop' };
/** What the child sends back. */
export type CellReply =
  | { type: 'progress'; p: Parameters<NonNullable<DistillOptions['onProgress']>>[0] }
  | { type: 'eval'; e: Parameters<NonNullable<DistillOptions['onEval']>>[0] }
  | { type: 'warn'; message: string }
  | { type: 'done'; result: Awaited<ReturnType<typeof runDistill>> }
  | { type: 'error'; message: string; code?: string };

function send(m: CellReply): void {
  process.send?.(m);
}

let stop = false;
process.on('message', (m: CellRequest) => {
  if (m.type === 'stop') stop = true;
  else void run(m.opts);
});
// The parent is gone (killed, crashed): checkpoint and stop rather than run on as an orphan.
process.on('disconnect', () => {
  stop = true;
});
// Ctrl-C reaches the whole process group: the parent decides (it sends 'stop'); this process only makes sure
// that the signal does not kill it mid-iteration, so its cell checkpoints and stops cleanly.
process.on('SIGINT', () => {
  stop = true;
});
process.on('SIGTERM', () => {
  stop = true;
});

async function run(opts: Extract<CellRequest, { type: 'run' }>['opts']): Promise<void> {
  try {
    const result = await runDistill({
      ...opts,
      onProgress: (p) => send({ type: 'progress', p }),
      onEval: (e) => send({ type: 'eval', e }),
      onWarn: (message) => send({ type: 'warn', message }),
      shouldStop: () => stop,
    });
    send({ type: 'done', result });
  } catch (e) {
    send({ type: 'error', message: (e as Error).message, code: e instanceof DfkdError ? e.code : undefined });
  } finally {
    process.disconnect?.();
  }
}
