/**
 * SIGINT/SIGTERM for long commands (distill, study, worker): the first signal asks for a graceful
 * stop, a later one forces. Repeats of the same signal within `windowMs` (default 1 s) count as one:
 * `timeout` and a terminal send SIGTERM/SIGINT to the process and then to its process group, which
 * Node sees as two signals microseconds apart; counted twice, they skipped the graceful stop.
 */

export const SIGNAL_REPEAT_WINDOW_MS = 1000;

export interface StopSignalHandlers {
  /** The first signal: start a graceful stop. */
  onStop: (signal: string) => void;
  /** A different signal, or the same one after the window: leave at once. */
  onForce: (signal: string) => void;
  windowMs?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

/** The signal logic without the process: call the returned function with each signal's name. */
export function stopSignalDebouncer(h: StopSignalHandlers): (signal: string) => void {
  const windowMs = h.windowMs ?? SIGNAL_REPEAT_WINDOW_MS;
  const now = h.now ?? Date.now;
  let first: { signal: string; at: number } | undefined;
  return (signal) => {
    const t = now();
    if (!first) {
      first = { signal, at: t };
      h.onStop(signal);
      return;
    }
    if (signal === first.signal && t - first.at < windowMs) return; // the same signal delivered twice
    h.onForce(signal);
  };
}

/** Installs the debounced handlers on SIGINT and SIGTERM; returns a function that removes them. */
export function onStopSignals(h: StopSignalHandlers): () => void {
  const handle = stopSignalDebouncer(h);
  const onInt = (): void => handle('SIGINT');
  const onTerm = (): void => handle('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}
