/**
 * Sources of synthetic data. Every synthesizer has the same two verbs: `sample(n)` hands the
 * student a batch, and the method's generator step updates it (a generator's weights, or the
 * images of a pool). Images are produced in [0, 1] and normalised with the dataset's mean/std
 * before they reach a network.
 */
import { Tensor, Device, sameDevice, tensor, randn, keep, noGrad, tidy, cat, randint, randperm, F } from '../tensor';
import { Adam } from '../optim';
import { Generator } from '../models';
import { setMemoryFormat, MemoryFormat } from '../nn/memory-format';

/** Normalises [0,1] images with per-channel mean/std (the tensors are kept until dispose), on `device`. */
export class Normalizer {
  private readonly mean: Tensor;
  private readonly std: Tensor;
  constructor(mean: number[], std: number[], device?: Device) {
    this.mean = keep(tensor(Float32Array.from(mean), [1, mean.length, 1, 1], undefined, device));
    this.std = keep(tensor(Float32Array.from(std), [1, std.length, 1, 1], undefined, device));
  }
  apply(x01: Tensor): Tensor {
    return x01.sub(this.mean).div(this.std);
  }
  /** Normalised -> [0,1] (for previews). */
  invert(x: Tensor): Tensor {
    return x.mul(this.std).add(this.mean);
  }
  dispose(): void {
    this.mean.dispose();
    this.std.dispose();
  }
}

/**
 * A DAFL-style generator G(z), z ~ N(0, I), with its Adam optimiser. When the dataset's images are
 * zero-padded to the model input (28x28 in 32x32 for the MNIST family: `contentSize`), the generator
 * makes content-sized images and pads them the same way, so the teacher never sees non-zero pixels
 * where real inputs are always black. This uses the input format, not the training data.
 */
export class GeneratorSynthesizer {
  readonly generator: Generator;
  readonly optimizer: Adam;
  private readonly pad: number;
  constructor(
    readonly o: { nz: number; width: number; imageSize: number; contentSize?: number; channels: number; lr: number; betas: [number, number]; device?: Device; memoryFormat?: MemoryFormat },
    readonly norm: Normalizer,
  ) {
    const content = o.contentSize && o.contentSize < o.imageSize && (o.imageSize - o.contentSize) % 2 === 0 ? o.contentSize : o.imageSize;
    this.pad = (o.imageSize - content) / 2;
    // Initialised on the CPU (same weights for a given seed on every device), then moved before
    // the optimiser is created.
    this.generator = new Generator({ nz: o.nz, width: o.width, imageSize: content, channels: o.channels });
    if (o.device !== undefined) this.generator.to(o.device);
    if (o.memoryFormat === 'channels-last') setMemoryFormat(this.generator, 'channels-last');
    this.optimizer = new Adam(this.generator.parameters(), { lr: o.lr, betas: o.betas });
  }
  /**
   * Fresh weights (drawn like the first ones, from the engine RNG on the CPU) and a fresh optimiser
   * state, in place: the parameters the optimiser holds stay the same tensors.
   */
  reinit(): void {
    const fresh = new Generator({ nz: this.o.nz, width: this.o.width, imageSize: this.o.imageSize - 2 * this.pad, channels: this.o.channels });
    try {
      this.generator.loadStateDict(fresh.stateDict(), { origin: 'a freshly initialised generator' });
    } finally {
      fresh.dispose();
    }
    this.optimizer.loadStateDict({ meta: { ...this.optimizer.stateDict().meta, stepCount: 0 }, tensors: new Map() });
  }
  /** Generates n images; returns them in [0,1] and normalised. Gradients flow unless under noGrad. */
  generate(n: number): { x01: Tensor; x: Tensor } {
    const z = randn([n, this.o.nz], 'float32', this.o.device);
    const g = this.generator.call(z);
    const x01 = this.pad > 0 ? F.pad(g, [this.pad, this.pad, this.pad, this.pad], 0) : g;
    return { x01, x: this.norm.apply(x01) };
  }
  /** A batch for the student: no gradient to the generator. */
  sample(n: number): Tensor {
    return noGrad(() => this.generate(n).x);
  }
  state(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [k, t] of this.generator.stateDict()) out.set(`generator.${k}`, t);
    for (const [k, t] of this.optimizer.stateDict().tensors) out.set(`optG.${k}`, t);
    return out;
  }
  /** The `generator.*` and `optG.*` entries of a checkpoint's state and meta (what `state` saved). */
  load(t: Map<string, Tensor>, meta: Record<string, number | boolean>): void {
    const gen = new Map<string, Tensor>();
    const opt = new Map<string, Tensor>();
    for (const [k, v] of t) {
      if (k.startsWith('generator.')) gen.set(k.slice('generator.'.length), v);
      else if (k.startsWith('optG.')) opt.set(k.slice('optG.'.length), v);
    }
    this.generator.loadStateDict(gen, { origin: 'checkpoint (generator)' });
    const optMeta = Object.fromEntries(
      Object.entries(meta)
        .filter(([k]) => k.startsWith('optG.'))
        .map(([k, v]) => [k.slice('optG.'.length), v]),
    );
    this.optimizer.loadStateDict({ meta: optMeta, tensors: opt });
  }
  /** The optimiser's scalar state under `optG.*` (the checkpoint meta `load` reads). */
  meta(): Record<string, number | boolean> {
    const m = this.optimizer.stateDict().meta;
    return Object.fromEntries(Object.entries(m).map(([k, v]) => [`optG.${k}`, v]));
  }
  dispose(): void {
    this.optimizer.dispose();
    this.generator.dispose();
  }
}

/**
 * DeepInversion's source: batches of images optimised directly (no generator) and kept in a
 * fixed-size pool; the student samples random batches from the pool.
 *
 * It looks like TA-DFKD's ReplayBuffer (src/distill/replay.ts) but is not one: it holds images without
 * teacher logits (DeepInversion's KL targets are recomputed), draws a batch without replacement
 * (randperm) where the buffer draws with replacement, and grows by concatenation. Making either the
 * other would change the engine RNG draws, and so every recorded run, of the method it serves.
 */
export class ImagePool {
  private images: Tensor | undefined;
  constructor(readonly capacity: number) {}
  get size(): number {
    return this.images ? this.images.shape[0] : 0;
  }
  /** Adds normalised images (detached, copied); the oldest are dropped beyond capacity. */
  add(x: Tensor): void {
    const next = tidy(() => {
      const merged = this.images ? cat([this.images, x.detach()], 0) : x.detach().clone();
      const n = merged.shape[0];
      return n > this.capacity ? merged.narrow(0, n - this.capacity, this.capacity).contiguous() : merged;
    });
    this.images?.dispose();
    this.images = keep(next);
  }
  /** A random batch of n images (with replacement when the pool is smaller than n). */
  sample(n: number): Tensor {
    if (!this.images) throw new Error('ImagePool: empty; synthesise images first');
    const size = this.size;
    // Indices on the pool's device (drawn from that device's generator).
    const dev = this.images.device as Device;
    const idx = size >= n ? randperm(size, dev).narrow(0, 0, n) : randint(0, size, [n], dev);
    return this.images.indexSelect(0, idx);
  }
  all(): Tensor | undefined {
    return this.images;
  }
  /** Replaces the pool with a copy of `x`, on `device` when given (checkpoints are read onto the CPU). */
  set(x: Tensor, device?: Device): void {
    this.images?.dispose();
    this.images = keep(device && !sameDevice(x.device, device) ? x.to(device) : x.clone());
  }
  dispose(): void {
    this.images?.dispose();
    this.images = undefined;
  }
}
