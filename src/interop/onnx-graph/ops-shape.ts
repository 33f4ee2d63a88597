/**
 * ONNX operators that move data or compute shapes: Flatten, Reshape, Transpose, Concat, Shape,
 * Gather, Unsqueeze, Squeeze, Slice, ReduceMean, Constant, ConstantOfShape, Cast. Shapes, axes and
 * indices are host integers (what exporters emit around a flatten: Shape -> Gather -> Unsqueeze ->
 * Concat -> Reshape, and around F.pad: ConstantOfShape -> Concat -> Reshape -> Slice -> Transpose -> Cast).
 */
import { Tensor, tensor, cat, full } from '../../tensor';
import { NodeRun, OpImpl, Value, Ints, isInts, ints } from './values';

const prod = (v: number[]): number => v.reduce((a, b) => a * b, 1);

const Shape: OpImpl = (r) => {
  const v = r.value(0);
  const dims = isInts(v) ? v.dims : v.shape;
  const rank = dims.length;
  const clampAxis = (a: number): number => Math.min(rank, Math.max(0, a < 0 ? a + rank : a));
  const start = clampAxis(r.attrInt('start', 0));
  const end = clampAxis(r.attrInt('end', rank));
  return ints(dims.slice(start, end));
};

const Constant: OpImpl = (r) => {
  const t = r.attrTensor('value');
  if (t) return t.kind === 'int' ? ints([...(t.data as number[])], t.dims) : tensor(Float32Array.from(t.data as Float32Array), t.dims);
  const a = r.node.attrs;
  if (a.has('value_int')) return ints([r.attrInt('value_int')], []);
  if (a.has('value_ints')) return ints(r.attrInts('value_ints')!);
  if (a.has('value_float')) return tensor(new Float32Array([r.attrFloat('value_float', 0)]), []);
  if (a.has('value_floats')) {
    const f = a.get('value_floats') as number[];
    return tensor(Float32Array.from(f), [f.length]);
  }
  return r.fail(`needs one of the attributes value, value_int, value_ints, value_float, value_floats (got ${[...a.keys()].join(', ') || 'none'})`);
};

function indexTensor(idx: number[], size: number, like: Tensor): Tensor {
  const norm = idx.map((i) => (i < 0 ? i + size : i));
  return tensor(BigInt64Array.from(norm.map((i) => BigInt(i))), [norm.length], 'int64', like.device as never);
}

const Gather: OpImpl = (r) => {
  const data = r.value(0);
  const idxV = r.value(1);
  const idx = r.ints(1);
  const idxDims = isInts(idxV) ? idxV.dims : idxV.shape;
  if (isInts(data)) {
    if (data.dims.length > 1) r.fail('Gather on a multi-dimensional integer value is not supported');
    const n = data.data.length;
    return ints(idx.map((i) => data.data[i < 0 ? i + n : i]), idxDims);
  }
  const axis = r.axis(r.attrInt('axis', 0), data.ndim);
  const size = data.shape[axis];
  if (idx.some((i) => i < -size || i >= size)) r.fail(`index out of range [${-size}, ${size}) on axis ${axis}: [${idx.join(',')}]`);
  if (idxDims.length === 0) return data.select(axis, idx[0] < 0 ? idx[0] + size : idx[0]);
  const picked = data.indexSelect(axis, indexTensor(idx, size, data));
  if (idxDims.length === 1) return picked;
  const s = data.shape;
  return picked.reshape([...s.slice(0, axis), ...idxDims, ...s.slice(axis + 1)]);
};

/** Axes from the attribute (before opset 13) or the second input (13+). */
function axesOf(r: NodeRun): number[] | undefined {
  if (r.opset >= 13) return r.has(1) ? r.ints(1) : undefined;
  return r.attrInts('axes');
}

function unsqueezeDims(r: NodeRun, dims: number[], axes: number[]): number[] {
  const rank = dims.length + axes.length;
  const norm = axes.map((a) => r.axis(a, rank)).sort((a, b) => a - b);
  const out = [...dims];
  for (const a of norm) out.splice(a, 0, 1);
  return out;
}

const Unsqueeze: OpImpl = (r) => {
  const v = r.value(0);
  const axes = axesOf(r);
  if (!axes || axes.length === 0) return r.fail('needs axes');
  if (isInts(v)) return ints(v.data, unsqueezeDims(r, v.dims, axes));
  return v.reshape(unsqueezeDims(r, v.shape, axes));
};

const Squeeze: OpImpl = (r) => {
  const v = r.value(0);
  const dims = isInts(v) ? v.dims : v.shape;
  const axes = axesOf(r);
  const drop = axes ? axes.map((a) => r.axis(a, dims.length)) : dims.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
  for (const a of drop) if (dims[a] !== 1) r.fail(`cannot squeeze axis ${a} of size ${dims[a]}`);
  const out = dims.filter((_, i) => !drop.includes(i));
  return isInts(v) ? ints(v.data, out) : v.reshape(out);
};

const Concat: OpImpl = (r) => {
  const vals: Value[] = [];
  for (let i = 0; i < r.inputCount; i++) if (r.has(i)) vals.push(r.value(i));
  if (vals.every(isInts)) {
    if ((vals as Ints[]).some((v) => v.dims.length !== 1)) r.fail('Concat of multi-dimensional integer values is not supported');
    return ints((vals as Ints[]).flatMap((v) => v.data));
  }
  const like = r.firstTensor()!;
  const ts = vals.map((_, i) => r.tensor(i, like));
  return cat(ts, r.axis(r.attrInt('axis'), like.ndim));
};

