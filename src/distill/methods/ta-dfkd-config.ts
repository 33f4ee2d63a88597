/**
 * TA-DFKD's config: the lenient-expert selection and dfkd's additions to the paper (the `tadfkd` block).
 * Each addition is optional: absent means the paper's behaviour (docs/methods.md, "dfkd's additions").
 */
import { z } from 'zod';
import { criterionNames } from '../selection';
import { GeneratorConfig, generatorShape } from '../config-schema';

/** The lenient-expert selection; `criterion` is one of the registered criteria (src/distill/selection.ts). */
export const SelectionSection = z
  .object({
    enabled: z.boolean(),
    criterion: z.lazy(() => z.enum(criterionNames() as [string, ...string[]])),
    threshold: z.number().gt(0).lt(1),
    bnOn: z.enum(['full', 'selected']).describe('BN loss on the full generated batch or only the selected samples (official code: selected)'),
    maxDraws: z.number().int().positive().describe('generator batches drawn at most to collect one student batch'),
    // Optional (absent = 0, the paper) so that adding it left the config hash of every existing run unchanged.
    classFloor: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("per-class floor on the kept share: of the samples the teacher assigns to a class, at least this share (the lowest-loss ones) is kept whatever the GMM says, so a class the teacher is less sure of is not filtered out"),
    // Optional (absent = reuse) so that adding it left the config hash of every existing run unchanged.
    targets: z
      .enum(['reuse', 'recompute'])
      .optional()
      .describe("student targets: the kept samples' logits from the selection forward (reuse, default) or a second teacher forward on the kept samples (recompute: dfkd's earlier behaviour; its logits can differ from reused ones in the last bits)"),
  })
  .strict();
export type SelectionConfig = z.infer<typeof SelectionSection>;

/** Random crop + flip (src/distill/augment.ts): the student augmentation and the generator-step jitter. */
export const CropFlipSection = z
  .object({
    crop: z.number().int().min(0).describe('random-crop padding in pixels'),
    flip: z.boolean().describe('random horizontal flip'),
  })
  .strict();

/** The replay buffer of tadfkd.replay (src/distill/replay.ts). */
const ReplaySection = z
  .object({
    size: z.number().int().positive().describe('samples the buffer holds'),
    fresh: z
      .number()
      .gt(0)
      .max(1)
      .describe('share of each student batch drawn fresh from the generator (and added to the buffer); the rest is replayed from the buffer with the stored teacher logits'),
    policy: z
      .enum(['ring', 'reservoir'])
      .optional()
      .describe("which samples a full buffer keeps: 'ring' (default) the most recent, 'reservoir' a uniform sample of all offered so far"),
    classBalance: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("how replayed samples are drawn by the teacher's class (argmax of the stored logits): 0 (absent) uniformly over the samples, 1 every class present equally often; in between a class with c samples is drawn in proportion to c^(1 - classBalance). Classes the generator rarely makes are replayed more often"),
  })
  .strict();

/** A second generator (tadfkd.companion) with its own BN-statistics settings and jitter. */
const CompanionSection = z
  .object({
    share: z.number().gt(0).lt(1).describe("share of each student batch's fresh samples drawn from the companion (the rest from the main generator)"),
    bn: z.number().min(0).describe("the companion's BN-statistics weight (the main generator keeps weights.bn)"),
    bnFirst: z.number().positive().optional().describe("multiplier of the first BN layer's term in the companion's BN loss"),
    jitter: CropFlipSection.optional().describe("the companion's generator-step jitter (random crop + flip views for the teacher and the adversarial term)"),
  })
  .strict();

