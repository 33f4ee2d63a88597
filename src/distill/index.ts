/**
 * Data-free distillation: the one-call `distill(options)`, the run (`runDistill`), the trainer and its
 * callbacks, the method registry and the per-method configs.
 */
import { runDistill, DistillOptions, DistillSummary } from './run';
import type { PartialConfig } from './config-schema';
import type { EvalPoint } from './trainer';
import type { ProgressEvent } from './callbacks';
import { DfkdError } from '../errors';

export interface DistillCallOptions {
  /** Teacher directory (`dfkd train-teacher` or `dfkd import`). */
  teacher: string;
  /** Run directory to write (config.json, log.jsonl, samples/, student.safetensors, summary.json). */
  out: string;
  /**
   * Student architecture (see `dfkd models`); default: the small student of the teacher's family
   * ('resnet8-half' for ResNet, 'vgg5-small' for VGG, else 'lenet5-half'; `defaultStudentFor`).
   */
  student?: string;
  /** Method (default 'ta-dfkd'; see methodNames()). */
  method?: string;
  /** Config fields over the method's defaults and the dataset preset (docs/methods.md). */
  config?: PartialConfig;
  /** Continue the unfinished run in `out`. */
  resume?: boolean;
  /** Real test set location (only to report accuracy). */
  dataPath?: string;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: string;
  onProgress?: (p: ProgressEvent) => void;
  onEval?: (e: EvalPoint) => void;
  onWarn?: (msg: string) => void;
}

/** Distils a teacher into a student in one call and returns the run's summary (also in OUT/summary.json). */
export async function distill(o: DistillCallOptions): Promise<DistillSummary> {
  const opts: DistillOptions = {
    teacherDir: o.teacher,
    studentArch: o.student,
    method: o.method ?? 'ta-dfkd',
    userConfig: o.config ?? {},
    out: o.out,
    resume: o.resume,
    dataPath: o.dataPath,
    device: o.device,
    onProgress: o.onProgress,
    onEval: o.onEval,
    onWarn: o.onWarn,
  };
  const r = await runDistill(opts);
  if (!r.summary) throw new DfkdError(`distill: the run in '${o.out}' stopped at iteration ${r.iteration} without a summary`, 'ESTOPPED');
  return r.summary;
}

export { runDistill, resumeOptions, runConfigHash, DistillOptions, DistillResult, DistillSummary, NumericalFault } from './run';
export { DistillConfig, PartialConfig, resolveConfig, parseConfig, methodNames, identityView } from './config';
export { BaseConfig, GeneratorConfig, COMMON_DEFAULTS } from './config-schema';
export { registerMethod, getMethodDefinition, listMethods, createMethod, MethodDefinition, TADFKD, DAFL, DFAD, ZSKT, DFQ, DeepInversion } from './methods';
export { DistillMethod, GeneratorMethod, MethodContext, StepLog, Preview } from './method';
export { train, TrainContext, TrainState, Callback, EvalPoint, initialState } from './trainer';
export * as callbacks from './callbacks';
export { registerCriterion, listCriteria, criterionNames, selectBatch } from './selection';
export * as losses from './losses';
