/**
 * dfkd as a library: `import { distill } from 'dfkd'` (or `require('dfkd')`). The namespaces follow the
 * layers: tensor -> nn -> optim -> models -> data -> distill -> study, plus interop (PyTorch/ONNX).
 */
export * as tensor from './tensor';
export * as nn from './nn';
export * as optim from './optim';
export * as models from './models';
export * as data from './data';
export * as distillation from './distill';
export * as study from './study';
export * as interop from './interop';

export { distill, DistillCallOptions, runDistill, DistillOptions, DistillSummary, registerMethod, methodNames } from './distill';
export { runStudy, RunStudyOptions } from './study';
export { Tensor, tidy, noGrad } from './tensor';
export { buildModel, listModels } from './models';
export { trainTeacher, loadTeacher, TeacherRecord, TeacherRecipe } from './train/teacher';
export { evaluateModelDir } from './train/eval-model';
export { DfkdError } from './errors';
export { DFKD_VERSION } from './versions';
