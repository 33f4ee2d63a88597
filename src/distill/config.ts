/**
 * Distillation configuration. Each method brings its own schema (src/distill/methods/*.ts): the fields
 * every method shares (config-schema.ts) plus its own sections (the generator, TA-DFKD's selection,
 * DeepInversion's image optimisation). A run's config is assembled in layers:
 *   common defaults + the method's section defaults <- the dataset preset (budget) <- the method's
 *   published objective, step ratio and optimiser <- dfkd's additions to it that override a preset field
 *   (TA-DFKD's generator learning rate) <- the user's config file <- command-line flags,
 * then validated against the method's schema (a bad field fails with a message naming it). The merged
 * result is written to the run directory so the run can be repeated exactly.
 *
 * A layer may hold sections of other methods (a study budget shared by every method does): a method
 * ignores them, but they stay part of the run's identity (configHash), exactly as in earlier versions
 * where every method's config held every field (see identityView).
 */
import { z } from 'zod';
import { DfkdError } from '../errors';
import { checkJsonShape } from '../io/json';
import { STOP_WHEN_STABLE_DEFAULTS } from './stopping';
import { BaseConfig, COMMON_DEFAULTS, GENERATOR_DEFAULTS, GeneratorConfig, GeneratorSection, type PartialConfig } from './config-schema';
import { getMethodDefinition, methodNames, type MethodDefinition } from './methods';
import { SelectionSection, type TaDfkdConfig } from './methods/ta-dfkd';
import { DeepInversionSection, type DeepInversionConfig } from './methods/deepinv';

export { BaseConfig, GeneratorConfig, MAX_ITERATIONS, type PartialConfig } from './config-schema';
export { methodNames } from './methods';

/** The effective config of a run: one variant per built-in method, discriminated by `method`. */
export type DistillConfig =
  | TaDfkdConfig
  | (GeneratorConfig & { method: 'dafl' | 'dfad' | 'zskt' | 'dfq' })
  | DeepInversionConfig;

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

/**
 * For a resumed run, whose config layer is the complete config it recorded: deletes (in place) the fields
 * of `cfg` that neither that record nor the overrides have, i.e. fields later versions added with a
 * default (memoryFormat, tadfkd), so the run continues as it started.
 */
