/**
 * ONNX operators with weights or windows: Conv, BatchNormalization, MaxPool, AveragePool,
 * GlobalAveragePool, Gemm, MatMul, Pad. 2-D (NCHW) images only, as in dfkd's zoo.
 *
 * Padding follows ONNX: `pads` = [top, left, bottom, right] or `auto_pad` SAME_UPPER / SAME_LOWER /
 * VALID. Symmetric padding goes to the native op; anything else (asymmetric, ceil_mode) is applied
 * with an explicit constant pad first (-inf for MaxPool; for AveragePool with
 * count_include_pad = 0 the divisor is the number of real pixels in each window).
 */
import { Tensor, F, ones } from '../../tensor';
import { NodeRun, OpImpl, Value } from './values';

type Pads = { top: number; left: number; bottom: number; right: number };

function image(r: NodeRun, i = 0): Tensor {
  const x = r.tensor(i);
  if (x.ndim !== 4) r.fail(`input ${i} has shape [${x.shape.join(',')}]; dfkd runs 2-D operators on [N, C, H, W] only`);
  return x;
}

function pair(r: NodeRun, name: string, def: number): [number, number] {
  const v = r.attrInts(name);
  if (v === undefined) return [def, def];
  if (v.length !== 2) r.fail(`attribute '${name}' [${v.join(',')}] must have 2 values (2-D operator)`);
  return [v[0], v[1]];
}

