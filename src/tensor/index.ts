/** The dfkd tensor engine: a typed PyTorch-like API over libtorch. */
export { Tensor, DType, Device, Reduction, TensorLike, sameDevice } from './tensor';
export * from './creation';
export * as F from './functional';
export * from './runtime';
export { tidy, keep, dispose, release, scopeDepth } from './scope';
