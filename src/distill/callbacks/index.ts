/** The trainer's callbacks (see src/distill/trainer.ts for the points at which they run). */
export { NanGuard, NumericalFault, applyLrScale } from './nan-guard';
export { FaultInjection, type FaultSpec } from './faults';
export { Checkpoints, StopRequest, saveTrainCheckpoint, restoreCheckpoint } from './checkpoints';
export { Evaluation, CollapseDetector, EvalLog, EarlyStop } from './evaluation';
export { SampleGrids, writeSamples } from './samples';
export { Progress, AfterIteration, type ProgressEvent } from './progress';
export { StudentEmaUpdate } from './student-ema';
