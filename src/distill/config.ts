/**
 * Distillation configuration: one validated object holding every loss weight, step ratio,
 * learning rate, schedule, batch size and generator width. It is assembled in layers:
 *   schema defaults <- the dataset preset (budget) <- the method's published objective, step ratio and
 *   optimiser where they differ <- the user's
 *   config file <- command-line flags,
 * and the merged result is written to the run directory so the run can be repeated exactly.
 */
import { z } from 'zod';
import { DfkdError } from '../errors';
import { STABLE_SIGNALS, STOP_WHEN_STABLE_DEFAULTS } from './stopping';

export const METHODS = ['ta-dfkd', 'dafl', 'dfad', 'zskt', 'dfq', 'deepinv'] as const;
export type MethodName = (typeof METHODS)[number];

const Weights = z
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

export const DistillConfig = z
  .object({
    method: z.enum(METHODS),
    seed: z.number().int().nonnegative(),
    iterations: z.number().int().positive().describe('outer iterations'),
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
    generator: z
      .object({
        nz: z.number().int().positive().describe('latent size'),
        width: z.number().int().min(4).describe('base channel width (128 in the paper)'),
        lr: z.number().positive(),
        beta1: z.number().min(0).max(0.999),
        beta2: z.number().min(0).max(0.9999),
        matchPadding: z.boolean().describe('generate content-sized images and zero-pad them like the real inputs (28 in 32 for MNIST-like data)'),
      })
      .strict(),
    weights: Weights,
    studentLoss: z.enum(['l1', 'kl', 'kl+at']).describe('l1 on logits, KL with temperature, or KL + attention transfer'),
    adversarial: z.enum(['js', 'neg-l1', 'kl', 'masked-kl', 'none']),
    temperature: z.number().positive().describe('KD temperature of the student loss (kl)'),
    advTemperature: z.number().positive().describe('temperature of the JS adversarial term'),
    selection: z
      .object({
        enabled: z.boolean(),
        criterion: z.string(),
        threshold: z.number().gt(0).lt(1),
        bnOn: z.enum(['full', 'selected']).describe('BN loss on the full generated batch or only the selected samples (official code: selected)'),
        maxDraws: z.number().int().positive().describe('generator batches drawn at most to collect one student batch'),
      })
      .strict(),
    deepinv: z
      .object({
        innerSteps: z.number().int().positive().describe('image-optimisation steps per synthesised batch'),
        lr: z.number().positive(),
        poolSize: z.number().int().positive().describe('images kept in the pool'),
      })
      .strict(),
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
    // TA-DFKD additions of issue 18 (docs/methods.md, "dfkd's additions to the paper"). Optional and absent
    // by default, as is each field inside: absent means the paper's behaviour, and the config hash of every
    // existing run is unchanged.
    tadfkd: z
      .object({
        bnScale: z
          .enum(['raw', 'std'])
          .optional()
          .describe("BN-statistics term per layer: 'raw' (paper: L2 norms of the mean and variance differences) or 'std' (per channel, the mean difference over the running std and the variance ratio minus 1, RMS over channels)"),
        bnLayers: z.enum(['sum', 'mean']).optional().describe("BN terms combined over layers: 'sum' (paper) or 'mean'"),
        balance: z
          .number()
          .min(0)
          .optional()
          .describe("weight of a class-balance term on the generator: DAFL's information entropy of the batch-mean teacher softmax, sum pbar ln pbar / ln K in [-1, 0] (no per-sample confidence term)"),
        warmupSteps: z.number().int().min(0).optional().describe('generator-only steps on the BN and image-prior terms before the first student step'),
        augment: z
          .object({
            crop: z.number().int().min(0).describe('random-crop padding in pixels (official code: 4)'),
            flip: z.boolean().describe('random horizontal flip'),
          })
          .strict()
          .optional()
          .describe("augment the student's synthetic batches (teacher and student see the same augmented images)"),
      })
      .strict()
      .optional(),
    // Optional (absent by default, so existing configs and their hashes are unchanged). Not part of a
    // run's identity (see runConfigHash): it only acts after a numerical fault.
    nan: z
      .object({
        policy: z.enum(['stop', 'rollback']).default('stop').describe('on a non-finite loss or weight: stop (default) or roll back to the last checkpoint'),
        lrFactor: z.number().gt(0).lt(1).default(0.5).describe('rollback: multiply the learning rates by this factor'),
        maxRollbacks: z.number().int().min(1).default(3).describe('rollback: give up (stop) after this many rollbacks'),
      })
      .strict()
      .optional(),
  })
  .strict();
