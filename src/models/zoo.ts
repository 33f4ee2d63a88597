/** The built-in models, registered by src/models/registry.ts when it loads. */
import type { Classifier, ClassifierSpec, GeneratorSpec, ModelOptions, ModelSpec } from './registry';
import { LeNet5 } from './lenet';
import { CifarResNet } from './resnet';
import { WideResNet } from './wrn';
import { VGG, VGG_CONFIGS } from './vgg';
import { Generator } from './generator';

/** LeNet-5's conv stack only fits 32x32 images: fail at build time when another size is announced. */
function lenet(name: string, o: ModelOptions, widths?: [number, number, number, number]): LeNet5 {
  if (o.imageSize !== undefined && o.imageSize !== 32) {
    throw new Error(`${name} requires 32x32 input images, got imageSize ${o.imageSize} (pad or resize, e.g. MNIST 28x28 -> 32x32)`);
  }
  return new LeNet5({ inChannels: o.inChannels, numClasses: o.numClasses, widths, name });
}

function classifier(name: string, description: string, build: (o: ModelOptions) => Classifier): ClassifierSpec {
  return { name, description, kind: 'classifier', build };
}

const wrn = (depth: number, k: number): ClassifierSpec =>
  classifier(`wrn-${depth}-${k}`, `WideResNet-${depth}-${k} (Zagoruyko, pre-activation, ${(depth - 4) / 6} blocks/group, widths 16/${16 * k}/${32 * k}/${64 * k})`, (o) =>
    new WideResNet({ inChannels: o.inChannels, numClasses: o.numClasses, depth, widenFactor: k }),
  );

const generator: GeneratorSpec = {
  name: 'generator',
  description: 'DAFL generator: Linear -> BN -> up2 -> conv-BN-LReLU -> up2 -> conv-BN-LReLU-conv-Sigmoid (nz 100, width 128 by default)',
  kind: 'generator',
  build: (o) => new Generator({ nz: o.nz ?? 100, width: o.width ?? 128, imageSize: o.imageSize ?? 32, channels: o.inChannels }),
};

export const BUILTIN_MODELS: ModelSpec[] = [
  classifier('lenet5', 'LeNet-5 with BatchNorm (conv 6/16/120, fc 84), 32x32 inputs', (o) => lenet('lenet5', o)),
  classifier('lenet5-half', 'LeNet-5-half with BatchNorm (conv 3/8/60, fc 42), 32x32 inputs; the usual DFKD student', (o) => lenet('lenet5-half', o, [3, 8, 60, 42])),
  classifier('resnet8', 'CIFAR ResNet-8 (He et al., 3 stages 16/32/64, 1 block each, projection shortcuts)', (o) =>
    new CifarResNet({ inChannels: o.inChannels, numClasses: o.numClasses, numBlocks: [1, 1, 1], widths: [16, 32, 64] }),
  ),
  classifier('resnet8-half', 'ResNet-8 at half width (3 stages 8/16/32, 1 block each, projection shortcuts): a student of the ResNet family about the size of lenet5-half', (o) =>
    new CifarResNet({ inChannels: o.inChannels, numClasses: o.numClasses, numBlocks: [1, 1, 1], widths: [8, 16, 32] }),
  ),
  classifier('resnet20', 'CIFAR ResNet-20 (He et al., 3 stages 16/32/64, 3 blocks each, projection shortcuts)', (o) =>
    new CifarResNet({ inChannels: o.inChannels, numClasses: o.numClasses, numBlocks: [3, 3, 3], widths: [16, 32, 64] }),
  ),
  classifier('resnet18', 'CIFAR ResNet-18 (kuangliu: 3x3 stem, no max-pool, BasicBlock [2,2,2,2], widths 64..512)', (o) =>
    new CifarResNet({ inChannels: o.inChannels, numClasses: o.numClasses, numBlocks: [2, 2, 2, 2], widths: [64, 128, 256, 512] }),
  ),
  classifier('resnet34', 'CIFAR ResNet-34 (kuangliu: 3x3 stem, no max-pool, BasicBlock [3,4,6,3], widths 64..512)', (o) =>
    new CifarResNet({ inChannels: o.inChannels, numClasses: o.numClasses, numBlocks: [3, 4, 6, 3], widths: [64, 128, 256, 512] }),
  ),
  wrn(16, 1),
  wrn(16, 2),
  wrn(40, 2),
  classifier('vgg5', 'small VGG with BatchNorm: 4 stages of conv-BN-ReLU-maxpool (16/32/64/128), Linear 128 -> K (about 99k parameters)', (o) =>
    new VGG({ inChannels: o.inChannels, numClasses: o.numClasses, cfg: VGG_CONFIGS.vgg5 }),
  ),
  classifier('vgg5-small', 'VGG-5 narrowed to 8/16/32/48 channels, Linear 48 -> K (about 20k parameters): a student of the VGG family the size of resnet8-half', (o) =>
    new VGG({ inChannels: o.inChannels, numClasses: o.numClasses, cfg: VGG_CONFIGS['vgg5-small'] }),
  ),
  classifier('vgg11', 'VGG-11 with BatchNorm, CIFAR style (torchvision feature numbering, Linear 512 -> K)', (o) =>
    new VGG({ inChannels: o.inChannels, numClasses: o.numClasses, cfg: VGG_CONFIGS.vgg11 }),
  ),
  generator,
];
