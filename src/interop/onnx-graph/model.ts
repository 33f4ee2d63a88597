/**
 * An ONNX graph as a dfkd classifier: a Module whose forward() interprets the nodes in graph order
 * over dfkd's tensor ops, so autograd reaches the input (and the generator behind it).
 *
 * - Float initialisers are parameters (named as in the graph); integer ones are host integers.
 * - Every BatchNormalization node runs through its own `BatchNorm` child module, built from the
 *   node's scale / bias / mean / var initialisers (named after them, e.g. `layer1.0.bn1`), so the
 *   BN-statistics hook (src/distill/bn-hook.ts) finds and hooks it exactly like a zoo BatchNorm.
 * - `featureLayer` is a pass-through module called on the input of the last Gemm/MatMul (DAFL's
 *   penultimate features); `blocks` are pass-through modules on the last feature map of each
 *   spatial resolution (ZSKT's attention maps).
 * - Optional input renormalisation: when the model expects another normalisation than the dataset's,
 *   x_model = x * scale + shift per channel is applied first.
 */
import { Tensor, tensor, noGrad, tidy, zeros } from '../../tensor';
import { Module, BatchNorm } from '../../nn';
import type { Classifier } from '../../models/registry';
import { DfkdError } from '../../errors';
import { ParsedGraph, GraphNode, ConstTensor } from './parse';
import { NodeRun, OpImpl, Value, GraphHost, ints, isInts } from './values';
import { NN_OPS } from './ops-nn';
import { ELEMENTWISE_OPS } from './ops-elementwise';
import { SHAPE_OPS } from './ops-shape';

export const ONNX_OPS: Record<string, OpImpl> = { ...NN_OPS, ...ELEMENTWISE_OPS, ...SHAPE_OPS };
export const SUPPORTED_ONNX_OPS: readonly string[] = Object.keys(ONNX_OPS);

