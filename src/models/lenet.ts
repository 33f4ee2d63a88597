/**
 * LeNet-5 with BatchNorm after every convolution (the DAFL teacher/student for MNIST-like data).
 *
 * PyTorch equivalent (test/fixtures/torch_zoo.py):
 *   features   = Sequential(Conv2d(C,6,5), BN(6), ReLU, MaxPool2d(2),
 *                           Conv2d(6,16,5), BN(16), ReLU, MaxPool2d(2),
 *                           Conv2d(16,120,5), BN(120), ReLU)
 *   classifier = Sequential(Linear(120,84), ReLU, Linear(84,K))
 * 32x32 inputs only (conv3 reduces the 5x5 map to 1x1).
 */
import { Tensor } from '../tensor';
import { Module, Sequential, Conv2d, BatchNorm2d, ReLU, MaxPool2d, Linear } from '../nn';
import type { Classifier } from './registry';

export interface LeNet5Options {
  inChannels: number;
  numClasses: number;
  /** Channel widths [conv1, conv2, conv3, fc1]; default [6, 16, 120, 84]. */
  widths?: [number, number, number, number];
  /** Model name used in error messages. */
  name?: string;
}

export class LeNet5 extends Module implements Classifier {
  readonly features: Sequential;
  readonly classifier: Sequential;
  readonly featureLayer: Module;
  readonly blocks: Module[];
  readonly inChannels: number;
  readonly numClasses: number;
  readonly featureDim: number;
  private readonly name: string;

  constructor(o: LeNet5Options) {
    super();
    const [c1, c2, c3, f1] = o.widths ?? [6, 16, 120, 84];
    this.inChannels = o.inChannels;
    this.numClasses = o.numClasses;
    this.featureDim = f1;
    this.name = o.name ?? 'lenet5';
    this.features = this.registerModule(
      'features',
      new Sequential(
        new Conv2d(o.inChannels, c1, 5), new BatchNorm2d(c1), new ReLU(true), new MaxPool2d(2),
        new Conv2d(c1, c2, 5), new BatchNorm2d(c2), new ReLU(true), new MaxPool2d(2),
        new Conv2d(c2, c3, 5), new BatchNorm2d(c3), new ReLU(true),
      ),
    );
    this.classifier = this.registerModule('classifier', new Sequential(new Linear(c3, f1), new ReLU(true), new Linear(f1, o.numClasses)));
    this.featureLayer = this.classifier.layers[2];
    // The three conv stages: after pool1 [N,6,14,14], after pool2 [N,16,5,5], after relu3 [N,120,1,1].
    this.blocks = [this.features.layers[3], this.features.layers[7], this.features.layers[10]];
  }

  forward(x: Tensor): Tensor {
    const s = x.shape;
    if (s.length !== 4 || s[1] !== this.inChannels) {
      throw new Error(`${this.name}: expected input [N,${this.inChannels},32,32], got [${s.join(',')}]`);
    }
    if (s[2] !== 32 || s[3] !== 32) {
      throw new Error(`${this.name}: requires 32x32 input images, got ${s[2]}x${s[3]} (pad or resize, e.g. MNIST 28x28 -> 32x32)`);
    }
    // Intermediates are left to the caller's tidy() scope: hooks may hold on to them.
    return this.classifier.call(this.features.call(x).flatten(1));
  }
}
