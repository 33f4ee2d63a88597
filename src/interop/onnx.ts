/**
 * Export zoo classifiers (teachers or distilled students) to ONNX.
 *
 * The protobuf encoding comes from the npm package `onnx-proto` (the official onnx.proto compiled
 * to a protobufjs static module). The graph is built by walking the zoo's module structure: one
 * emitter per layer type (Conv2d, BatchNorm, ReLU/LeakyReLU/Sigmoid/Tanh, MaxPool2d, AvgPool2d,
 * AdaptiveAvgPool2d(1) -> GlobalAveragePool, Flatten, Linear -> Gemm, Dropout/Identity, Sequential)
 * and, because forward() is imperative code, one function per zoo class (LeNet5, CifarResNet with
 * its BasicBlocks, WideResNet with its pre-activation blocks, VGG) that wires the layers the way
 * its forward() does, residual Adds included.
 *
 * The model is always exported in eval form: BatchNorm either as BatchNormalization nodes
 * (inference mode, with the running statistics) or folded into the preceding convolution
 * (`foldBatchNorm`). Input `input` [batch, C, H, W] (dynamic batch: dim_param 'batch'), output
 * `logits` [batch, K], opset 13. metadata_props carry what a deployer needs to feed it: the
 * normalisation (mean, std per channel, after scaling pixels to [0, 1]), the dataset, the class
 * names, the architecture and the dfkd version.
 */
import * as os from 'os';
import { onnx } from 'onnx-proto';
import { DfkdError } from '../errors';
import { loadModelDir, type ModelRecord } from '../io/model-dir';
import { Tensor } from '../tensor';
import {
  Module,
  Sequential,
  Conv2d,
  BatchNorm,
  Linear,
  ReLU,
  LeakyReLU,
  Sigmoid,
  Tanh,
  MaxPool2d,
  AvgPool2d,
  AdaptiveAvgPool2d,
  Flatten,
  Dropout,
  Identity,
} from '../nn';
import { listModelNames } from '../models';
import type { Classifier } from '../models/registry';
import { LeNet5 } from '../models/lenet';
import { CifarResNet, BasicBlock } from '../models/resnet';
import { WideResNet, WideBasicBlock, NetworkBlock } from '../models/wrn';
import { VGG } from '../models/vgg';
import { getDatasetInfo, channelNormalisation } from '../data/registry';
import { writeFileAtomic } from '../io/atomic';
import { checkOutputFile } from '../io/safe-out';
import { DFKD_VERSION } from '../versions';

