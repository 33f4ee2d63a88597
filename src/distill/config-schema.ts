/**
 * The config fields every method shares (the trainer's budget and schedule, the student, evaluation,
 * checkpoints, stopping and NaN policies, loss weights) and the generator section the generator-based
 * methods share. A method module adds its own sections (src/distill/methods/*.ts); the effective config
 * of a run is one variant of the union DistillConfig, discriminated by `method` (src/distill/config.ts).
 */
import { z } from 'zod';
import { STABLE_SIGNALS } from './stopping';
import { MEMORY_FORMATS } from '../nn/memory-format';
import { PRECISIONS } from './precision';

export const Weights = z
  .object({
    bn: z.number().min(0).describe('BN-statistics loss weight'),
    tv: z.number().min(0).describe('total-variation prior weight'),
    l2: z.number().min(0).describe('L2 image prior weight'),
    adv: z.number().min(0).describe('adversarial (disagreement) weight'),
    classPrior: z.number().min(0).describe('one-hot / class-prior CE weight'),
    ie: z.number().min(0).describe('DAFL information-entropy weight'),
    act: z.number().min(0).describe('DAFL activation loss weight'),
    at: z.number().min(0).describe('ZSKT attention-transfer weight (student loss)'),
  })
  .strict();

/** Upper bound of `iterations` (documented in docs/reliability.md and `dfkd distill --help`). */
export const MAX_ITERATIONS = 1_000_000;

/** Fields of every method's config (`method` is narrowed to a literal by each method's schema). */
export const commonShape = {
  method: z.string(),
  seed: z.number().int().nonnegative(),
  iterations: z.number().int().positive().max(MAX_ITERATIONS).describe('outer iterations'),
  studentSteps: z.number().int().positive().describe('student steps per iteration'),
  generatorSteps: z.number().int().min(0).describe('generator (or image-optimisation) steps per iteration'),
  batchSize: z.number().int().min(2),
  student: z
    .object({
      optimizer: z.enum(['sgd', 'adam']),
      lr: z.number().positive(),
      momentum: z.number().min(0).max(1),
      weightDecay: z.number().min(0),
      schedule: z.enum(['cosine', 'constant']),
    })
    .strict(),
  weights: Weights,
  studentLoss: z.enum(['l1', 'l1-centered', 'kl', 'kl+at']).describe("l1 on logits, l1 on logits centred per sample (the softmax-invisible offset of the teacher's logits is not matched), KL with temperature, or KL + attention transfer"),
  temperature: z.number().positive().describe('KD temperature of the student loss (kl)'),
  eval: z
    .object({
      every: z.number().int().positive().describe('evaluate every N iterations'),
      lastK: z.number().int().positive().describe('report the mean of the last k evaluations'),
      batchSize: z.number().int().positive(),
    })
    .strict(),
  checkpointEvery: z.number().int().positive(),
  sampleEvery: z.number().int().positive().describe('write a PNG grid of synthetic samples every N iterations'),
  // Optional (absent by default) so that adding it left the config hash of every existing run unchanged.
  stopWhenStable: z
    .object({
      signal: z.enum(STABLE_SIGNALS).describe('data-free signal watched: agreement, trust or logitDistance'),
      patience: z.number().int().positive().describe('evaluations without improvement before stopping'),
      minDelta: z.number().min(0).describe('smallest change that counts as an improvement'),
      minProgress: z.number().min(0).max(1).describe('fraction of the iterations that always runs'),
    })
    .strict()
    .optional()
    .describe('data-free stopping rule (--stop-when-stable): end the run when the signal plateaus'),
  // Optional (absent by default: off, so existing configs and their hashes are unchanged).
  studentEma: z
    .object({
      decay: z.number().gt(0).lt(1).describe('per student step; the average covers about 1 / (1 - decay) steps'),
    })
    .strict()
    .optional()
    .describe("evaluate and deliver an exponential moving average of the student's weights (and BN statistics) instead of its last weights"),
  // Optional (absent = float32, so existing configs and their hashes are unchanged). Part of a run's identity:
  // bfloat16 changes the samples' and the targets' values well beyond the last bits.
  precision: z
    .enum(PRECISIONS)
    .optional()
    .describe("arithmetic of the no-grad forwards that make the student's batches (the generator's draws and the teacher's logits on them): float32, or bf16-forwards (CPU autocast to bfloat16, fast on CPUs with AVX-512 BF16 or AMX; training steps, the generator step and evaluation stay float32)"),
  // Optional: absent = contiguous, the order of runs made before the option. Not part of a run's identity
  // (see identityView). New runs get channels-last from COMMON_DEFAULTS.
  memoryFormat: z
    .enum(MEMORY_FORMATS)
    .optional()
    .describe("memory order of the teacher's and the generator's convolution weights, and so of their activations: contiguous (NCHW) or channels-last (NHWC, faster on the CPU for some networks; results differ from contiguous in the last bits)"),
  // Optional (absent by default, so existing configs and their hashes are unchanged). Not part of a
  // run's identity (see identityView): it only acts after a numerical fault.
  nan: z
    .object({
      policy: z.enum(['stop', 'rollback']).default('stop').describe('on a non-finite loss or weight: stop (default) or roll back to the last checkpoint'),
      lrFactor: z.number().gt(0).lt(1).default(0.5).describe('rollback: multiply the learning rates by this factor'),
      maxRollbacks: z.number().int().min(1).default(3).describe('rollback: give up (stop) after this many rollbacks'),
    })
    .strict()
    .optional(),
};
export const BaseConfig = z.object(commonShape).strict();
export type BaseConfig = z.infer<typeof BaseConfig>;