export type DistillConfig = z.infer<typeof DistillConfig>;

type DeepPartial<T> = { [K in keyof T]?: NonNullable<T[K]> extends object ? DeepPartial<NonNullable<T[K]>> : T[K] };
export type PartialConfig = DeepPartial<DistillConfig>;

/** Defaults shared by all methods (TA-DFKD's paper values where they apply). */
export const BASE_DEFAULTS: DistillConfig = {
  method: 'ta-dfkd',
  seed: 0,
  iterations: 200,
  studentSteps: 10,
  generatorSteps: 1,
  batchSize: 128,
  student: { optimizer: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4, schedule: 'cosine' },
  generator: { nz: 256, width: 64, lr: 1e-3, beta1: 0.5, beta2: 0.999, matchPadding: true },
  weights: { bn: 10, tv: 1.5e-5, l2: 6e-3, adv: 1, classPrior: 0, ie: 0, act: 0, at: 0 },
  studentLoss: 'l1',
  adversarial: 'js',
  temperature: 1,
  advTemperature: 3,
  selection: { enabled: true, criterion: 'loss', threshold: 0.5, bnOn: 'full', maxDraws: 4 },
  deepinv: { innerSteps: 50, lr: 0.1, poolSize: 4096 },
  eval: { every: 20, lastK: 5, batchSize: 1000 },
  checkpointEvery: 20,
  sampleEvery: 50,
};

/**
 * Each method's published objective, weights and step ratio (see docs/methods.md for sources).
 * Learning rates and budgets come from the dataset preset so that methods share a budget.
 */
export const METHOD_DEFAULTS: Record<MethodName, PartialConfig> = {
  // TA-DFKD (Shin & Choi, AAAI 2024): 10*BN + 1.5e-5*TV + 6e-3*L2 + JS adversarial on selected samples,
  // no class prior; student L1 on logits; 10 student steps : 1 generator step.
  'ta-dfkd': {},
  // DAFL (Chen et al., ICCV 2019): one-hot 1, information entropy 5, activation 0.1; KL (T=1) student;
  // 1:1 steps; no BN, no adversarial term.
  dafl: {
    studentSteps: 1,
    student: { optimizer: 'adam', lr: 2e-3 },
    weights: { bn: 0, tv: 0, l2: 0, adv: 0, classPrior: 1, ie: 5, act: 0.1, at: 0 },
    studentLoss: 'kl',
    adversarial: 'none',
    temperature: 1,
    selection: { enabled: false },
  },
  // DFAD (Fang et al., 2019): generator maximises mean|T - S|; student L1; 5 student steps per generator step.
  dfad: {
    studentSteps: 5,
    weights: { bn: 0, tv: 0, l2: 0, adv: 1, classPrior: 0, ie: 0, act: 0, at: 0 },
    studentLoss: 'l1',
    adversarial: 'neg-l1',
    selection: { enabled: false },
  },
  // ZSKT (Micaelli & Storkey, NeurIPS 2019): generator maximises KL(T||S); student KL + 250 * attention transfer;
  // 10 student steps per generator step.
  zskt: {
    studentSteps: 10,
    student: { optimizer: 'adam', lr: 2e-3 },
    generator: { lr: 2e-3 },
    weights: { bn: 0, tv: 0, l2: 0, adv: 1, classPrior: 0, ie: 0, act: 0, at: 250 },
    studentLoss: 'kl+at',
    adversarial: 'kl',
    temperature: 1,
    selection: { enabled: false },
  },
  // DFQ-style class-prior generator (Choi et al. 2020; Fast-Datafree "dfq"): BN 1 + one-hot 1 + adversarial 1
  // (KL(S||T) masked to samples where T and S agree); student KL with temperature; 5:1 steps.
  dfq: {
    studentSteps: 5,
    weights: { bn: 1, tv: 0, l2: 0, adv: 1, classPrior: 1, ie: 0, act: 0, at: 0 },
    studentLoss: 'kl',
    adversarial: 'masked-kl',
    temperature: 20,
    selection: { enabled: false },
  },
  // DeepInversion + KD (Yin et al., CVPR 2020): images optimised directly for CE(T(x), y) + 10*BN + TV + L2,
  // kept in a pool; the student is distilled on the pool with KL (T=20).
  deepinv: {
    studentSteps: 10,
    generatorSteps: 1,
    weights: { bn: 10, tv: 1.5e-5, l2: 1e-5, adv: 0, classPrior: 1, ie: 0, act: 0, at: 0 },
    studentLoss: 'kl',
    adversarial: 'none',
    temperature: 20,
    selection: { enabled: false },
  },
};