/** Inverted anchor images of tadfkd.anchors (DeepInversion's recipe, as the probe set of src/distill/probe.ts). */
const AnchorsSection = z
  .object({
    n: z.number().int().positive().describe('images inverted from the teacher before the first student step, target classes i mod K (balanced)'),
    share: z.number().gt(0).lt(1).describe("share of each student batch drawn from the anchors, with the teacher's logits on them (taken from the replayed share, else from the fresh one)"),
    steps: z.number().int().positive().optional().describe('Adam steps of the inversion per batch of 128 images (default 200, as the probe set)'),
    seed: z.number().int().min(0).optional().describe('seed of the inversion (default 1; the probe set of probe trust uses 12345)'),
    lrSchedule: z
      .enum(['constant', 'cosine'])
      .optional()
      .describe("learning rate of the inversion's Adam steps: 'cosine' decays it from 0.1 to 0 over the steps, 'constant' keeps 0.1 (absent: constant, the probe set's)"),
    boundary: z
      .number()
      .gt(0)
      .max(1)
      .optional()
      .describe("share of the anchors (the first rows of each inversion batch) inverted toward a two-class soft target instead of their one-hot class: lambda on their class a and 1 - lambda on a neighbouring class b (lambda uniform in [0.5, 1); b drawn in proportion to the positive cosine similarity of the teacher's last-layer weights of a and b), so that some anchors sit near the teacher's boundaries between similar classes, where its logits show how it separates them (ZSKD's soft data impressions, with two classes). Absent: none"),
    refresh: z
      .object({
        every: z.number().int().positive().describe('iterations between two refreshes (one after the generator step of every that many iterations)'),
        rows: z.number().int().positive().describe('anchors inverted further per refresh, the next rows of the set in turn'),
        steps: z.number().int().positive().describe('Adam steps of each refresh, starting from the anchors as they are'),
        weight: z.number().min(0).describe("weight of the competition term 1 - JS(student, teacher) (DeepInversion's ADI; JS summed over classes, averaged over the batch)"),
      })
      .strict()
      .optional()
      .describe("re-invert the anchors during the run with DeepInversion's adaptive competition: every `every` iterations the next `rows` anchors take `steps` more inversion steps (their class, BN statistics, priors, jitter) plus weight x (1 - JS(S(x), T(x))) against the current student, so that they move toward images of their class on which the student still disagrees with the teacher; the teacher's logits are taken again. The set then changes during a run, so checkpoints hold it. Absent: the anchors stay as inverted"),
    augment: z
      .union([z.literal(false), CropFlipSection])
      .optional()
      .describe("random crop + flip of the anchor rows of each student batch, with the teacher's logits recomputed on the view (one teacher forward on those rows per student step), so that the student learns the teacher's answers around the fixed set rather than the same images again (default crop 2 + flip; false: the anchors as inverted)"),
  })
  .strict();

/**
 * dfkd's additions to the paper (issue 18; docs/methods.md, "dfkd's additions to the paper"). Each field
 * is optional: absent means the paper's behaviour. The method defaults set `warmupSteps` (100) and `replay`
 * (8,192 samples, half of each student batch fresh); runs made before those defaults have no `tadfkd`
 * section (or no `replay` in it) and resume without them.
 */