export function pruneToRecorded(cfg: DistillConfig, recorded: unknown, overrides: unknown): void {
  if (isObj(recorded)) pruneFields(cfg as unknown as Record<string, unknown>, recorded, overrides);
}
function pruneFields(cfg: Record<string, unknown>, recorded: Record<string, unknown>, overrides: unknown): void {
  const over = isObj(overrides) ? overrides : {};
  for (const k of Object.keys(cfg)) {
    if (!(k in recorded) && !(k in over)) delete cfg[k];
    else if (isObj(cfg[k]) && isObj(recorded[k])) pruneFields(cfg[k] as Record<string, unknown>, recorded[k] as Record<string, unknown>, over[k]);
  }
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

/**
 * Fields earlier versions held in every method's config. They are no longer read (`adversarial` never
 * was), but they are part of the identity of runs made before, so a run's identity hashes them with the
 * values those versions had. Frozen: changing a value here would change the identity of existing runs.
 */
const LEGACY_BASE = {
  generator: GENERATOR_DEFAULTS,
  advTemperature: 3,
  selection: { enabled: true, criterion: 'loss', threshold: 0.5, bnOn: 'full', maxDraws: 4 },
  deepinv: { innerSteps: 50, lr: 0.1, poolSize: 4096 },
};
const LEGACY_KEYS = ['adversarial', ...Object.keys(LEGACY_BASE)];

/** The legacy fields as earlier versions validated them (a typo in another method's section still fails). */
const LegacyFields = z
  .object({
    adversarial: z.enum(['js', 'neg-l1', 'kl', 'masked-kl', 'none']),
    generator: GeneratorSection,
    advTemperature: z.number().positive(),
    selection: SelectionSection,
    deepinv: DeepInversionSection,
  })
  .partial()
  .strict();

/** The method's schema: the common fields plus its own sections, strict. */
export function methodSchema(def: MethodDefinition): z.ZodObject<z.ZodRawShape> {
  return BaseConfig.extend(def.schema).strict() as unknown as z.ZodObject<z.ZodRawShape>;
}

function formatIssues(source: string, issues: z.ZodIssue[], prefix: string[] = []): string {
  return `${source}: invalid config:\n  - ${issues.flatMap(unwrapUnion).map((i) => `${[...prefix, ...i.path].join('.') || '(root)'}: ${i.message}`).join('\n  - ')}`;
}

/**
 * A field that is `false` or an object (`tadfkd.anchors`) fails as a union, which zod reports as "Invalid
 * input" on the field itself. When exactly one branch got past the type check (the input was an object),
 * that branch's issues name the bad field inside it; they replace the union's.
 */
function unwrapUnion(i: z.ZodIssue): z.ZodIssue[] {
  if (i.code !== 'invalid_union') return [i];
  const typed = i.unionErrors.filter((e) => e.issues.some((u) => u.code !== 'invalid_type' && u.code !== 'invalid_literal'));
  return typed.length === 1 ? typed[0].issues.flatMap(unwrapUnion) : [i];
}

/** Validates a complete config against its method's schema, naming every bad field in one message. */
export function parseConfig(input: unknown, source = 'distill config'): DistillConfig {
  const method = isObj(input) && typeof input.method === 'string' ? input.method : undefined;
  if (method === undefined) throw new DfkdError(`${source}: invalid config:\n  - method: Required (one of ${methodNames().join(', ')})`, 'ECONFIG');
  const r = methodSchema(getMethodDefinition(method)).safeParse(input);
  if (!r.success) throw new DfkdError(formatIssues(source, r.error.issues), 'ECONFIG');
  return r.data as DistillConfig;
}

/** The identity-only fields each resolved config was resolved with (see identityView). */
const identityExtras = new WeakMap<object, Record<string, unknown>>();

/** Splits a merged (flat) config into the method's own fields and the legacy fields it does not read. */
function splitFlat(def: MethodDefinition, flat: Record<string, unknown>, source: string): { own: Record<string, unknown>; extras: Record<string, unknown> } {
  const ownKeys = new Set([...Object.keys(BaseConfig.shape), ...Object.keys(def.schema)]);
  const own: Record<string, unknown> = {};
  const extras: Record<string, unknown> = {};
  const unknown: string[] = [];
  // Sections another registered method declares (TA-DFKD's `tadfkd` in a budget shared by a study's methods)
  // are ignored, and are not part of this method's identity; the legacy keys are kept for identity.
  const othersKeys = new Set(methodNames().flatMap((m) => Object.keys(getMethodDefinition(m).schema)));
  for (const [k, v] of Object.entries(flat)) {
    if (ownKeys.has(k)) own[k] = v;
    else if (LEGACY_KEYS.includes(k)) extras[k] = v;
    else if (!othersKeys.has(k)) unknown.push(k);
  }
  if (unknown.length > 0) throw new DfkdError(formatIssues(source, unknown.map((k) => ({ code: 'unrecognized_keys', keys: [k], path: [], message: `Unrecognized key(s) in object: '${k}'` }) as z.ZodIssue)), 'ECONFIG');
  const r = LegacyFields.safeParse(extras);
  if (!r.success) throw new DfkdError(formatIssues(source, r.error.issues), 'ECONFIG');
  return { own, extras: r.data };
}

/**
 * Builds the effective config for `method` on `dataset` from the layers described above. `recorded`
 * (resume) holds the identity-only fields recorded with a run (config.json's identityExtras).
 */
export function resolveConfig(method: string, dataset: string, user: unknown = {}, flags: PartialConfig = {}, recorded?: Record<string, unknown>): DistillConfig {
  const def = getMethodDefinition(method);
  if (!isObj(user)) throw new DfkdError('distill config: the config file must hold a JSON object', 'ECONFIG');
  checkJsonShape(user, 'distill config');
  const base = deepMerge<Record<string, unknown>>(LEGACY_BASE, COMMON_DEFAULTS, def.defaults);
  const merged = deepMerge(base, PRESETS[dataset] ?? {}, def.legacy, def.published, def.additions ?? {}, recorded ?? {}, user, flags, { method });
  // A partial stopping rule (e.g. {} from --stop-when-stable, or only a patience) takes the defaults.
  if (isObj(merged.stopWhenStable)) merged.stopWhenStable = { ...STOP_WHEN_STABLE_DEFAULTS, ...merged.stopWhenStable };
  else if (merged.stopWhenStable === true) merged.stopWhenStable = { ...STOP_WHEN_STABLE_DEFAULTS };
  const { own, extras } = splitFlat(def, merged, 'distill config');
  const cfg = parseConfig(own);
  identityExtras.set(cfg, extras);
  return cfg;
}

/** The identity-only fields of a config resolved by resolveConfig (recorded in config.json as identityExtras). */
export function identityExtrasOf(cfg: DistillConfig): Record<string, unknown> {
  return identityExtras.get(cfg) ?? {};
}

/**
 * The part of a config that identifies a run (hashed into configHash): its fields plus the legacy
 * fields it was resolved with, in the flat shape earlier versions hashed, so that every existing run
 * keeps its identity. The NaN policy is not part of it: `--resume DIR --on-nan rollback` continues the
 * same run.
 */
export function identityView(cfg: DistillConfig): Record<string, unknown> {
  const def = getMethodDefinition(cfg.method);
  const extras = identityExtras.get(cfg) ?? deepMerge<Record<string, unknown>>(LEGACY_BASE, def.legacy);
  // Neither the NaN policy nor the memory order is part of a run's identity: one acts only after a
  // numerical fault, the other (like the device and the thread count) changes results in the last bits only.
  const { nan: _nan, memoryFormat: _memoryFormat, ...config } = cfg;
  return { ...deepMerge<Record<string, unknown>>(extras), ...config };
}

/** The learning rate of the method's synthesizer (generator, or DeepInversion's image optimisation). */
export function synthesizerLr(c: DistillConfig): number {
  return getMethodDefinition(c.method).synthesizerLr(c);
}