/** Small-scale presets per dataset: budgets chosen so a CPU run finishes in minutes. */
export const PRESETS: Record<string, PartialConfig> = {
  // Fashion-MNIST / MNIST: 800 iterations of 10 student steps at batch 128 with a width-32 generator:
  // about 10 minutes on the 2-core reference machine (400 iterations gave 80.1% in 318 s, see README).
  'fashion-mnist': {
    iterations: 800,
    batchSize: 128,
    student: { lr: 0.05 },
    generator: { nz: 256, width: 32, lr: 1e-3 },
    eval: { every: 40 },
    checkpointEvery: 40,
    sampleEvery: 100,
  },
  mnist: {
    iterations: 800,
    batchSize: 128,
    student: { lr: 0.05 },
    generator: { nz: 256, width: 32, lr: 1e-3 },
    eval: { every: 40 },
    checkpointEvery: 40,
    sampleEvery: 100,
  },
  cifar10: {
    iterations: 400,
    batchSize: 128,
    student: { lr: 0.1 },
    generator: { nz: 256, width: 64, lr: 1e-3 },
    eval: { every: 20 },
  },
  cifar100: {
    iterations: 400,
    batchSize: 128,
    student: { lr: 0.1 },
    generator: { nz: 256, width: 64, lr: 1e-3 },
    eval: { every: 20 },
  },
};

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of plain objects (arrays and scalars replace). */
export function deepMerge<T>(base: T, ...over: unknown[]): T {
  let out: unknown = structuredClone(base);
  for (const o of over) {
    if (o === undefined) continue;
    out = mergeTwo(out, o);
  }
  return out as T;
}
function mergeTwo(a: unknown, b: unknown): unknown {
  if (!isObj(a) || !isObj(b)) return b === undefined ? a : structuredClone(b);
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = v === undefined ? a[k] : mergeTwo(a[k], v);
  return out;
}

/** Validates a config, naming every bad field in one message. */
export function parseConfig(input: unknown, source = 'distill config'): DistillConfig {
  const r = DistillConfig.safeParse(input);
  if (!r.success) {
    throw new DfkdError(
      `${source}: invalid config:\n  - ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('\n  - ')}`,
      'ECONFIG',
    );
  }
  return r.data;
}

/** Builds the effective config for `method` on `dataset` from the layers described above. */
export function resolveConfig(method: string, dataset: string, user: unknown = {}, flags: PartialConfig = {}): DistillConfig {
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new DfkdError(`unknown method '${method}' (known: ${METHODS.join(', ')})`, 'ECONFIG');
  }
  if (!isObj(user)) throw new DfkdError('distill config: the config file must hold a JSON object', 'ECONFIG');
  const m = method as MethodName;
  const merged = deepMerge(BASE_DEFAULTS, PRESETS[dataset] ?? {}, METHOD_DEFAULTS[m], user, flags, { method: m });
  // A partial stopping rule (e.g. {} from --stop-when-stable, or only a patience) takes the defaults.
  if (isObj(merged.stopWhenStable)) merged.stopWhenStable = { ...STOP_WHEN_STABLE_DEFAULTS, ...merged.stopWhenStable };
  else if (merged.stopWhenStable === true) merged.stopWhenStable = { ...STOP_WHEN_STABLE_DEFAULTS };
  return parseConfig(merged);
}
