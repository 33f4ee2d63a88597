/**
 * What flows along the edges of an interpreted ONNX graph, and what an operator sees of its node.
 *
 * A value is either a dfkd Tensor (images, activations, weights: differentiable) or a small list of
 * integers known on the host (shapes, axes, indices: what exporters compute with Shape, Gather,
 * Unsqueeze and Concat before a Reshape). Integer values never touch autograd.
 */
import { Tensor, tensor } from '../../tensor';
import type { BatchNorm } from '../../nn';
import { DfkdError } from '../../errors';
import type { GraphNode, AttrValue, ConstTensor } from './parse';

export interface Ints {
  kind: 'ints';
  data: number[];
  dims: number[];
}
export type Value = Tensor | Ints;

export function isInts(v: Value | undefined): v is Ints {
  return v !== undefined && !(v instanceof Tensor) && (v as Ints).kind === 'ints';
}
export function ints(data: number[], dims: number[] = [data.length]): Ints {
  return { kind: 'ints', data, dims };
}

/** What the graph module offers operators: the BatchNorm module built for a BatchNormalization node. */
export interface GraphHost {
  batchNormFor(node: GraphNode): BatchNorm;
}

/** One execution of one node: typed access to its inputs and attributes, and errors that name it. */
export class NodeRun {
  constructor(
    readonly node: GraphNode,
    readonly opset: number,
    private readonly lookup: (name: string) => Value | undefined,
    readonly host: GraphHost,
  ) {}

  fail(msg: string): never {
    throw new DfkdError(`ONNX node '${this.node.name}' (${this.node.opType}, opset ${this.opset}): ${msg}`, 'EONNX');
  }

  get inputCount(): number {
    return this.node.inputs.length;
  }
  /** Whether optional input `i` is given (present and not the empty name). */
  has(i: number): boolean {
    return i < this.node.inputs.length && this.node.inputs[i] !== '';
  }
  value(i: number): Value {
    if (!this.has(i)) this.fail(`input ${i} is missing`);
    const v = this.lookup(this.node.inputs[i]);
    if (v === undefined) this.fail(`input '${this.node.inputs[i]}' has no value (not produced by an earlier node)`);
    return v;
  }
  /** Input `i` as a float tensor (integer values become float32 tensors on `like`'s device). */
  tensor(i: number, like?: Tensor): Tensor {
    const v = this.value(i);
    if (v instanceof Tensor) return v;
    return tensor(Float32Array.from(v.data), v.dims, 'float32', like?.device as never);
  }
  /** Input `i` as host integers (shapes, axes): must be known without running the tensors. */
  ints(i: number): number[] {
    const v = this.value(i);
    if (isInts(v)) return v.data;
    if (v.size <= 64) return Array.from(v.toFloat64Array(), (x) => Math.trunc(x));
    return this.fail(`input ${i} ('${this.node.inputs[i]}') must be a constant integer list (a shape or axes), got a tensor [${v.shape.join(',')}]`);
  }
  /** The first input that is a tensor (the data operand). */
  firstTensor(): Tensor | undefined {
    for (let i = 0; i < this.node.inputs.length; i++) {
      if (!this.has(i)) continue;
      const v = this.lookup(this.node.inputs[i]);
      if (v instanceof Tensor) return v;
    }
    return undefined;
  }

  private attr(name: string): AttrValue | undefined {
    return this.node.attrs.get(name);
  }
  attrInt(name: string, def?: number): number {
    const a = this.attr(name);
    if (a === undefined) return def ?? this.fail(`attribute '${name}' is required`);
    if (typeof a !== 'number') this.fail(`attribute '${name}' must be an integer`);
    return a;
  }
  attrFloat(name: string, def: number): number {
    const a = this.attr(name);
    if (a === undefined) return def;
    if (typeof a !== 'number') this.fail(`attribute '${name}' must be a float`);
    return a;
  }
  attrInts(name: string): number[] | undefined {
    const a = this.attr(name);
    if (a === undefined) return undefined;
    if (!Array.isArray(a)) this.fail(`attribute '${name}' must be a list of integers`);
    return a;
  }
  attrString(name: string, def: string): string {
    const a = this.attr(name);
    if (a === undefined) return def;
    if (typeof a !== 'string') this.fail(`attribute '${name}' must be a string`);
    return a;
  }
  attrTensor(name: string): ConstTensor | undefined {
    const a = this.attr(name);
    if (a === undefined) return undefined;
    if (typeof a !== 'object' || Array.isArray(a)) this.fail(`attribute '${name}' must be a tensor`);
    return a;
  }
  /** Normalises a possibly negative axis for a tensor of rank `rank`. */
  axis(a: number, rank: number): number {
    const r = a < 0 ? a + rank : a;
    if (r < 0 || r >= rank) this.fail(`axis ${a} is out of range for a rank-${rank} tensor`);
    return r;
  }
}

/** An operator: every supported operator has one output (extra outputs are rejected by the operator). */
export type OpImpl = (r: NodeRun) => Value;