const Reshape: OpImpl = (r) => {
  const v = r.value(0);
  const dims = isInts(v) ? v.dims : v.shape;
  const allowZero = r.attrInt('allowzero', 0) === 1;
  const target = r.ints(1).map((d, i) => (d === 0 && !allowZero ? dims[i] : d));
  if (isInts(v)) {
    const n = v.data.length;
    const known = prod(target.filter((d) => d !== -1));
    return ints(v.data, target.map((d) => (d === -1 ? n / known : d)));
  }
  return v.reshape(target);
};

const Flatten: OpImpl = (r) => {
  const x = r.tensor(0);
  const axis = r.attrInt('axis', 1);
  const a = axis < 0 ? axis + x.ndim : axis;
  if (a < 0 || a > x.ndim) r.fail(`axis ${axis} is out of range for a rank-${x.ndim} tensor`);
  return x.reshape([prod(x.shape.slice(0, a)), prod(x.shape.slice(a))]);
};

/** Row-major strides of `dims`. */
function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** out[idx] = v[map(idx)] over every index of `outDims` (host integer arrays). */
function hostGather(v: Ints, outDims: number[], map: (idx: number[]) => number[]): Ints {
  const st = strides(v.dims);
  const out: number[] = [];
  const n = prod(outDims);
  const idx = new Array<number>(outDims.length).fill(0);
  for (let k = 0; k < n; k++) {
    const src = map(idx);
    out.push(v.data[src.reduce((a, i, d) => a + i * st[d], 0)]);
    for (let d = outDims.length - 1; d >= 0; d--) {
      if (++idx[d] < outDims[d]) break;
      idx[d] = 0;
    }
  }
  return ints(out, outDims);
}

const Transpose: OpImpl = (r) => {
  const v = r.value(0);
  const dims = isInts(v) ? v.dims : v.shape;
  const perm = r.attrInts('perm') ?? dims.map((_, i) => dims.length - 1 - i);
  if (perm.length !== dims.length) r.fail(`perm [${perm.join(',')}] does not match the rank ${dims.length}`);
  if (!isInts(v)) return v.permute(perm);
  return hostGather(v, perm.map((p) => dims[p]), (idx) => {
    const src = new Array<number>(dims.length);
    perm.forEach((p, d) => (src[p] = idx[d]));
    return src;
  });
};

const Slice: OpImpl = (r) => {
  const v = r.value(0);
  const dims = isInts(v) ? v.dims : v.shape;
  const starts = r.ints(1);
  const ends = r.ints(2);
  const axes = r.has(3) ? r.ints(3).map((a) => r.axis(a, dims.length)) : starts.map((_, i) => i);
  const steps = r.has(4) ? r.ints(4) : starts.map(() => 1);
  const range = dims.map((d) => ({ start: 0, step: 1, count: d }));
  axes.forEach((a, i) => {
    const d = dims[a];
    const step = steps[i];
    if (step === 0) r.fail('a Slice step of 0 is invalid');
    const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x < 0 ? x + d : x));
    const start = step > 0 ? clamp(starts[i], 0, d) : clamp(starts[i], -1, d - 1);
    const end = step > 0 ? clamp(ends[i], 0, d) : clamp(ends[i], -1, d - 1);
    range[a] = { start, step, count: Math.max(0, Math.ceil((end - start) / step)) };
  });
  if (isInts(v)) return hostGather(v, range.map((x) => x.count), (idx) => idx.map((i, d) => range[d].start + i * range[d].step));
  let y = v;
  for (const a of axes) {
    const { start, step, count } = range[a];
    if (step < 0) return r.fail(`negative Slice steps on a tensor are not supported (axis ${a}, step ${step})`);
    y = y.slice(a, start, start + count * step, step);
  }
  return y;
};

const ConstantOfShape: OpImpl = (r) => {
  const shape = r.ints(0);
  const t = r.attrTensor('value');
  const value = t ? Number((t.data as ArrayLike<number>)[0] ?? 0) : 0;
  if (t && t.kind === 'int') return ints(new Array<number>(prod(shape)).fill(value), shape);
  return full(shape, value);
};

const Cast: OpImpl = (r) => {
  const v = r.value(0);
  const to = r.attrInt('to');
  const FLOAT_TYPES = [1, 10, 11, 16]; // FLOAT, FLOAT16, DOUBLE, BFLOAT16
  if (isInts(v)) return v; // host integers stay exact; operators convert them where a tensor is needed
  if (FLOAT_TYPES.includes(to)) return v;
  if (v.size <= 64) return ints(Array.from(v.toFloat64Array(), (x) => Math.trunc(x)), v.shape);
  return r.fail(`casting a tensor of ${v.size} elements to ONNX type ${to} is not supported (dfkd runs float32)`);
};

const ReduceMean: OpImpl = (r) => {
  const x = r.tensor(0);
  const keep = r.attrInt('keepdims', 1) === 1;
  const axes = r.attrInts('axes') ?? (r.opset >= 18 && r.has(1) ? r.ints(1) : undefined);
  const dims = (axes ?? x.shape.map((_, i) => i)).map((a) => r.axis(a, x.ndim));
  return x.mean(dims, keep);
};

export const SHAPE_OPS: Record<string, OpImpl> = { Shape, Constant, ConstantOfShape, Cast, Gather, Unsqueeze, Squeeze, Slice, Concat, Reshape, Flatten, Transpose, ReduceMean };
