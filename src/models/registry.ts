/**
 * The model registry: classifiers (teachers and students) and generators by name.
 *
 * Every built-in model of the zoo (src/models/zoo.ts) is registered when this module loads, so
 * `buildModel('resnet34', {...})` works whether the caller imported `src/models` or this file.
 */
import type { Module } from '../nn';
import type { Generator } from './generator';
import { BUILTIN_MODELS } from './zoo';

/**
 * A classifier: a Module whose `forward(x)` maps images [N, C, H, W] to logits [N, numClasses].
 */
export interface Classifier extends Module {
  /**
   * The layer whose INPUT is the penultimate feature vector [N, D] (the final Linear). DAFL's
   * activation loss hooks it with `featureLayer.registerForwardHook((m, input) => ...)`.
   */
  readonly featureLayer: Module;
  /**
   * The modules whose outputs are the stage/block feature maps [N, C_i, H_i, W_i], from the input
   * side to the output side (attention transfer in ZSKT): the residual stages of a ResNet/WRN, the
   * conv stages of LeNet, the pooling stages of VGG.
   */
  readonly blocks: Module[];
}

/** Options every model builder receives. */
export interface ModelOptions {
  /** Image channels (1 for MNIST-like data, 3 for CIFAR-like data). */
  inChannels: number;
  /** Number of classes (classifiers); ignored by generators. */
  numClasses: number;
  /** Image side length; classifiers assume 32 when absent, generators produce 32x32 when absent. */
  imageSize?: number;
}

/** Extra options understood by generators. */
export interface GeneratorOptions extends ModelOptions {
  /** Latent dimension (default 100). */
  nz?: number;
  /** Base width (default 128, as in the DAFL paper). */
  width?: number;
}

interface SpecBase {
  /** Registry key, e.g. 'resnet34', 'wrn-16-2'. */
  name: string;
  /** One line for listings (`dfkd models`). */
  description: string;
}
export interface ClassifierSpec extends SpecBase {
  kind: 'classifier';
  build(opts: ModelOptions): Classifier;
}
export interface GeneratorSpec extends SpecBase {
  kind: 'generator';
  build(opts: GeneratorOptions): Generator;
}
/** A registered model. `kind` tells which of the two builders it has. */
export type ModelSpec = ClassifierSpec | GeneratorSpec;

const registry = new Map<string, ModelSpec>();

/** Registers a model; a name that is already taken is an error unless `replace` is set. */
export function registerModel(spec: ModelSpec, opts: { replace?: boolean } = {}): void {
  if (typeof spec.name !== 'string' || spec.name.length === 0) throw new Error('registerModel: a model needs a non-empty name');
  const kind: unknown = spec.kind;
  if (kind !== 'classifier' && kind !== 'generator') throw new Error(`registerModel: model '${spec.name}' has unknown kind '${String(kind)}'`);
  if (registry.has(spec.name) && !opts.replace) throw new Error(`registerModel: a model named '${spec.name}' is already registered`);
  registry.set(spec.name, spec);
}

/** The registered models (of one kind when `kind` is given), in registration order. */
export function listModels(kind?: ModelSpec['kind']): ModelSpec[] {
  return [...registry.values()].filter((s) => kind === undefined || s.kind === kind);
}

/** The names of the registered models (of one kind when `kind` is given), in registration order. */
export function listModelNames(kind?: ModelSpec['kind']): string[] {
  return listModels(kind).map((s) => s.name);
}

/** The spec registered under `name`; an unknown name is an Error that lists the known names. */
export function getModel(name: string): ModelSpec {
  const spec = registry.get(name);
  if (!spec) {
    throw new Error(`unknown model '${name}'; known models: ${listModelNames().join(', ')}`);
  }
  return spec;
}

function checkOptions(name: string, opts: ModelOptions): void {
  const bad = (what: string, v: unknown): never => {
    throw new RangeError(`model '${name}': ${what} must be a positive integer, got ${String(v)}`);
  };
  if (!Number.isInteger(opts.inChannels) || opts.inChannels < 1) bad('inChannels', opts.inChannels);
  if (opts.imageSize !== undefined && (!Number.isInteger(opts.imageSize) || opts.imageSize < 1)) bad('imageSize', opts.imageSize);
}

/** Builds the classifier registered under `name` (freshly initialised). */
export function buildModel(name: string, opts: ModelOptions): Classifier {
  const spec = getModel(name);
  if (spec.kind !== 'classifier') {
    throw new Error(`model '${name}' is a ${spec.kind}, not a classifier; use buildGenerator('${name}', ...); classifiers: ${listModelNames('classifier').join(', ')}`);
  }
  checkOptions(name, opts);
  if (!Number.isInteger(opts.numClasses) || opts.numClasses < 1) {
    throw new RangeError(`model '${name}': numClasses must be a positive integer, got ${String(opts.numClasses)}`);
  }
  return spec.build(opts);
}

/** Builds the generator registered under `name` (freshly initialised). */
export function buildGenerator(name: string, opts: GeneratorOptions): Generator {
  const spec = getModel(name);
  if (spec.kind !== 'generator') {
    throw new Error(`model '${name}' is a ${spec.kind}, not a generator; use buildModel('${name}', ...); generators: ${listModelNames('generator').join(', ')}`);
  }
  checkOptions(name, opts);
  return spec.build(opts);
}

for (const spec of BUILTIN_MODELS) registerModel(spec);