export const TadfkdSection = z
  .object({
    bnScale: z
      .enum(['raw', 'std'])
      .optional()
      .describe("BN-statistics term per layer: 'raw' (paper: L2 norms of the mean and variance differences) or 'std' (per channel, the mean difference over the running std and the variance ratio minus 1, RMS over channels)"),
    bnLayers: z.enum(['sum', 'mean']).optional().describe("BN terms combined over layers: 'sum' (paper) or 'mean'"),
    bnFirst: z
      .number()
      .positive()
      .optional()
      .describe("multiplier of the first BN layer's term (DeepInversion's first_bn_multiplier, 10 in its code): with a lower weights.bn it keeps the low-level image statistics tight while the deeper, teacher-specific layers constrain less"),
    balance: z
      .number()
      .min(0)
      .optional()
      .describe("weight of a class-balance term on the generator: DAFL's information entropy of the batch-mean teacher softmax, sum pbar ln pbar / ln K in [-1, 0] (no per-sample confidence term)"),
    adversarial: z
      .enum(['js', 'l1'])
      .optional()
      .describe("generator's adversarial term on the selected samples: 'js' (paper: 1 - JS of the clamped temperature softmaxes, mean over batch x classes) or 'l1' (DFAD's -mean|S(x) - T(x)| on the logits: the disagreement the student's L1 loss removes)"),
    warmupSteps: z.number().int().min(0).optional().describe('generator-only steps on the BN and image-prior terms before the first student step'),
    augment: CropFlipSection.optional().describe(
      "augment the student's synthetic batches (teacher and student see the same augmented images; official code: crop 4, flip)",
    ),
    replay: z
      .union([z.literal(false), ReplaySection])
      .optional()
      .describe('false: no buffer (the paper). Else a replay buffer of teacher-approved samples and their logits: each student batch mixes fresh samples with replayed ones, so the student revisits what the generator made before and each step costs fewer generator and teacher forwards'),
    restartEvery: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('every that many iterations, a fresh generator (new weights and optimiser state, then the warm-up again): which classes a generator finds depends on its start, and with tadfkd.replay the buffer keeps what earlier generators made'),
    companion: CompanionSection.optional().describe(
      "a second generator trained beside the main one with other BN settings (for example a lower BN weight with jitter, which finds classes the main generator misses); its teacher-approved samples are a fixed share of every student batch's fresh samples and join the same replay buffer",
    ),
    mixup: z
      .union([z.literal(false), z.number().gt(0).max(1)])
      .optional()
      .describe("false: no mixup (the paper). Else the share of each student batch (its last rows: with tadfkd.replay the replayed ones) replaced by mixes lambda*x_i + (1-lambda)*x_j of two of the batch's samples, lambda uniform in [0, 1] per mix, with the teacher's logits on the mixes as targets: samples between the generator's classes, near the teacher's decision boundaries"),
    diversity: z
      .number()
      .min(0)
      .optional()
      .describe("weight of a within-class diversity term on the generator (warm-up included): the mean cosine similarity of the teacher's penultimate features over the pairs of generated samples the teacher assigns the same class, so that one generator makes varied samples of each class instead of one kind"),
    anchors: z
      .union([z.literal(false), AnchorsSection])
      .optional()
      .describe(
        "false: no anchors (the paper). Else a fixed set of class-balanced images inverted from the teacher alone (DeepInversion: cross-entropy to target classes, BN statistics, jitter 2 + flip; the probe set's recipe with another seed) that makes a share of every student batch: every class the teacher knows is in every batch, whichever classes the generator finds. Made at the start and cached beside the teacher (anchors-<hash>.safetensors), so the teacher's later runs and --resume load them; a run that trains on anchors has a probe trust biased upward, since the probe is made the same way",
      ),
    generatorSchedule: z
      .enum(['constant', 'cosine'])
      .optional()
      .describe("the generator's learning rate over the run: 'constant' (absent: the paper's) or 'cosine', decaying from generator.lr to 0 over the iterations as the student's cosine schedule does (the warm-up runs at generator.lr), so the synthetic distribution settles while the student's learning rate falls"),
    jacobian: z
      .object({
        weight: z.number().gt(0).describe('weight of the matching term (in [0, 4]) beside the logit loss'),
        rows: z.number().int().positive().describe('rows of each student batch that get the term, evenly strided over the batch'),
      })
      .strict()
      .optional()
      .describe("input-gradient (Jacobian) matching in the student step (src/distill/jacobian.ts): on some rows of each batch the student also matches the direction of the teacher's input gradient of its top-2 margin (the teacher's top two classes), the change of the image that would move the sample across the teacher's nearest boundary. Costs a teacher backward on those rows and a double backward through the student. Student losses l1, l1-centered and kl only"),
    jitter: CropFlipSection.optional().describe("DeepInversion's input jitter in the generator step: the teacher (BN term, selection) and the student (adversarial term) see random crop + flip views of the generated batch, so that evidence tied to exact pixel positions does not pay"),
  })
  .strict();
export type TadfkdOptions = z.infer<typeof TadfkdSection>;
export type CompanionOptions = z.infer<typeof CompanionSection>;
export type CropFlip = z.infer<typeof CropFlipSection>;
export type AnchorsOptions = z.infer<typeof AnchorsSection>;

/** The default of tadfkd.anchors; study variants spread it and change one field. */
export const DEFAULT_ANCHORS: AnchorsOptions = { n: 1024, share: 0.25, augment: { crop: 2, flip: true } };

export const taDfkdShape = {
  ...generatorShape,
  method: z.literal('ta-dfkd'),
  advTemperature: z.number().positive().describe('temperature of the JS adversarial term'),
  selection: SelectionSection,
  tadfkd: TadfkdSection.optional(),
};
export type TaDfkdConfig = GeneratorConfig & { method: 'ta-dfkd'; advTemperature: number; selection: SelectionConfig; tadfkd?: TadfkdOptions };
