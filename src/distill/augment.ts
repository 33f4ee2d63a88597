/**
 * Augmentation of synthetic batches for the student (a dfkd addition, `tadfkd.augment`; the official
 * TA-DFKD code trains the student on random-crop + horizontal-flip views). Works on normalised images
 * [N,C,H,W]; padding uses `fill` (the normalised value of a black pixel, per channel) so that shifted
 * content meets the same background as the zero-padded real inputs. Randomness comes from the torch
 * generator, so a seeded run (and a resumed one) repeats exactly.
 */
import { Tensor, Device, F, cat, rand, randint, where, onesLike } from '../tensor';

export interface AugmentOptions {
  crop: number;
  flip: boolean;
}

/** Random crop with `crop` pixels of padding (one offset per sample), then a random flip per sample. */
export function augmentBatch(x: Tensor, o: AugmentOptions, fill: Tensor): Tensor {
  let out = x;
  const [n, , h, w] = x.shape;
  if (o.crop > 0) {
    const p = o.crop;
    // Pad with 0 then add fill * (padding mask): per-channel background without a per-channel pad op.
    const inside = F.pad(onesLike(x), [p, p, p, p], 0);
    const padded = F.pad(x, [p, p, p, p], 0).add(inside.rsub(1).mul(fill));
    const off = randint(0, 2 * p + 1, [n, 2], x.device as Device).toInt32Array();
    const parts: Tensor[] = [];
    for (let i = 0; i < n; i++) parts.push(padded.narrow(0, i, 1).narrow(2, off[2 * i], h).narrow(3, off[2 * i + 1], w));
    out = cat(parts, 0);
  }
  if (o.flip) {
    const m = randint(0, 2, [n, 1, 1, 1], x.device as Device).eq(1);
    out = where(m, out.flip([3]), out);
  }
  return out;
}

/**
 * Mixup of synthetic samples (`tadfkd.mixup`): the last m rows of x become lambda * x_i + (1 - lambda) * x_j,
 * x_i the row itself, x_j a uniformly drawn row of x (any row, itself included), lambda uniform in [0, 1]
 * per mixed row. Returns the batch with the mixes in place and the mixes alone (whose targets the caller
 * recomputes). Randomness comes from the engine RNG, so seeded and resumed runs repeat it.
 */
export function mixupTail(x: Tensor, m: number): { x: Tensor; mixed: Tensor } {
  const n = x.shape[0];
  if (!Number.isInteger(m) || m < 1 || m > n) throw new Error(`mixupTail: m must be an integer in [1, ${n}], got ${m}`);
  const dev = x.device as Device;
  const tail = x.narrow(0, n - m, m);
  const partner = x.indexSelect(0, randint(0, n, [m], dev));
  const lam = rand([m, 1, 1, 1], 'float32', dev);
  const mixed = tail.mul(lam).add(partner.mul(lam.rsub(1)));
  return { x: m === n ? mixed : cat([x.narrow(0, 0, n - m), mixed], 0), mixed };
}