/** The generator of the generator-based methods (TA-DFKD, DAFL, DFAD, ZSKT, DFQ). */
export const GeneratorSection = z
  .object({
    nz: z.number().int().positive().describe('latent size'),
    width: z.number().int().min(4).describe('base channel width (128 in the paper)'),
    lr: z.number().positive(),
    beta1: z.number().min(0).max(0.999),
    beta2: z.number().min(0).max(0.9999),
    matchPadding: z.boolean().describe('generate content-sized images and zero-pad them like the real inputs (28 in 32 for MNIST-like data)'),
  })
  .strict();
export const GENERATOR_DEFAULTS: z.infer<typeof GeneratorSection> = { nz: 256, width: 64, lr: 1e-3, beta1: 0.5, beta2: 0.999, matchPadding: true };

export const generatorShape = { generator: GeneratorSection };
export const GeneratorConfig = BaseConfig.extend(generatorShape);
export type GeneratorConfig = z.infer<typeof GeneratorConfig>;

/** Defaults of the common fields (TA-DFKD's paper values where they apply). */
export const COMMON_DEFAULTS: Omit<BaseConfig, 'method'> = {
  seed: 0,
  iterations: 200,
  studentSteps: 10,
  generatorSteps: 1,
  batchSize: 128,
  student: { optimizer: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4, schedule: 'cosine' },
  weights: { bn: 10, tv: 1.5e-5, l2: 6e-3, adv: 1, classPrior: 0, ie: 0, act: 0, at: 0 },
  studentLoss: 'l1',
  temperature: 1,
  eval: { every: 20, lastK: 5, batchSize: 1000 },
  checkpointEvery: 20,
  sampleEvery: 50,
  // Measured 10-20% cheaper TA-DFKD iterations (bench:iteration, docs/benchmarks.md).
  memoryFormat: 'channels-last',
};

type DeepPartial<T> = { [K in keyof T]?: NonNullable<T[K]> extends object ? DeepPartial<NonNullable<T[K]>> : T[K] };

/**
 * Every field any built-in method reads: what a layer of input (preset, budget, config file, flags)
 * may set. Sections of other methods are ignored by a method (and kept only for the run's identity).
 */
export type FlatConfig = GeneratorConfig & {
  advTemperature: number;
  selection: import('./methods/ta-dfkd').SelectionConfig;
  deepinv: import('./methods/deepinv').DeepInversionSection;
  tadfkd?: import('./methods/ta-dfkd').TadfkdOptions;
};
export type PartialConfig = DeepPartial<Omit<FlatConfig, 'method'>> & { method?: string };
