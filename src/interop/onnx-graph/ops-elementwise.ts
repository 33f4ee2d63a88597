/**
 * Element-wise ONNX operators: activations (Relu, LeakyRelu, Clip/ReLU6, Sigmoid, HardSigmoid,
 * HardSwish, Tanh), broadcasting arithmetic (Add, Sub, Mul, Div), Softmax, and the inference
 * no-ops Identity and Dropout. Arithmetic on two integer values (shape computations) stays on the host.
 */
import { Tensor } from '../../tensor';
import { NodeRun, OpImpl, Value, isInts, ints } from './values';

const unary = (fn: (x: Tensor, r: NodeRun) => Tensor): OpImpl => (r) => fn(r.tensor(0), r);

/** A scalar operand given as an optional input (Clip's min/max, opset 11+). */
function scalarInput(r: NodeRun, i: number): number | undefined {
  if (!r.has(i)) return undefined;
  const v = r.value(i);
  if (isInts(v)) return v.data[0];
  if (v.size !== 1) r.fail(`input ${i} must be a scalar, got shape [${v.shape.join(',')}]`);
  return v.toFloat64Array()[0];
}

const Clip: OpImpl = (r) => {
  const x = r.tensor(0);
  const min = r.opset >= 11 ? scalarInput(r, 1) : r.node.attrs.has('min') ? r.attrFloat('min', -Infinity) : undefined;
  const max = r.opset >= 11 ? scalarInput(r, 2) : r.node.attrs.has('max') ? r.attrFloat('max', Infinity) : undefined;
  if (min === undefined && max === undefined) return x;
  if (min === 0 && max === undefined) return x.relu();
  return x.clamp(min, max);
};

function hardSigmoid(x: Tensor, alpha: number, beta: number): Tensor {
  return x.mul(alpha).add(beta).clamp(0, 1);
}

function hostArith(op: string, a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  const at = (v: number[], i: number): number => (v.length === 1 ? v[0] : v[i]);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = at(a, i);
    const y = at(b, i);
    out.push(op === 'Add' ? x + y : op === 'Sub' ? x - y : op === 'Mul' ? x * y : Math.trunc(x / y));
  }
  return out;
}

const arith = (op: 'Add' | 'Sub' | 'Mul' | 'Div'): OpImpl => (r) => {
  const a = r.value(0);
  const b = r.value(1);
  if (isInts(a) && isInts(b)) {
    if (a.data.length !== b.data.length && a.data.length !== 1 && b.data.length !== 1) r.fail(`cannot broadcast integer values of ${a.data.length} and ${b.data.length} elements`);
    const out = hostArith(op, a.data, b.data);
    return ints(out, a.data.length >= b.data.length ? a.dims : b.dims);
  }
  const like = r.firstTensor();
  const x = r.tensor(0, like);
  const y = r.tensor(1, like);
  return op === 'Add' ? x.add(y) : op === 'Sub' ? x.sub(y) : op === 'Mul' ? x.mul(y) : x.div(y);
};

const Softmax: OpImpl = (r) => {
  const x = r.tensor(0);
  const axis = r.axis(r.attrInt('axis', r.opset >= 13 ? -1 : 1), x.ndim);
  if (r.opset >= 13 || axis === x.ndim - 1) return x.softmax(axis);
  // Before opset 13, Softmax works on the input flattened to 2-D at `axis`.
  const shape = x.shape;
  const rows = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  return x.reshape([rows, -1]).softmax(1).reshape(shape);
};

const passThrough: OpImpl = (r): Value => {
  if (r.node.opType === 'Dropout' && r.node.outputs.length > 1 && r.node.outputs[1] !== '') r.fail('the mask output of Dropout is not supported (inference graphs do not use it)');
  return r.value(0);
};

export const ELEMENTWISE_OPS: Record<string, OpImpl> = {
  Relu: unary((x) => x.relu()),
  LeakyRelu: unary((x, r) => x.leakyRelu(r.attrFloat('alpha', 0.01))),
  Sigmoid: unary((x) => x.sigmoid()),
  Tanh: unary((x) => x.tanh()),
  HardSigmoid: unary((x, r) => hardSigmoid(x, r.attrFloat('alpha', 0.2), r.attrFloat('beta', 0.5))),
  HardSwish: unary((x) => x.mul(hardSigmoid(x, 1 / 6, 0.5))),
  Clip,
  Add: arith('Add'),
  Sub: arith('Sub'),
  Mul: arith('Mul'),
  Div: arith('Div'),
  Softmax,
  Identity: passThrough,
  Dropout: passThrough,
};