/** A pass-through module: calling it lets forward hooks observe a value of the graph. */
export class Tap extends Module {
  constructor(readonly valueName: string) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

class Blocks extends Module {
  constructor(taps: Tap[]) {
    super();
    taps.forEach((t, i) => this.registerModule(String(i), t));
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

export interface GraphModelOptions {
  file: string;
  channels: number;
  height: number;
  width: number;
  /** Per-channel x * scale + shift applied before the graph (dataset to model normalisation). */
  renormalise?: { scale: number[]; shift: number[] };
}

function constTensor(c: ConstTensor): Tensor {
  if (c.kind !== 'float') throw new Error(`constTensor: '${c.name}' is not float`);
  return tensor(c.data as Float32Array, c.dims);
}

export class OnnxGraphModule extends Module implements Classifier, GraphHost {
  readonly featureLayer: Module;
  readonly blocks: Module[];
  /** Number of BatchNormalization nodes (each a BatchNorm child). */
  readonly batchNorms: number;
  private nodes: GraphNode[] = [];
  private readonly constants = new Map<string, Value>();
  private readonly bnByNode = new Map<GraphNode, BatchNorm>();
  private readonly taps = new Map<string, Tap>();
  private readonly renorm?: { scale: Tensor; shift: Tensor };
  /** Values of Constant nodes (buffers, not parameters). */
  private readonly constantNodeValues = new Set<string>();

  constructor(private readonly graph: ParsedGraph, private readonly opts: GraphModelOptions) {
    super();
    const consts = this.resolveConstants();
    this.buildBatchNorms(consts);
    this.batchNorms = this.bnByNode.size;
    this.registerWeights(consts);
    if (opts.renormalise) {
      const c = opts.channels;
      this.renorm = {
        scale: this.registerBuffer('input_renormalise.scale', tensor(Float32Array.from(opts.renormalise.scale), [1, c, 1, 1])),
        shift: this.registerBuffer('input_renormalise.shift', tensor(Float32Array.from(opts.renormalise.shift), [1, c, 1, 1])),
      };
    }
    this.eval(); // before the shape-finding forward below: train mode would update the running statistics
    this.featureLayer = this.addTap(this.featureValue());
    this.registerModule('#features', this.featureLayer); // '#': never a PyTorch module name
    this.blocks = this.stageValues().map((v) => this.addTap(v));
    this.registerModule('#blocks', new Blocks(this.blocks as Tap[]));
    this.eval();
  }

  /**
   * Initialisers, Constant nodes with a tensor value and Identity nodes of constants (how PyTorch
   * shares deduplicated weights) are resolved once; the other nodes are what forward() runs.
   */
  private resolveConstants(): Map<string, ConstTensor> {
    const consts = new Map(this.graph.initializers);
    for (const n of this.graph.nodes) {
      const t = n.attrs.get('value');
      if (n.opType === 'Identity' && consts.has(n.inputs[0])) consts.set(n.outputs[0], { ...consts.get(n.inputs[0])!, name: n.outputs[0] });
      else if (n.opType === 'Constant' && t && typeof t === 'object' && !Array.isArray(t)) {
        consts.set(n.outputs[0], { ...t, name: n.outputs[0] });
        this.constantNodeValues.add(n.outputs[0]);
      }
      else this.nodes.push(n);
    }
    for (const [name, c] of consts) if (c.kind === 'int') this.constants.set(name, ints([...(c.data as number[])], c.dims));
    return consts;
  }

  private buildBatchNorms(consts: Map<string, ConstTensor>): void {
    const names = new Set<string>();
    this.nodes.forEach((n, i) => {
      if (n.opType !== 'BatchNormalization') return;
      const parts = n.inputs.slice(1, 5).map((name) => consts.get(name));
      if (n.inputs.length < 5 || parts.some((p) => !p || p.kind !== 'float')) {
        throw new DfkdError(`'${this.opts.file}': BatchNormalization node '${n.name}' must take its scale, bias, mean and var from initialisers (got ${n.inputs.slice(1).join(', ')})`, 'EONNX');
      }
      const [scale, bias, mean, variance] = parts as ConstTensor[];
      const c = scale.dims[0];
      const eps = n.attrs.get('epsilon');
      const mom = n.attrs.get('momentum');
      const bn = new BatchNorm(c, { eps: typeof eps === 'number' ? eps : 1e-5, momentum: typeof mom === 'number' ? 1 - mom : 0.1 });
      noGrad(() =>
        tidy(() => {
          bn.weight!.copy_(constTensor(scale));
          bn.bias!.copy_(constTensor(bias));
          bn.runningMean.copy_(constTensor(mean));
          bn.runningVar.copy_(constTensor(variance));
        }),
      );
      const base = n.inputs[1].endsWith('.weight') ? n.inputs[1].slice(0, -'.weight'.length) : `batchnorm${i}`;
      const name = names.has(base) ? `${base}#${i}` : base;
      names.add(name);
      this.registerModule(name, bn);
      this.bnByNode.set(n, bn);
    });
  }

  /** Float initialisers read by a node (other than as a BatchNorm's own tensors) become parameters, Constant nodes buffers. */
  private registerWeights(consts: Map<string, ConstTensor>): void {
    const readers = new Set<string>();
    for (const n of this.nodes) for (const x of n.opType === 'BatchNormalization' ? n.inputs.slice(0, 1) : n.inputs) readers.add(x);
    for (const [name, c] of consts) {
      if (c.kind !== 'float' || !readers.has(name)) continue;
      const t = constTensor(c);
      this.constants.set(name, this.constantNodeValues.has(name) ? this.registerBuffer(name, t) : this.registerParameter(name, t));
    }
  }

  batchNormFor(node: GraphNode): BatchNorm {
    const bn = this.bnByNode.get(node);
    if (!bn) throw new Error(`batchNormFor: node '${node.name}' has no BatchNorm module`);
    return bn;
  }

  private addTap(value: string): Tap {
    if (!this.taps.has(value)) this.taps.set(value, new Tap(value));
    return this.taps.get(value)!;
  }

  /** The input of the last Gemm / MatMul (the penultimate features), else the graph output. */
  private featureValue(): string {
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (n.opType === 'Gemm' || n.opType === 'MatMul') return n.inputs[0];
    }
    return this.graph.outputName;
  }

  /** The last 4-D value at each spatial resolution, found by one forward of a zero image. */
  private stageValues(): string[] {
    const shapes = new Map<string, number[]>();
    noGrad(() => tidy(() => void this.run(zeros([1, this.opts.channels, this.opts.height, this.opts.width]), shapes)));
    const out: string[] = [];
    let lastSize = '';
    for (const n of this.nodes) {
      const s = shapes.get(n.outputs[0]);
      if (!s || s.length !== 4 || (s[2] === 1 && s[3] === 1)) continue;
      const size = `${s[2]}x${s[3]}`;
      if (size !== lastSize) out.push(n.outputs[0]);
      else out[out.length - 1] = n.outputs[0];
      lastSize = size;
    }
    return out;
  }

  forward(x: Tensor): Tensor {
    const s = x.shape;
    const o = this.opts;
    if (s.length !== 4 || s[1] !== o.channels || s[2] !== o.height || s[3] !== o.width) {
      throw new DfkdError(`ONNX model '${o.file}': expected input [N,${o.channels},${o.height},${o.width}], got [${s.join(',')}]`, 'ESHAPE');
    }
    return this.run(x);
  }

  /** Runs the graph; `shapes` (when given) receives the shape of every value. */
  private run(x: Tensor, shapes?: Map<string, number[]>): Tensor {
    const vals = new Map<string, Value>(this.constants);
    vals.set(this.graph.inputName, this.renorm ? x.mul(this.renorm.scale).add(this.renorm.shift) : x);
    const lookup = (name: string): Value | undefined => vals.get(name);
    for (const node of this.nodes) {
      const run = new NodeRun(node, this.graph.opset, lookup, this);
      let v: Value;
      try {
        v = ONNX_OPS[node.opType](run);
      } catch (e) {
        if (e instanceof DfkdError) throw e;
        return run.fail((e as Error).message);
      }
      const name = node.outputs[0];
      const tap = this.taps.get(name);
      if (tap && !isInts(v)) v = tap.call(v);
      vals.set(name, v);
      if (shapes) shapes.set(name, isInts(v) ? v.dims : v.shape);
    }
    const y = vals.get(this.graph.outputName);
    if (!(y instanceof Tensor)) throw new DfkdError(`ONNX model '${this.opts.file}': output '${this.graph.outputName}' is not computed by the graph as a tensor`, 'EONNX');
    return y;
  }
}
