/** The multi-teacher robustness study: presets, the runner, results and reports. */
export { runStudy, RunStudyOptions, StudyRunResult, StudyEvent, CellRunner, studyCells, resolveStudyPreset } from './run';
export { STUDY_PRESETS, StudyPreset, StudyMethod, getPreset, methodVariant, methodVariants } from './presets';
export { StudyResults, loadResults } from './results';
export { regenerateReport } from './report-only';
