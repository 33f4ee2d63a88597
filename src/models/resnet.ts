/**
 * CIFAR-style ResNets (3x3 stem, no max-pool), with the module names of kuangliu's pytorch-cifar
 * code that DAFL, DFAD and CMI use:
 *   conv1, bn1, layer{1..4}.{i}.conv1/bn1/conv2/bn2, layer{s}.{i}.shortcut.0 (1x1 conv) and
 *   .shortcut.1 (BN) where the shape changes, linear.
 * Four stages of widths 64..512 give ResNet-18/34; three stages of widths 16/32/64 give He et al.'s
 * CIFAR ResNet-(6n+2) (resnet8, resnet20) with option-B (projection) shortcuts.
 * Global average pooling before `linear` (= avg_pool2d(out, 4) / (out, 8) for 32x32 inputs), so
 * other input sizes work as well.
 */
import { Tensor } from '../tensor';
import { Module, Sequential, Conv2d, BatchNorm2d, Linear, AdaptiveAvgPool2d, reluOfTemporary } from '../nn';
import type { Classifier } from './registry';

/** The two-conv residual block of ResNet-18/34 (expansion 1). */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  /** Identity (an empty Sequential) or [1x1 conv, BN] when stride or width change. */
  readonly shortcut: Sequential;

  constructor(inPlanes: number, planes: number, stride = 1) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { stride: 1, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    const out = BasicBlock.expansion * planes;
    this.shortcut = this.registerModule(
      'shortcut',
      stride !== 1 || inPlanes !== out
        ? new Sequential(new Conv2d(inPlanes, out, 1, { stride, bias: false }), new BatchNorm2d(out))
        : new Sequential(),
    );
  }

  forward(x: Tensor): Tensor {
    const h = reluOfTemporary(this.bn1.call(this.conv1.call(x)));
    const y = this.bn2.call(this.conv2.call(h));
    return reluOfTemporary(y.add(this.shortcut.call(x)));
  }
}

export interface CifarResNetOptions {
  inChannels: number;
  numClasses: number;
  /** Blocks per stage, e.g. [2,2,2,2] (ResNet-18) or [3,3,3] (ResNet-20). */
  numBlocks: number[];
  /** Stage widths, same length as numBlocks, e.g. [64,128,256,512] or [16,32,64]. */
  widths: number[];
}

export class CifarResNet extends Module implements Classifier {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  /** layer1..layerS (S = 3 or 4). */
  readonly layers: Sequential[];
  readonly avgpool: AdaptiveAvgPool2d;
  readonly linear: Linear;
  readonly featureLayer: Module;
  readonly blocks: Module[];
  readonly inChannels: number;
  readonly numClasses: number;
  readonly featureDim: number;

  constructor(o: CifarResNetOptions) {
    super();
    if (o.numBlocks.length !== o.widths.length || o.widths.length < 1) {
      throw new Error(`CifarResNet: numBlocks [${o.numBlocks}] and widths [${o.widths}] must have the same non-zero length`);
    }
    this.inChannels = o.inChannels;
    this.numClasses = o.numClasses;
    this.conv1 = this.registerModule('conv1', new Conv2d(o.inChannels, o.widths[0], 3, { stride: 1, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(o.widths[0]));
    let inPlanes = o.widths[0];
    this.layers = o.widths.map((planes, s) => {
      const blocks: BasicBlock[] = [];
      for (let i = 0; i < o.numBlocks[s]; i++) {
        blocks.push(new BasicBlock(inPlanes, planes, i === 0 && s > 0 ? 2 : 1));
        inPlanes = planes * BasicBlock.expansion;
      }
      return this.registerModule(`layer${s + 1}`, new Sequential(...blocks));
    });
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.featureDim = inPlanes;
    this.linear = this.registerModule('linear', new Linear(inPlanes, o.numClasses));
    this.featureLayer = this.linear;
    this.blocks = [...this.layers];
  }

  forward(x: Tensor): Tensor {
    const s = x.shape;
    if (s.length !== 4 || s[1] !== this.inChannels) {
      throw new Error(`${this.constructor.name}: expected input [N,${this.inChannels},H,W], got [${s.join(',')}]`);
    }
    let out = reluOfTemporary(this.bn1.call(this.conv1.call(x)));
    for (const layer of this.layers) out = layer.call(out);
    return this.linear.call(this.avgpool.call(out).flatten(1));
  }
}
