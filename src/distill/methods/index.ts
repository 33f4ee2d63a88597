/** Method registry: name -> constructor. */
import type { MethodName } from '../config';
import type { DistillMethod, MethodContext } from '../method';
import { TADFKD } from './ta-dfkd';
import { DAFL } from './dafl';
import { DFAD } from './dfad';
import { ZSKT } from './zskt';
import { DFQ } from './dfq';
import { DeepInversion } from './deepinv';

export const METHOD_CLASSES: Record<MethodName, new (ctx: MethodContext) => DistillMethod> = {
  'ta-dfkd': TADFKD,
  dafl: DAFL,
  dfad: DFAD,
  zskt: ZSKT,
  dfq: DFQ,
  deepinv: DeepInversion,
};

export function createMethod(name: MethodName, ctx: MethodContext): DistillMethod {
  return new METHOD_CLASSES[name](ctx);
}

export { TADFKD, DAFL, DFAD, ZSKT, DFQ, DeepInversion };