/** Explicit padding of a window op from `pads` / `auto_pad` (and the extra of ceil_mode). */
function windowPads(r: NodeRun, x: Tensor, kernel: [number, number], stride: [number, number], dil: [number, number], ceil: boolean): Pads {
  const autoPad = r.attrString('auto_pad', 'NOTSET');
  const [h, w] = [x.shape[2], x.shape[3]];
  const eff = [(kernel[0] - 1) * dil[0] + 1, (kernel[1] - 1) * dil[1] + 1];
  let p: Pads;
  if (autoPad === 'NOTSET') {
    const v = r.attrInts('pads') ?? [0, 0, 0, 0];
    if (v.length !== 4) r.fail(`attribute 'pads' [${v.join(',')}] must have 4 values (2-D operator)`);
    p = { top: v[0], left: v[1], bottom: v[2], right: v[3] };
  } else if (autoPad === 'VALID') {
    p = { top: 0, left: 0, bottom: 0, right: 0 };
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const total = [0, 1].map((d) => Math.max(0, (Math.ceil([h, w][d] / stride[d]) - 1) * stride[d] + eff[d] - [h, w][d]));
    const first = total.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2)));
    p = { top: first[0], left: first[1], bottom: total[0] - first[0], right: total[1] - first[1] };
  } else {
    return r.fail(`auto_pad '${autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  }
  if (ceil) {
    // ceil_mode: extra bottom/right padding so that the last partial window counts, unless it would start in the padding.
    const extra = [0, 1].map((d) => {
      const size = [h, w][d] + (d === 0 ? p.top + p.bottom : p.left + p.right);
      let out = Math.ceil((size - eff[d]) / stride[d]) + 1;
      if ((out - 1) * stride[d] >= [h, w][d] + (d === 0 ? p.top : p.left)) out -= 1;
      return Math.max(0, (out - 1) * stride[d] + eff[d] - size);
    });
    p = { ...p, bottom: p.bottom + extra[0], right: p.right + extra[1] };
  }
  return p;
}

const symmetric = (p: Pads): boolean => p.top === p.bottom && p.left === p.right;
const anyPad = (p: Pads): boolean => p.top + p.left + p.bottom + p.right > 0;
const padArg = (p: Pads): number[] => [p.left, p.right, p.top, p.bottom];

const Conv: OpImpl = (r) => {
  const x = image(r);
  const w = r.tensor(1);
  const b = r.has(2) ? r.tensor(2) : undefined;
  if (w.ndim !== 4) r.fail(`weight has shape [${w.shape.join(',')}]; only 2-D convolutions are supported`);
  const stride = pair(r, 'strides', 1);
  const dilation = pair(r, 'dilations', 1);
  const groups = r.attrInt('group', 1);
  if (x.shape[1] !== w.shape[1] * groups) r.fail(`input has ${x.shape[1]} channels but the weight [${w.shape.join(',')}] with group ${groups} expects ${w.shape[1] * groups}`);
  const p = windowPads(r, x, [w.shape[2], w.shape[3]], stride, dilation, false);
  if (symmetric(p)) return F.conv2d(x, w, b, { stride, dilation, groups, padding: [p.top, p.left] });
  return F.conv2d(F.pad(x, padArg(p)), w, b, { stride, dilation, groups });
};

const BatchNormalization: OpImpl = (r) => {
  if (r.attrInt('training_mode', 0) !== 0 || r.node.outputs.slice(1).some((o) => o !== '')) {
    r.fail('the node is in training mode (it outputs running statistics); export the model in eval mode (model.eval(), and training=torch.onnx.TrainingMode.PRESERVE keeps the BatchNorm nodes)');
  }
  return r.host.batchNormFor(r.node).call(r.tensor(0));
};

function poolGeometry(r: NodeRun, x: Tensor): { k: [number, number]; s: [number, number]; p: Pads } {
  const k = r.attrInts('kernel_shape');
  if (!k || k.length !== 2) r.fail(`attribute 'kernel_shape' must have 2 values, got ${k ? `[${k.join(',')}]` : 'none'}`);
  const kernel: [number, number] = [k[0], k[1]];
  const dil = pair(r, 'dilations', 1);
  if (dil[0] !== 1 || dil[1] !== 1) r.fail(`pooling with dilations [${dil.join(',')}] is not supported`);
  const stride = pair(r, 'strides', 1);
  return { k: kernel, s: stride, p: windowPads(r, x, kernel, stride, dil, r.attrInt('ceil_mode', 0) === 1) };
}

const MaxPool: OpImpl = (r) => {
  if (r.node.outputs.length > 1 && r.node.outputs[1] !== '') r.fail('the Indices output of MaxPool is not supported');
  if (r.attrInt('storage_order', 0) !== 0) r.fail('storage_order 1 is not supported');
  const x = image(r);
  const { k, s, p } = poolGeometry(r, x);
  if (symmetric(p) && p.top <= k[0] / 2 && p.left <= k[1] / 2) return F.maxPool2d(x, k, s, [p.top, p.left]);
  return F.maxPool2d(F.pad(x, padArg(p), -Infinity), k, s, 0);
};

const AveragePool: OpImpl = (r) => {
  const x = image(r);
  const { k, s, p } = poolGeometry(r, x);
  if (!anyPad(p)) return F.avgPool2d(x, k, s, 0);
  const pooled = F.avgPool2d(F.pad(x, padArg(p)), k, s, 0);
  // The divisor: real pixels only (count_include_pad 0), or real and explicit pads (1); never ceil_mode's extra.
  const explicit = windowPads(r, x, k, s, [1, 1], false);
  const inner = r.attrInt('count_include_pad', 0) === 1 ? explicit : { top: 0, left: 0, bottom: 0, right: 0 };
  const h = x.shape[2] + inner.top + inner.bottom;
  const w = x.shape[3] + inner.left + inner.right;
  const mask = F.pad(ones([1, 1, h, w], 'float32', x.device as never), [p.left - inner.left, p.right - inner.right, p.top - inner.top, p.bottom - inner.bottom]);
  const frac = F.avgPool2d(mask, k, s, 0);
  return pooled.div(frac);
};

const GlobalAveragePool: OpImpl = (r) => image(r).mean([2, 3], true);

const Gemm: OpImpl = (r) => {
  const a = r.tensor(0);
  const b = r.tensor(1, a);
  const c = r.has(2) ? r.tensor(2, a) : undefined;
  const alpha = r.attrFloat('alpha', 1);
  const beta = r.attrFloat('beta', 1);
  const ta = r.attrInt('transA', 0) === 1;
  const tb = r.attrInt('transB', 0) === 1;
  if (a.ndim !== 2 || b.ndim !== 2) r.fail(`inputs must be matrices, got [${a.shape.join(',')}] and [${b.shape.join(',')}]`);
  if (!ta && tb && alpha === 1 && beta === 1 && (!c || c.ndim === 1)) return F.linear(a, b, c);
  let y = (ta ? a.transpose(0, 1) : a).matmul(tb ? b.transpose(0, 1) : b);
  if (alpha !== 1) y = y.mul(alpha);
  if (c) y = y.add(beta === 1 ? c : c.mul(beta));
  return y;
};

const MatMul: OpImpl = (r) => {
  const a = r.tensor(0);
  return a.matmul(r.tensor(1, a));
};

const Pad: OpImpl = (r) => {
  const mode = r.attrString('mode', 'constant');
  if (mode !== 'constant') r.fail(`Pad mode '${mode}' is not supported (only 'constant')`);
  const x = r.tensor(0);
  const pads = r.ints(1);
  if (r.has(3)) r.fail('Pad with an axes input (opset 18) is not supported');
  const rank = x.ndim;
  if (pads.length !== 2 * rank) r.fail(`pads [${pads.join(',')}] must have 2 x rank = ${2 * rank} values`);
  const arg: number[] = [];
  for (let d = rank - 1; d >= 0; d--) arg.push(pads[d], pads[d + rank]);
  while (arg.length > 2 && arg[arg.length - 1] === 0 && arg[arg.length - 2] === 0) arg.length -= 2;
  return F.pad(x, arg, constantValue(r, 0));
};

/** Pad's constant_value input may be a float tensor; `ints()` truncates, so read it as float here. */
function constantValue(r: NodeRun, fallback: number): number {
  if (!r.has(2)) return fallback;
  const v = r.value(2) as Value;
  if (v instanceof Tensor) return v.toFloat64Array()[0] ?? 0;
  return v.data[0] ?? 0;
}

export const NN_OPS: Record<string, OpImpl> = { Conv, BatchNormalization, MaxPool, AveragePool, GlobalAveragePool, Gemm, MatMul, Pad };
