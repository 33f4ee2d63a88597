/**
 * Wide ResNets (Zagoruyko & Komodakis) as in the DFKD literature (ZSKT, DFAD, CMI):
 * pre-activation blocks, depth d => n = (d-4)/6 blocks per group, widths [16, 16k, 32k, 64k],
 * no dropout. Module names follow the ZSKT/Zagoruyko PyTorch code:
 *   conv1, block{1,2,3}.layer.{i}.bn1/relu1/conv1/bn2/relu2/conv2[/convShortcut], bn1, relu, fc.
 * Convolutions use that code's init (kaiming-normal, fan_out), Linear biases start at zero.
 */
import { Tensor, noGrad } from '../tensor';
import { Module, Sequential, Conv2d, BatchNorm2d, ReLU, Linear, AdaptiveAvgPool2d } from '../nn';
import type { Classifier } from './registry';

/** The pre-activation block: BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus identity or 1x1 projection. */
export class WideBasicBlock extends Module {
  readonly bn1: BatchNorm2d;
  readonly relu1: ReLU;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly relu2: ReLU;
  readonly conv2: Conv2d;
  /** Present when in != out (the shortcut then takes the pre-activated input, as in the original). */
  readonly convShortcut?: Conv2d;
  readonly equalInOut: boolean;

  constructor(inPlanes: number, outPlanes: number, stride: number) {
    super();
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(inPlanes));
    this.relu1 = this.registerModule('relu1', new ReLU());
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, outPlanes, 3, { stride, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(outPlanes));
    this.relu2 = this.registerModule('relu2', new ReLU());
    this.conv2 = this.registerModule('conv2', new Conv2d(outPlanes, outPlanes, 3, { stride: 1, padding: 1, bias: false }));
    this.equalInOut = inPlanes === outPlanes;
    if (!this.equalInOut) {
      this.convShortcut = this.registerModule('convShortcut', new Conv2d(inPlanes, outPlanes, 1, { stride, padding: 0, bias: false }));
    }
  }

  forward(x: Tensor): Tensor {
    const pre = this.relu1.call(this.bn1.call(x));
    const h = this.relu2.call(this.bn2.call(this.conv1.call(pre)));
    const out = this.conv2.call(h);
    // Original: with in != out both branches start from the pre-activated input.
    return this.convShortcut ? this.convShortcut.call(pre).add(out) : x.add(out);
  }
}

/** A group of blocks; its children live under `layer` (`block1.layer.0.conv1.weight`). */
export class NetworkBlock extends Module {
  readonly layer: Sequential;
  constructor(numLayers: number, inPlanes: number, outPlanes: number, stride: number) {
    super();
    const blocks: WideBasicBlock[] = [];
    for (let i = 0; i < numLayers; i++) blocks.push(new WideBasicBlock(i === 0 ? inPlanes : outPlanes, outPlanes, i === 0 ? stride : 1));
    this.layer = this.registerModule('layer', new Sequential(...blocks));
  }
  forward(x: Tensor): Tensor {
    return this.layer.call(x);
  }
}

export interface WideResNetOptions {
  inChannels: number;
  numClasses: number;
  /** Depth d with (d - 4) divisible by 6 (16, 22, 28, 40, ...). */
  depth: number;
  /** Widening factor k. */
  widenFactor: number;
}

export class WideResNet extends Module implements Classifier {
  readonly conv1: Conv2d;
  readonly block1: NetworkBlock;
  readonly block2: NetworkBlock;
  readonly block3: NetworkBlock;
  readonly bn1: BatchNorm2d;
  readonly relu: ReLU;
  readonly fc: Linear;
  readonly featureLayer: Module;
  readonly blocks: Module[];
  readonly inChannels: number;
  readonly numClasses: number;
  readonly featureDim: number;
  private readonly pool = new AdaptiveAvgPool2d(1);

  constructor(o: WideResNetOptions) {
    super();
    if (!Number.isInteger(o.depth) || o.depth < 10 || (o.depth - 4) % 6 !== 0) {
      throw new Error(`WideResNet: depth must be 6n+4 (16, 22, 28, 40, ...), got ${o.depth}`);
    }
    if (!Number.isInteger(o.widenFactor) || o.widenFactor < 1) throw new Error(`WideResNet: widenFactor must be a positive integer, got ${o.widenFactor}`);
    const n = (o.depth - 4) / 6;
    const k = o.widenFactor;
    const ch = [16, 16 * k, 32 * k, 64 * k];
    this.inChannels = o.inChannels;
    this.numClasses = o.numClasses;
    this.featureDim = ch[3];
    this.conv1 = this.registerModule('conv1', new Conv2d(o.inChannels, ch[0], 3, { stride: 1, padding: 1, bias: false }));
    this.block1 = this.registerModule('block1', new NetworkBlock(n, ch[0], ch[1], 1));
    this.block2 = this.registerModule('block2', new NetworkBlock(n, ch[1], ch[2], 2));
    this.block3 = this.registerModule('block3', new NetworkBlock(n, ch[2], ch[3], 2));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(ch[3]));
    this.relu = this.registerModule('relu', new ReLU());
    this.fc = this.registerModule('fc', new Linear(ch[3], o.numClasses));
    this.featureLayer = this.fc;
    this.blocks = [this.block1, this.block2, this.block3];
    noGrad(() => {
      for (const m of this.modules()) {
        if (m instanceof Conv2d) m.weight.normal_(0, Math.sqrt(2 / (m.kernelSize * m.kernelSize * m.outChannels)));
      }
      this.fc.bias?.zero_();
    });
  }

  forward(x: Tensor): Tensor {
    const s = x.shape;
    if (s.length !== 4 || s[1] !== this.inChannels) {
      throw new Error(`WideResNet: expected input [N,${this.inChannels},H,W], got [${s.join(',')}]`);
    }
    let out = this.conv1.call(x);
    out = this.block3.call(this.block2.call(this.block1.call(out)));
    out = this.relu.call(this.bn1.call(out));
    // Global average pooling (= avg_pool2d(out, 8) for 32x32 inputs).
    return this.fc.call(this.pool.call(out).flatten(1));
  }
}
