/** `dfkd study --report-only` as a library call: regenerate the report of a study from its results.json. */
import * as path from 'path';
import { writeJsonAtomic } from '../io/atomic';
import { loadResults, recomputeResults, readCell, StudyResults } from './results';
import { studyProbeTrust, RESULTS_FILE } from './run';
import type { ProbeOptions } from '../distill/probe';

export interface ReportOnlyOptions {
  out: string;
  /** Catastrophic threshold (default: the one recorded). */
  threshold?: number;
  /** false: skip the probe trust of the finished cells; else the probe options. */
  probe?: false | Partial<ProbeOptions>;
  onProbe?: (teacherId: string, message: string) => void;
}

/** Recomputes the probe trust (cached, so cheap when done) and statistics, then writes RESULTS.md and report.html. */
export async function regenerateReport(o: ReportOnlyOptions): Promise<{ results: StudyResults; markdown: string; html: string }> {
  const { writeReport } = await import('./report');
  const file = path.join(o.out, RESULTS_FILE);
  let r = loadResults(file);
  if (o.probe !== false && r.cells.length > 0) {
    const teacherDirs = new Map(r.teachers.filter((t) => t.dir).map((t) => [t.id, path.join(o.out, t.dir!)] as [string, string]));
    studyProbeTrust(o.out, teacherDirs, r.cells, o.probe ?? {}, o.onProbe ?? (() => undefined));
    r = { ...r, cells: r.cells.map((c) => ({ ...c, ...readCell(o.out, c) })) };
    r = recomputeResults(r, o.threshold ?? r.threshold);
    writeJsonAtomic(file, r);
  } else if (o.threshold !== undefined && o.threshold !== r.threshold) r = recomputeResults(r, o.threshold);
  const files = await writeReport(r, o.out);
  return { results: r, ...files };
}
