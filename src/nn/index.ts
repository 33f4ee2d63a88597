/** Layers and the Module base with PyTorch-compatible state-dict names and forward hooks. */
export * from './module';
export * from './layers';
export * from './memory-format';
