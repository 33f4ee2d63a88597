/**
 * Progress display for long work: a cli-progress bar on a terminal, and a plain line every few
 * seconds otherwise (CI logs, pipes), so that logs stay readable.
 */
import * as cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

export function createProgress(label: string, total: number, fieldNames: string[] = []): Progress {
  const quiet = process.env.DFKD_QUIET === '1';
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    const extra = fieldNames.map((f) => `${f} {${f}}`).join(' | ');
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted}${extra ? ' | ' + extra : ''}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const empty = Object.fromEntries(fieldNames.map((f) => [f, '-']));
    bar.start(total, 0, empty);
    return { update: (v, f) => bar.update(v, f ?? {}), stop: () => bar.stop() };
  }
  const start = Date.now();
  let lastPrint = 0;
  return {
    update(v, f) {
      const now = Date.now();
      if (now - lastPrint < 10000 && v < total) return;
      lastPrint = now;
      const el = (now - start) / 1000;
      const eta = v > 0 ? (el * (total - v)) / v : NaN;
      const fs = f ? Object.entries(f).map(([k, x]) => `${k} ${x}`).join(' | ') : '';
      process.stderr.write(`${label} ${v}/${total} | ${el.toFixed(0)}s elapsed, ETA ${Number.isFinite(eta) ? eta.toFixed(0) + 's' : '-'}${fs ? ' | ' + fs : ''}\n`);
    },
    stop() {},
  };
}

/** Formats a number for a progress field. */
export function fmt(v: number, digits = 3): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}
