/**
 * The DAFL generator (Chen et al., 2019), as in the official DAFL / TA-DFKD PyTorch code, with a
 * Sigmoid output so that images lie in [0, 1] (normalising with the dataset mean/std happens
 * outside) and without the official trailing BatchNorm2d(C, affine=False):
 *
 *   l1           = Sequential(Linear(nz, width*s*s))                 s = imageSize / 4
 *   view [N, width, s, s]
 *   conv_blocks0 = Sequential(BatchNorm2d(width))
 *   upsample x2 (nearest)
 *   conv_blocks1 = Sequential(Conv2d(width, width, 3, 1, 1), BatchNorm2d(width, eps=0.8), LeakyReLU(0.2))
 *   upsample x2 (nearest)
 *   conv_blocks2 = Sequential(Conv2d(width, width/2, 3, 1, 1), BatchNorm2d(width/2, eps=0.8), LeakyReLU(0.2),
 *                             Conv2d(width/2, channels, 3, 1, 1), Sigmoid)
 *
 * (`BatchNorm2d(128, 0.8)` in the official code passes 0.8 as eps.) State-dict names match the
 * official ones: l1.0.weight, conv_blocks0.0.running_mean, conv_blocks1.1.weight, conv_blocks2.3.bias...
 */
import { Tensor, F } from '../tensor';
import { Module, Sequential, Linear, BatchNorm2d, Conv2d, LeakyReLU, Sigmoid } from '../nn';

export interface GeneratorConfig {
  /** Latent dimension (DAFL: 100 for MNIST, 1000 for CIFAR). */
  nz: number;
  /** Base width (128 in the paper); must be even. */
  width: number;
  /** Output side length; must be a multiple of 4 (28 and 32 are the usual ones). */
  imageSize: number;
  /** Output channels. */
  channels: number;
}

export class Generator extends Module {
  readonly l1: Sequential;
  readonly conv_blocks0: Sequential;
  readonly conv_blocks1: Sequential;
  readonly conv_blocks2: Sequential;
  readonly nz: number;
  readonly width: number;
  readonly imageSize: number;
  readonly channels: number;
  /** imageSize / 4: the side of the map l1 produces. */
  readonly initSize: number;

  constructor(o: GeneratorConfig) {
    super();
    const posInt = (v: number): boolean => Number.isInteger(v) && v > 0;
    if (!posInt(o.nz)) throw new RangeError(`Generator: nz must be a positive integer, got ${o.nz}`);
    if (!posInt(o.width) || o.width % 2 !== 0) throw new RangeError(`Generator: width must be a positive even integer, got ${o.width}`);
    if (!posInt(o.imageSize) || o.imageSize % 4 !== 0) throw new RangeError(`Generator: imageSize must be a positive multiple of 4, got ${o.imageSize}`);
    if (!posInt(o.channels)) throw new RangeError(`Generator: channels must be a positive integer, got ${o.channels}`);
    this.nz = o.nz;
    this.width = o.width;
    this.imageSize = o.imageSize;
    this.channels = o.channels;
    this.initSize = o.imageSize / 4;
    const w = o.width;
    const s = this.initSize;
    this.l1 = this.registerModule('l1', new Sequential(new Linear(o.nz, w * s * s)));
    this.conv_blocks0 = this.registerModule('conv_blocks0', new Sequential(new BatchNorm2d(w)));
    this.conv_blocks1 = this.registerModule(
      'conv_blocks1',
      new Sequential(new Conv2d(w, w, 3, { stride: 1, padding: 1 }), new BatchNorm2d(w, { eps: 0.8 }), new LeakyReLU(0.2, true)),
    );
    this.conv_blocks2 = this.registerModule(
      'conv_blocks2',
      new Sequential(
        new Conv2d(w, w / 2, 3, { stride: 1, padding: 1 }),
        new BatchNorm2d(w / 2, { eps: 0.8 }),
        new LeakyReLU(0.2, true),
        new Conv2d(w / 2, o.channels, 3, { stride: 1, padding: 1 }),
        new Sigmoid(),
      ),
    );
  }

  /** z [N, nz] -> images [N, channels, imageSize, imageSize] in [0, 1]. */
  forward(z: Tensor): Tensor {
    const s = z.shape;
    if (s.length !== 2 || s[1] !== this.nz) throw new Error(`Generator: expected latent codes [N,${this.nz}], got [${s.join(',')}]`);
    const out = this.l1.call(z).reshape([s[0], this.width, this.initSize, this.initSize]);
    let img = this.conv_blocks0.call(out);
    img = F.interpolate(img, { scaleFactor: 2, mode: 'nearest' });
    img = this.conv_blocks1.call(img);
    img = F.interpolate(img, { scaleFactor: 2, mode: 'nearest' });
    return this.conv_blocks2.call(img);
  }
}
