/** The built-in methods: a new method is one file exporting a MethodDefinition plus one line here. */
import { registerMethod, getMethodDefinition } from './registry';
import type { DistillMethod, MethodContext } from '../method';
import { taDfkd, TADFKD } from './ta-dfkd';
import { dafl, DAFL } from './dafl';
import { dfad, DFAD } from './dfad';
import { zskt, ZSKT } from './zskt';
import { dfq, DFQ } from './dfq';
import { deepInversion, DeepInversion } from './deepinv';

registerMethod(taDfkd);
registerMethod(dafl);
registerMethod(dfad);
registerMethod(zskt);
registerMethod(dfq);
registerMethod(deepInversion);

/** Builds the method named `name` for a run. */
export function createMethod(name: string, ctx: MethodContext): DistillMethod {
  return getMethodDefinition(name).create(ctx);
}

export { registerMethod, getMethodDefinition, methodNames, listMethods, type MethodDefinition } from './registry';
export { TADFKD, DAFL, DFAD, ZSKT, DFQ, DeepInversion };
