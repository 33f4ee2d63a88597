/**
 * The method registry: each method module exports one MethodDefinition (name, description, config
 * schema sections, defaults, class) and src/distill/methods/index.ts registers it with one line.
 * Tests and library users may register their own.
 */
import type { z } from 'zod';
import { DfkdError } from '../../errors';
import type { DistillMethod, MethodContext } from '../method';
import type { BaseConfig, PartialConfig as PartialConfigInput } from '../config-schema';

export interface MethodDefinition<C extends BaseConfig = BaseConfig> {
  name: string;
  /** One line: what the method does (for --help, `dfkd study --list-presets` and docs). */
  description: string;
  /** The method's own config sections (zod shapes), beyond the common fields of config-schema.ts. */
  schema: z.ZodRawShape;
  /** Base values of its own sections (below the dataset preset). */
  defaults: PartialConfigInput;
  /** The method's published objective, step ratio and optimiser where they differ (above the dataset preset). */
  published: PartialConfigInput;
  /**
   * dfkd's own changes to fields the dataset preset sets (applied above `published`, below a resumed run's
   * record, the user's config and flags), each earned by a committed study (docs/methods.md). Additions
   * to the method's own sections, which no dataset preset sets, live in `defaults`.
   */
  additions?: PartialConfigInput;
  /**
   * Values of fields earlier versions kept in every config (the method never reads them) that are part
   * of the identity (configHash) of runs made before: with them, those runs still resolve.
   */
  legacy: { adversarial: string } & PartialConfigInput;
  /** The learning rate of its synthesizer (for reports). */
  synthesizerLr(cfg: C): number;
  create(ctx: MethodContext): DistillMethod;
}

const methods = new Map<string, MethodDefinition>();

/** Registers a method; a second registration of a name replaces the first. */
export function registerMethod<C extends BaseConfig>(def: MethodDefinition<C>): void {
  methods.set(def.name, def as unknown as MethodDefinition);
}

export function getMethodDefinition(name: string): MethodDefinition {
  const d = methods.get(name);
  if (!d) throw new DfkdError(`unknown method '${name}' (known: ${methodNames().join(', ')})`, 'ECONFIG');
  return d;
}

export function methodNames(): string[] {
  return [...methods.keys()];
}

export function listMethods(): MethodDefinition[] {
  return [...methods.values()];
}
