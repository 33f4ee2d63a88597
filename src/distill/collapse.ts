/**
 * The collapse detector, kept free of the engine so that study reports can apply it to logged
 * signals without loading libtorch. A generator has collapsed when the samples it makes look alike to
 * the teacher (low diversity) or fall into few classes (low coverage); either starves the student of
 * the signal it needs, and on real data it shows up as a student far below its teacher.
 */

/** The signals the detector reads (a subset of TrustSignals). */
export interface CollapseInputs {
  coverage: number;
  missingClasses: number;
  diversity: number;
}

/** Diversity below which the collapse detector fires. */
export const COLLAPSE_DIVERSITY = 0.02;
/** Coverage below which the collapse detector fires. */
export const COLLAPSE_COVERAGE = 0.35;

/** Collapse detector: the reasons a signal set indicates a collapsed generator (empty = fine). */
export function collapseReasons(s: CollapseInputs): string[] {
  const r: string[] = [];
  if (s.diversity < COLLAPSE_DIVERSITY) r.push(`diversity ${s.diversity.toFixed(4)} < ${COLLAPSE_DIVERSITY} (synthetic samples look alike to the teacher)`);
  if (s.coverage < COLLAPSE_COVERAGE) r.push(`coverage ${s.coverage.toFixed(3)} < ${COLLAPSE_COVERAGE} (the teacher sees few classes; ${s.missingClasses} never predicted)`);
  return r;
}

/** Every evaluation at which the detector fired, from a run's logged signals. */
export function collapseEvents(history: readonly { iteration: number; signals?: CollapseInputs | null }[]): { iteration: number; reasons: string[] }[] {
  const out: { iteration: number; reasons: string[] }[] = [];
  for (const h of history) {
    if (!h.signals) continue;
    const reasons = collapseReasons(h.signals);
    if (reasons.length > 0) out.push({ iteration: h.iteration, reasons });
  }
  return out;
}