/** Export formats `dfkd export` understands. */
export const EXPORT_FORMATS = ['onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The ONNX opset the exporter writes (every operator used exists unchanged there). */
export const ONNX_OPSET = 13;
/** ONNX IR version matching opset 13 (ONNX 1.8). */
export const ONNX_IR_VERSION = 7;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const AT = onnx.AttributeProto.AttributeType;

/** What the exporter needs to know about the model besides its weights. */
export type ModelInfo = ModelRecord;

export interface OnnxExportOptions {
  /** Fold each BatchNorm that directly follows a convolution into that convolution (default false). */
  foldBatchNorm?: boolean;
  /** Extra text appended to the model's doc string. */
  docString?: string;
}

type Attr = { name: string; i?: number; ints?: number[]; f?: number; s?: string };

function attribute(a: Attr): onnx.IAttributeProto {
  if (a.ints !== undefined) return { name: a.name, type: AT.INTS, ints: a.ints };
  if (a.i !== undefined) return { name: a.name, type: AT.INT, i: a.i };
  if (a.f !== undefined) return { name: a.name, type: AT.FLOAT, f: a.f };
  return { name: a.name, type: AT.STRING, s: Buffer.from(a.s ?? '', 'utf8') };
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

function floatBytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
  return out;
}

/** Accumulates nodes and initializers; every emitter returns the name of the value it produced. */
export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  /** A fresh value name based on `hint`. */
  fresh(hint: string): string {
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Adds a float32 constant (weights) and returns its name. */
  initializer(name: string, data: Float32Array, dims: number[]): string {
    const n = this.fresh(name);
    this.initializers.push({ name: n, dataType: FLOAT, dims, rawData: floatBytes(data) });
    return n;
  }

  /** Adds a constant from a tensor (copied as float32). */
  tensorInitializer(name: string, t: Tensor): string {
    return this.initializer(name, t.toFloat32Array(), t.shape);
  }

  /** Adds a node with one output and returns the output's name. */
  node(opType: string, inputs: string[], name: string, attrs: Attr[] = []): string {
    const nodeName = this.fresh(`${name}#${opType}`);
    const out = this.fresh(name);
    this.nodes.push({ opType, input: inputs, output: [out], name: nodeName, attribute: attrs.map(attribute) });
    return out;
  }

  /** Renames the value `from` (the output of the last node) to `to`. */
  renameOutput(from: string, to: string): void {
    const last = this.nodes[this.nodes.length - 1];
    if (last && last.output && last.output[0] === from) {
      last.output[0] = to;
      this.used.add(to);
      return;
    }
    this.nodes.push({ opType: 'Identity', input: [from], output: [to], name: this.fresh(`${to}#Identity`) });
  }
}

/** State shared by the emitters of one export. */
interface Ctx {
  b: GraphBuilder;
  names: Map<Module, string>;
  fold: boolean;
  /** Numbers of BatchNorm layers folded / emitted as nodes. */
  folded: number;
  bnNodes: number;
}

function nameOf(ctx: Ctx, m: Module): string {
  return ctx.names.get(m) || 'model';
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** Conv2d, optionally with a following BatchNorm folded in. */
function emitConv(ctx: Ctx, conv: Conv2d, x: string, bn?: BatchNorm): string {
  const n = nameOf(ctx, conv);
  const [sh, sw] = pair(conv.opts.stride ?? 1);
  const [ph, pw] = pair(conv.opts.padding ?? 0);
  const [dh, dw] = pair(conv.opts.dilation ?? 1);
  const wShape = conv.weight.shape;
  let wName: string;
  let bName: string | undefined;
  if (bn) {
    const w = conv.weight.toFloat32Array();
    const out = wShape[0];
    const per = w.length / out;
    const mean = bn.runningMean.toFloat64Array();
    const variance = bn.runningVar.toFloat64Array();
    const gamma = bn.weight ? bn.weight.toFloat64Array() : new Float64Array(out).fill(1);
    const beta = bn.bias ? bn.bias.toFloat64Array() : new Float64Array(out);
    const b0 = conv.bias ? conv.bias.toFloat64Array() : new Float64Array(out);
    const fw = new Float32Array(w.length);
    const fb = new Float32Array(out);
    for (let o = 0; o < out; o++) {
      const s = gamma[o] / Math.sqrt(variance[o] + bn.eps);
      for (let i = 0; i < per; i++) fw[o * per + i] = w[o * per + i] * s;
      fb[o] = (b0[o] - mean[o]) * s + beta[o];
    }
    wName = ctx.b.initializer(`${n}.weight`, fw, wShape);
    bName = ctx.b.initializer(`${n}.bias`, fb, [out]);
    ctx.folded++;
  } else {
    wName = ctx.b.tensorInitializer(`${n}.weight`, conv.weight);
    if (conv.bias) bName = ctx.b.tensorInitializer(`${n}.bias`, conv.bias);
  }
  return ctx.b.node('Conv', bName ? [x, wName, bName] : [x, wName], bn ? `${n}+${nameOf(ctx, bn).split('.').pop()}` : n, [
    { name: 'kernel_shape', ints: [wShape[2], wShape[3]] },
    { name: 'strides', ints: [sh, sw] },
    { name: 'pads', ints: [ph, pw, ph, pw] },
    { name: 'dilations', ints: [dh, dw] },
    { name: 'group', i: conv.opts.groups ?? 1 },
  ]);
}

function emitBatchNorm(ctx: Ctx, bn: BatchNorm, x: string): string {
  const n = nameOf(ctx, bn);
  const c = bn.numFeatures;
  const scale = bn.weight ? ctx.b.tensorInitializer(`${n}.weight`, bn.weight) : ctx.b.initializer(`${n}.weight`, new Float32Array(c).fill(1), [c]);
  const bias = bn.bias ? ctx.b.tensorInitializer(`${n}.bias`, bn.bias) : ctx.b.initializer(`${n}.bias`, new Float32Array(c), [c]);
  const mean = ctx.b.tensorInitializer(`${n}.running_mean`, bn.runningMean);
  const variance = ctx.b.tensorInitializer(`${n}.running_var`, bn.runningVar);
  ctx.bnNodes++;
  return ctx.b.node('BatchNormalization', [x, scale, bias, mean, variance], n, [
    { name: 'epsilon', f: bn.eps },
    { name: 'momentum', f: 1 - bn.momentum },
  ]);
}

function emitLinear(ctx: Ctx, l: Linear, x: string): string {
  const n = nameOf(ctx, l);
  const w = ctx.b.tensorInitializer(`${n}.weight`, l.weight);
  const inputs = [x, w];
  if (l.bias) inputs.push(ctx.b.tensorInitializer(`${n}.bias`, l.bias));
  return ctx.b.node('Gemm', inputs, n, [
    { name: 'alpha', f: 1 },
    { name: 'beta', f: 1 },
    { name: 'transB', i: 1 },
  ]);
}

function emitPool(ctx: Ctx, op: 'MaxPool' | 'AveragePool', m: MaxPool2d | AvgPool2d, x: string): string {
  const k = m.kernel;
  const s = m.stride ?? m.kernel;
  const p = m.padding;
  const attrs: Attr[] = [
    { name: 'kernel_shape', ints: [k, k] },
    { name: 'strides', ints: [s, s] },
    { name: 'pads', ints: [p, p, p, p] },
  ];
  // PyTorch's avg_pool2d counts padded zeros by default (count_include_pad=True).
  if (op === 'AveragePool') attrs.push({ name: 'count_include_pad', i: 1 });
  return ctx.b.node(op, [x], nameOf(ctx, m), attrs);
}

function unsupportedLayer(ctx: Ctx, m: Module): never {
  throw new DfkdError(
    `ONNX export: layer '${nameOf(ctx, m)}' (${m.constructor.name}) has no ONNX emitter; supported layers: ` +
      'Conv2d, BatchNorm, ReLU, LeakyReLU, Sigmoid, Tanh, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1), Flatten, Linear, Dropout, Identity, Sequential, ' +
      'and the blocks of the zoo (BasicBlock, WideBasicBlock, NetworkBlock)',
    'EUNSUPPORTED',
  );
}

/** Emits one module (a layer or a composite of the zoo) applied to `x`. */
function emitModule(ctx: Ctx, m: Module, x: string): string {
  if (m instanceof Sequential) return emitSequential(ctx, m, x);
  if (m instanceof Conv2d) return emitConv(ctx, m, x);
  if (m instanceof BatchNorm) return emitBatchNorm(ctx, m, x);
  if (m instanceof Linear) return emitLinear(ctx, m, x);
  if (m instanceof ReLU) return ctx.b.node('Relu', [x], nameOf(ctx, m));
  if (m instanceof LeakyReLU) return ctx.b.node('LeakyRelu', [x], nameOf(ctx, m), [{ name: 'alpha', f: m.slope }]);
  if (m instanceof Sigmoid) return ctx.b.node('Sigmoid', [x], nameOf(ctx, m));
  if (m instanceof Tanh) return ctx.b.node('Tanh', [x], nameOf(ctx, m));
  if (m instanceof MaxPool2d) return emitPool(ctx, 'MaxPool', m, x);
  if (m instanceof AvgPool2d) return emitPool(ctx, 'AveragePool', m, x);
  if (m instanceof AdaptiveAvgPool2d) return emitGlobalPool(ctx, m, x);
  if (m instanceof Flatten) return ctx.b.node('Flatten', [x], nameOf(ctx, m), [{ name: 'axis', i: m.startDim }]);
  if (m instanceof Dropout || m instanceof Identity) return x; // eval mode: identity
  if (m instanceof BasicBlock) return emitBasicBlock(ctx, m, x);
  if (m instanceof WideBasicBlock) return emitWideBlock(ctx, m, x);
  if (m instanceof NetworkBlock) return emitSequential(ctx, m.layer, x);
  return unsupportedLayer(ctx, m);
}

function emitGlobalPool(ctx: Ctx, m: AdaptiveAvgPool2d | undefined, x: string, name?: string): string {
  if (m) {
    const [h, w] = pair(m.size);
    if (h !== 1 || w !== 1) {
      throw new DfkdError(`ONNX export: layer '${nameOf(ctx, m)}' is AdaptiveAvgPool2d(${h}x${w}); only output size 1 (GlobalAveragePool) is supported`, 'EUNSUPPORTED');
    }
  }
  return ctx.b.node('GlobalAveragePool', [x], name ?? nameOf(ctx, m!));
}

/** A Sequential, folding Conv2d -> BatchNorm pairs when asked to. */
function emitSequential(ctx: Ctx, s: Sequential, x: string): string {
  let y = x;
  for (let i = 0; i < s.layers.length; i++) {
    const l = s.layers[i];
    const next = s.layers[i + 1];
    if (ctx.fold && l instanceof Conv2d && next instanceof BatchNorm) {
      y = emitConv(ctx, l, y, next);
      i++;
      continue;
    }
    y = emitModule(ctx, l, y);
  }
  return y;
}

function convBn(ctx: Ctx, conv: Conv2d, bn: BatchNorm, x: string): string {
  return ctx.fold ? emitConv(ctx, conv, x, bn) : emitBatchNorm(ctx, bn, emitConv(ctx, conv, x));
}

/** relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). */
function emitBasicBlock(ctx: Ctx, blk: BasicBlock, x: string): string {
  const n = nameOf(ctx, blk);
  const h = ctx.b.node('Relu', [convBn(ctx, blk.conv1, blk.bn1, x)], `${n}.relu1`);
  const y = convBn(ctx, blk.conv2, blk.bn2, h);
  const sc = blk.shortcut.layers.length > 0 ? emitSequential(ctx, blk.shortcut, x) : x;
  return ctx.b.node('Relu', [ctx.b.node('Add', [y, sc], `${n}.add`)], `${n}.relu`);
}

/** Pre-activation block: pre = relu1(bn1(x)); out = conv2(relu2(bn2(conv1(pre)))); + x or convShortcut(pre). */
function emitWideBlock(ctx: Ctx, blk: WideBasicBlock, x: string): string {
  const n = nameOf(ctx, blk);
  const pre = emitModule(ctx, blk.relu1, emitBatchNorm(ctx, blk.bn1, x));
  const h = emitModule(ctx, blk.relu2, emitBatchNorm(ctx, blk.bn2, emitConv(ctx, blk.conv1, pre)));
  const out = emitConv(ctx, blk.conv2, h);
  const sc = blk.convShortcut ? emitConv(ctx, blk.convShortcut, pre) : x;
  return ctx.b.node('Add', [sc, out], `${n}.add`);
}

// ---------------------------------------------------------------- one function per zoo class
function exportLeNet5(ctx: Ctx, m: LeNet5, x: string): string {
  const f = emitSequential(ctx, m.features, x);
  return emitSequential(ctx, m.classifier, ctx.b.node('Flatten', [f], 'flatten', [{ name: 'axis', i: 1 }]));
}

function exportCifarResNet(ctx: Ctx, m: CifarResNet, x: string): string {
  let y = ctx.b.node('Relu', [convBn(ctx, m.conv1, m.bn1, x)], 'relu');
  for (const layer of m.layers) y = emitSequential(ctx, layer, y);
  y = emitGlobalPool(ctx, m.avgpool, y);
  return emitLinear(ctx, m.linear, ctx.b.node('Flatten', [y], 'flatten', [{ name: 'axis', i: 1 }]));
}

function exportWideResNet(ctx: Ctx, m: WideResNet, x: string): string {
  let y = emitConv(ctx, m.conv1, x);
  for (const blk of [m.block1, m.block2, m.block3]) y = emitSequential(ctx, blk.layer, y);
  y = emitModule(ctx, m.relu, emitBatchNorm(ctx, m.bn1, y));
  y = emitGlobalPool(ctx, undefined, y, 'pool');
  return emitLinear(ctx, m.fc, ctx.b.node('Flatten', [y], 'flatten', [{ name: 'axis', i: 1 }]));
}

function exportVGG(ctx: Ctx, m: VGG, x: string): string {
  const y = emitGlobalPool(ctx, m.avgpool, emitSequential(ctx, m.features, x));
  return emitLinear(ctx, m.classifier, ctx.b.node('Flatten', [y], 'flatten', [{ name: 'axis', i: 1 }]));
}

type ClassExporter = (ctx: Ctx, m: never, x: string) => string;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const CLASS_EXPORTERS: [abstract new (...args: any[]) => Module, ClassExporter][] = [
  [LeNet5, exportLeNet5 as ClassExporter],
  [CifarResNet, exportCifarResNet as ClassExporter],
  [WideResNet, exportWideResNet as ClassExporter],
  [VGG, exportVGG as ClassExporter],
];

/** Zoo architectures the ONNX exporter handles (every built-in classifier). */
export const ONNX_ARCHS = ['lenet5', 'lenet5-half', 'resnet8', 'resnet8-half', 'resnet20', 'resnet18', 'resnet34', 'wrn-16-1', 'wrn-16-2', 'wrn-40-2', 'vgg5', 'vgg5-small', 'vgg11'];

function supportedArchsText(): string {
  const known = new Set(listModelNames('classifier'));
  return ONNX_ARCHS.filter((a) => known.has(a)).join(', ');
}

/** The normalisation (and class names) a model of `dataset` with `inChannels` input channels expects. */
export function normalisationFor(dataset: string, inChannels: number): { mean: number[]; std: number[]; classNames: string[] } {
  const d = getDatasetInfo(dataset);
  const n = channelNormalisation(d, inChannels);
  if (!n) throw new DfkdError(`dataset '${dataset}' has mean/std for ${d.mean.length} channel(s) but the model takes ${inChannels}`, 'ESHAPE');
  return { ...n, classNames: d.classNames };
}

function valueInfo(name: string, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

export interface OnnxModelSummary {
  bytes: Uint8Array;
  nodes: number;
  initializers: number;
  foldedBatchNorms: number;
  batchNormNodes: number;
  metadata: Record<string, string>;
}

/**
 * Builds the ONNX model of `model` (a zoo classifier; exported in eval form whatever its mode).
 * Throws a DfkdError naming the supported architectures for a class without an exporter.
 */
export function classifierToOnnx(model: Classifier, info: ModelInfo, opts: OnnxExportOptions = {}): OnnxModelSummary {
  const entry = CLASS_EXPORTERS.find(([cls]) => model instanceof cls);
  if (!entry) {
    throw new DfkdError(
      `cannot export architecture '${info.arch}' (${model.constructor.name}) to ONNX: no exporter for it; supported architectures: ${supportedArchsText()}`,
      'EUNSUPPORTED',
    );
  }
  const norm = normalisationFor(info.dataset, info.inChannels);
  const names = new Map<Module, string>();
  for (const [n, m] of model.namedModules()) names.set(m, n);
  const ctx: Ctx = { b: new GraphBuilder(), names, fold: opts.foldBatchNorm === true, folded: 0, bnNodes: 0 };
  ctx.b.fresh('input');
  const y = entry[1](ctx, model as never, 'input');
  ctx.b.renameOutput(y, 'logits');

  const s = info.imageSize;
  const normText = `x[c] = (pixel[c] / 255 - mean[c]) / std[c] with mean [${norm.mean.join(', ')}] and std [${norm.std.join(', ')}]`;
  const doc =
    `dfkd ${DFKD_VERSION} export of '${info.arch}' (${info.numClasses} classes, dataset ${info.dataset}). ` +
    `Input 'input': float32 [batch, ${info.inChannels}, ${s}, ${s}], pixels scaled to [0, 1] then normalised per channel: ${normText}` +
    `${info.dataset === 'mnist' || info.dataset === 'fashion-mnist' ? ' (28x28 images are zero-padded to 32x32, 2 pixels on each side, before normalising)' : ''}. ` +
    `Output 'logits': float32 [batch, ${info.numClasses}] (apply softmax for probabilities). ` +
    `BatchNorm in inference form (${ctx.fold ? 'folded into the convolutions where it follows one' : 'BatchNormalization nodes with the running statistics'}).` +
    (opts.docString ? ` ${opts.docString}` : '');
  const metadata: Record<string, string> = {
    arch: info.arch,
    dataset: info.dataset,
    num_classes: String(info.numClasses),
    in_channels: String(info.inChannels),
    image_size: String(s),
    mean: JSON.stringify(norm.mean),
    std: JSON.stringify(norm.std),
    pixel_scale: String(1 / 255),
    normalisation: normText,
    class_names: JSON.stringify(norm.classNames.length === info.numClasses ? norm.classNames : norm.classNames.slice(0, info.numClasses)),
    input_name: 'input',
    output_name: 'logits',
    dfkd_version: DFKD_VERSION,
  };
  const graph: onnx.IGraphProto = {
    name: `dfkd-${info.arch}`,
    node: ctx.b.nodes,
    initializer: ctx.b.initializers,
    input: [valueInfo('input', ['batch', info.inChannels, s, s])],
    output: [valueInfo('logits', ['batch', info.numClasses])],
    docString: doc,
  };
  const proto: onnx.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'dfkd',
    producerVersion: DFKD_VERSION,
    modelVersion: 1,
    docString: doc,
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
  const bytes = onnx.ModelProto.encode(proto).finish();
  return { bytes, nodes: ctx.b.nodes.length, initializers: ctx.b.initializers.length, foldedBatchNorms: ctx.folded, batchNormNodes: ctx.bnNodes, metadata };
}

export interface ExportOptions extends OnnxExportOptions {
  /** Teacher or distilled student directory. */
  model: string;
  format: string;
  out: string;
  /** Replace an existing file at `out` (default false: refused). */
  force?: boolean;
}

export interface ExportResult extends Omit<OnnxModelSummary, 'bytes'> {
  out: string;
  format: ExportFormat;
  record: ModelInfo;
  sizeBytes: number;
}

/** Throws a DfkdError listing the supported formats unless `format` is one of them. */
export function checkExportFormat(format: string): ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new DfkdError(`unsupported export format '${format}'; supported formats: ${EXPORT_FORMATS.join(', ')}`, 'EUSAGE');
  }
  return format as ExportFormat;
}

/** `dfkd export`: a model directory to an ONNX file. */
export function exportModel(opts: ExportOptions): ExportResult {
  const format = checkExportFormat(opts.format);
  checkOutputFile(opts.out, opts.force === true);
  const { model, record } = loadModelDir(opts.model);
  try {
    model.eval();
    const r = classifierToOnnx(model, record, opts);
    writeFileAtomic(opts.out, r.bytes);
    const { bytes, ...rest } = r;
    return { ...rest, out: opts.out, format, record, sizeBytes: bytes.length };
  } finally {
    model.dispose();
  }
}
