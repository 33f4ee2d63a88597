/**
 * The model zoo. Importing this module (or ./registry) registers every built-in model:
 * classifiers lenet5, lenet5-half, resnet8, resnet8-half, resnet20, resnet18, resnet34, wrn-16-1, wrn-16-2,
 * wrn-40-2, vgg5, vgg5-small, vgg11 and the DAFL generator `generator`.
 */
export * from './registry';
export { Generator, GeneratorConfig } from './generator';
export { LeNet5, LeNet5Options } from './lenet';
export { BasicBlock, CifarResNet, CifarResNetOptions } from './resnet';
export { WideResNet, WideResNetOptions, WideBasicBlock, NetworkBlock } from './wrn';
export { VGG, VGGOptions, VGG_CONFIGS } from './vgg';
export { modelFamily, familyStudentFor, defaultStudentFor, FALLBACK_STUDENT } from './family';
