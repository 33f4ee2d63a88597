/**
 * Reading an ONNX model (the npm package `onnx-proto` decodes the protobuf) into plain data the
 * interpreter runs: nodes in graph order, initialisers as float32 / int arrays, the graph input's
 * shape, the default-domain opset and the metadata. Checks that need no tensors happen here: the
 * opset range, every operator being supported, a single float input with a fixed spatial shape.
 */
import { onnx } from 'onnx-proto';
import { DfkdError } from '../../errors';

/** Opsets of the default ONNX domain the interpreter implements. */
export const MIN_OPSET = 11;
export const MAX_OPSET = 17;

const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

type IntLike = number | { toNumber(): number } | null | undefined;
/** protobufjs gives int64 fields as numbers or Long objects. */
export function num(v: IntLike): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** A constant tensor of the graph: float data (weights) or integer data (shapes, axes, indices). */
export interface ConstTensor {
  name: string;
  dims: number[];
  kind: 'float' | 'int';
  data: Float32Array | number[];
}

export type AttrValue = number | number[] | string | ConstTensor;

export interface GraphNode {
  /** The node's name, or `#i` (its index) when the exporter gave none. */
  name: string;
  opType: string;
  /** '' for the default ONNX domain. */
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, AttrValue>;
}

export interface ParsedGraph {
  opset: number;
  producer: string;
  nodes: GraphNode[];
  initializers: Map<string, ConstTensor>;
  inputName: string;
  /** Graph input dims; a string is a symbolic (dynamic) dimension, null an unknown one. */
  inputDims: (number | string | null)[];
  outputName: string;
  metadata: Record<string, string>;
}

function tensorData(t: onnx.ITensorProto, where: string): ConstTensor {
  const dims = (t.dims ?? []).map(num);
  const count = dims.reduce((a, b) => a * b, 1);
  const name = t.name ?? '';
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new DfkdError(`${where}: tensor '${name}' is stored in an external data file; re-export with the weights inside the .onnx file (size under 2 GB)`, 'EONNX');
  }
  const raw = t.rawData && t.rawData.length > 0 ? Buffer.from(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength) : undefined;
  switch (t.dataType) {
    case DT.FLOAT: {
      const out = new Float32Array(count);
      if (raw) for (let i = 0; i < count; i++) out[i] = raw.readFloatLE(i * 4);
      else out.set(t.floatData ?? []);
      return { name, dims, kind: 'float', data: out };
    }
    case DT.DOUBLE: {
      const out = new Float32Array(count);
      if (raw) for (let i = 0; i < count; i++) out[i] = raw.readDoubleLE(i * 8);
      else out.set(t.doubleData ?? []);
      return { name, dims, kind: 'float', data: out };
    }
    case DT.INT64: {
      const out: number[] = [];
      if (raw) for (let i = 0; i < count; i++) out.push(Number(raw.readBigInt64LE(i * 8)));
      else for (const v of t.int64Data ?? []) out.push(num(v));
      return { name, dims, kind: 'int', data: out };
    }
    case DT.INT32:
    case DT.INT8:
    case DT.UINT8:
    case DT.BOOL: {
      const out: number[] = [];
      if (raw) {
        const size = t.dataType === DT.INT32 ? 4 : 1;
        for (let i = 0; i < count; i++) out.push(size === 4 ? raw.readInt32LE(i * 4) : t.dataType === DT.INT8 ? raw.readInt8(i) : raw.readUInt8(i));
      } else out.push(...(t.int32Data ?? []));
      return { name, dims, kind: 'int', data: out };
    }
    default:
      throw new DfkdError(`${where}: tensor '${name}' has ONNX data type ${onnx.TensorProto.DataType[t.dataType ?? 0] ?? t.dataType}; supported: FLOAT, DOUBLE, INT64, INT32, INT8, UINT8, BOOL`, 'EONNX');
  }
}

function attrValue(a: onnx.IAttributeProto, where: string): AttrValue {
  switch (a.type) {
    case AT.FLOAT: return a.f ?? 0;
    case AT.INT: return num(a.i);
    case AT.STRING: return Buffer.from(a.s ?? new Uint8Array()).toString('utf8');
    case AT.FLOATS: return [...(a.floats ?? [])];
    case AT.INTS: return (a.ints ?? []).map(num);
    case AT.TENSOR: return tensorData(a.t!, where);
    default:
      throw new DfkdError(`${where}: attribute '${a.name}' has type ${onnx.AttributeProto.AttributeType[a.type ?? 0]}, which dfkd does not read`, 'EONNX');
  }
}

