/**
 * CIFAR-style VGG with BatchNorm. `features` is numbered exactly like torchvision's vgg*_bn
 * (conv, BN, ReLU per conv entry; one MaxPool2d per 'M'); `classifier` is a single
 * Linear(512 -> K). For 32x32 inputs the final feature map is 1x1; a global average pool
 * (identity there) lets larger inputs work too.
 */
import { Tensor } from '../tensor';
import { Module, Sequential, Conv2d, BatchNorm2d, ReLU, MaxPool2d, Linear, AdaptiveAvgPool2d } from '../nn';
import type { Classifier } from './registry';

export const VGG_CONFIGS = {
  /** A small VGG for cheap BatchNorm teachers on 28-32 px grayscale data: 4 conv stages 16..128, about 99k parameters. */
  vgg5: [16, 'M', 32, 'M', 64, 'M', 128, 'M'],
  /** VGG-5 narrowed to about 20k parameters (8..48): a student of the VGG family the size of resnet8-half. */
  'vgg5-small': [8, 'M', 16, 'M', 32, 'M', 48, 'M'],
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
} as const satisfies Record<string, readonly (number | 'M')[]>;

export interface VGGOptions {
  inChannels: number;
  numClasses: number;
  cfg: readonly (number | 'M')[];
}

export class VGG extends Module implements Classifier {
  readonly features: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly classifier: Linear;
  readonly featureLayer: Module;
  /** The MaxPool2d layers: the output of each conv stage. */
  readonly blocks: Module[];
  readonly inChannels: number;
  readonly numClasses: number;
  readonly featureDim: number;

  constructor(o: VGGOptions) {
    super();
    this.inChannels = o.inChannels;
    this.numClasses = o.numClasses;
    const layers: Module[] = [];
    const pools: Module[] = [];
    let c = o.inChannels;
    for (const v of o.cfg) {
      if (v === 'M') {
        const p = new MaxPool2d(2, 2);
        layers.push(p);
        pools.push(p);
      } else {
        layers.push(new Conv2d(c, v, 3, { padding: 1 }), new BatchNorm2d(v), new ReLU(true));
        c = v;
      }
    }
    this.featureDim = c;
    this.features = this.registerModule('features', new Sequential(...layers));
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.classifier = this.registerModule('classifier', new Linear(c, o.numClasses));
    this.featureLayer = this.classifier;
    this.blocks = pools;
  }

  forward(x: Tensor): Tensor {
    const s = x.shape;
    if (s.length !== 4 || s[1] !== this.inChannels) {
      throw new Error(`VGG: expected input [N,${this.inChannels},H,W], got [${s.join(',')}]`);
    }
    return this.classifier.call(this.avgpool.call(this.features.call(x)).flatten(1));
  }
}