/** Decodes `bytes` (an .onnx file named `file`) and checks what can be checked without running it. */
export function parseOnnx(bytes: Uint8Array, file: string, supported: readonly string[]): ParsedGraph {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new DfkdError(`'${file}' is not a readable ONNX model: ${(e as Error).message}`, 'EONNX');
  }
  const g = model.graph;
  if (!g || !g.node || g.node.length === 0) throw new DfkdError(`'${file}' holds no ONNX graph (no nodes)`, 'EONNX');
  const imports = model.opsetImport ?? [];
  const def = imports.find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = def ? num(def.version) : 0;
  if (opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new DfkdError(`'${file}': ONNX opset ${opset || '(none)'}; dfkd reads opsets ${MIN_OPSET} to ${MAX_OPSET} (re-export with torch.onnx.export(..., opset_version=13))`, 'EONNX');
  }
  const initializers = new Map<string, ConstTensor>();
  for (const t of g.initializer ?? []) initializers.set(t.name ?? '', tensorData(t, `'${file}'`));

  const nodes: GraphNode[] = g.node.map((n, i) => {
    const name = n.name || `#${i}`;
    const attrs = new Map<string, AttrValue>();
    for (const a of n.attribute ?? []) attrs.set(a.name ?? '', attrValue(a, `'${file}' node '${name}' (${n.opType})`));
    return { name, opType: n.opType ?? '', inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs, domain: n.domain && n.domain !== 'ai.onnx' ? n.domain : '' };
  });
  const unsupported = nodes.filter((n) => n.domain !== '' || !supported.includes(n.opType));
  if (unsupported.length > 0) {
    const n = unsupported[0];
    const others = [...new Set(unsupported.map((u) => u.opType))];
    throw new DfkdError(
      `'${file}': unsupported ONNX operator '${n.domain ? `${n.domain}.` : ''}${n.opType}' at node '${n.name}' (opset ${opset})` +
        (others.length > 1 ? `; also unsupported: ${others.filter((o) => o !== n.opType).join(', ')}` : '') +
        `. dfkd interprets these operators (default domain, opsets ${MIN_OPSET}-${MAX_OPSET}): ${[...supported].sort().join(', ')}. Nothing was written.`,
      'EUNSUPPORTED',
    );
  }

  const inputs = (g.input ?? []).filter((v) => !initializers.has(v.name ?? ''));
  if (inputs.length !== 1) {
    throw new DfkdError(`'${file}': the graph has ${inputs.length} inputs (${inputs.map((v) => v.name).join(', ') || 'none'}); dfkd needs exactly one image input [N, C, H, W]`, 'EONNX');
  }
  const input = inputs[0];
  const tt = input.type?.tensorType;
  if (!tt || (tt.elemType !== DT.FLOAT)) {
    throw new DfkdError(`'${file}': input '${input.name}' must be a float32 tensor, got ${tt ? onnx.TensorProto.DataType[tt.elemType ?? 0] : 'a non-tensor type'}`, 'EONNX');
  }
  const inputDims = (tt.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && num(d.dimValue) > 0 ? num(d.dimValue) : d.dimParam ? d.dimParam : null));
  const outputs = g.output ?? [];
  if (outputs.length < 1) throw new DfkdError(`'${file}': the graph has no output`, 'EONNX');
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
  return {
    opset,
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
    nodes,
    initializers,
    inputName: input.name ?? '',
    inputDims,
    outputName: outputs[0].name ?? '',
    metadata,
  };
}

/** The input's [C, H, W], from the model or the caller; a dynamic dimension without a value given is an error. */
export function resolveInputShape(g: ParsedGraph, file: string, given: { channels?: number; imageSize?: number }): { channels: number; height: number; width: number } {
  const d = g.inputDims;
  const show = `[${d.map((x) => (x === null ? '?' : x)).join(', ')}]`;
  if (d.length !== 4) throw new DfkdError(`'${file}': input '${g.inputName}' has shape ${show}; dfkd needs an image input [N, C, H, W]`, 'EONNX');
  const fixed = (v: number | string | null): number | undefined => (typeof v === 'number' ? v : undefined);
  const c = fixed(d[1]) ?? given.channels;
  if (c === undefined) throw new DfkdError(`'${file}': input '${g.inputName}' ${show} has a dynamic channel dimension; pass --channels N`, 'EONNX');
  if (given.channels !== undefined && fixed(d[1]) !== undefined && given.channels !== fixed(d[1])) {
    throw new DfkdError(`'${file}': input '${g.inputName}' ${show} has ${d[1]} channels, but --channels is ${given.channels}`, 'EONNX');
  }
  let h = fixed(d[2]);
  let w = fixed(d[3]);
  if (h === undefined || w === undefined) {
    if (given.imageSize === undefined) {
      throw new DfkdError(
        `'${file}': input '${g.inputName}' has a dynamic spatial shape ${show}; dfkd needs a fixed height and width. ` +
          `Re-export with a fixed size (in torch.onnx.export, make only the batch axis dynamic: dynamic_axes={'${g.inputName}': {0: 'batch'}}) or pass --image-size N`,
        'EONNX',
      );
    }
    h = h ?? given.imageSize;
    w = w ?? given.imageSize;
  }
  if (given.imageSize !== undefined && (h !== given.imageSize || w !== given.imageSize)) {
    throw new DfkdError(`'${file}': input '${g.inputName}' ${show} is ${h}x${w}, but --image-size is ${given.imageSize}`, 'EONNX');
  }
  return { channels: c, height: h, width: w };
}
