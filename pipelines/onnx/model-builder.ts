/**
 * Writes ONNX models from TypeScript, for the tiny SD-shaped models every test and the default
 * `tiny` model folder use.
 *
 *   const g = new GraphBuilder("add");
 *   const x = g.input("x", "f32", [1, "batch", 4]);
 *   const w = g.initializer("w", new Float32Array(16), [4, 4]);
 *   const y = g.node("MatMul", [x, w], { name: "/down_blocks.0/attn1/MatMul" });
 *   g.output(y, "f32", [1, "batch", 4]);
 *   const bytes = g.toModel({ opset: 17 });
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { onnx } from "onnx-proto";
import { type AnyOnnxArray, checkTensorData, dtypeOfArray, ONNX_DTYPES, type OnnxDtype, onnxDtype, rawBytes, tensorProto } from "./tensor-proto.ts";

export { readModel } from "./model-reader.ts";
export type { OnnxDtype } from "./tensor-proto.ts";

/** A value flowing through the graph (input, initializer or node output), referred to by name. */
export interface ValueRef {
  readonly name: string;
}

/** A dimension: a fixed size, a symbolic name ("batch"), or null for an unnamed dynamic one. */
export type Dim = number | string | null;

/** A tensor attribute value: data plus shape (dtype defaults from the array type). */
export interface TensorAttr {
  readonly kind: "tensor";
  readonly data: AnyOnnxArray;
  readonly shape: readonly number[];
  readonly dtype: OnnxDtype;
}

type TypedAttr =
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "ints"; readonly value: readonly number[] }
  | { readonly kind: "floats"; readonly value: readonly number[] }
  | TensorAttr;

/**
 * An attribute. Plain values are typed by what they hold: an integer number is INT, any other
 * number FLOAT, a string STRING, an all-integer number array INTS, other arrays and
 * Float32Arrays FLOATS. Use `attr.float(1)` / `attr.floats([1, 2])` where a float attribute
 * happens to hold whole numbers.
 */
export type AttrValue = number | string | readonly number[] | Float32Array | TypedAttr;

/** Explicitly typed attribute values. */
export const attr = {
  int: (value: number): TypedAttr => ({ kind: "int", value }),
  float: (value: number): TypedAttr => ({ kind: "float", value }),
  string: (value: string): TypedAttr => ({ kind: "string", value }),
  ints: (value: readonly number[]): TypedAttr => ({ kind: "ints", value }),
  floats: (value: readonly number[] | Float32Array): TypedAttr => ({ kind: "floats", value: Array.from(value) }),
  tensor: (data: AnyOnnxArray, shape: readonly number[], dtype: OnnxDtype = dtypeOfArray(data)): TensorAttr => ({
    kind: "tensor",
    data,
    shape,
    dtype,
  }),
};

export interface NodeOptions {
  /** Node name; diffusers-style scopes ("/down_blocks.0/attentions.0/…/MatMul") are what hook finders match. */
  readonly name?: string;
  readonly attrs?: Readonly<Record<string, AttrValue>>;
  /** Operator domain ("" = the default ONNX domain). */
  readonly domain?: string;
}

export interface MultiOutputNodeOptions extends NodeOptions {
  /** Names for the outputs (default: generated from the node name). */
  readonly outputNames?: readonly string[];
}

export interface ModelOptions {
  /** Default-domain opset version; default 17. */
  readonly opset?: number;
  /** Further opsets, e.g. `{ "com.microsoft": 1 }`. */
  readonly extraOpsets?: Readonly<Record<string, number>>;
  /** ModelProto.ir_version; default 8 (what onnx-proto's schema describes). */
  readonly irVersion?: number;
  readonly producer?: string;
}

export interface ExternalDataOptions extends ModelOptions {
  /** File name of the weights, stored in each tensor's `location` (relative to the .onnx file). */
  readonly location: string;
  /** Initializers smaller than this stay inline; default 0 (all go out). */
  readonly minBytes?: number;
  /** Each tensor starts at a multiple of this many bytes; default 64. */
  readonly align?: number;
}

interface Initializer {
  readonly name: string;
  readonly dtype: OnnxDtype;
  readonly shape: readonly number[];
  readonly data: AnyOnnxArray;
}

export class GraphBuilder {
  readonly #inputs: onnx.IValueInfoProto[] = [];
  readonly #outputs: onnx.IValueInfoProto[] = [];
  readonly #initializers: Initializer[] = [];
  readonly #nodes: onnx.INodeProto[] = [];
  /** Every value name defined so far, to catch typos and duplicates at build time. */
  readonly #defined = new Set<string>();
  readonly #nodeNames = new Set<string>();
  #counter = 0;

  constructor(readonly name: string) {}

  /** Declares a graph input. */
  input(name: string, dtype: OnnxDtype, shape?: readonly Dim[]): ValueRef {
    this.#define(name);
    this.#inputs.push(valueInfo(name, dtype, shape));
    return { name };
  }

  /** Adds a constant tensor (a weight). dtype defaults from the array type (Uint16Array → f16). */
  initializer(name: string, data: AnyOnnxArray, shape: readonly number[], dtype: OnnxDtype = dtypeOfArray(data)): ValueRef {
    checkTensorData(name, dtype, shape, data);
    this.#define(name);
    this.#initializers.push({ name, dtype, shape: [...shape], data });
    return { name };
  }

  /** Adds a node with one output and returns that output. */
  node(op: string, inputs: readonly (ValueRef | null)[], options: NodeOptions & { outputName?: string } = {}): ValueRef {
    const outputNames = options.outputName === undefined ? undefined : [options.outputName];
    const [out] = this.nodeOutputs(op, inputs, 1, { ...options, outputNames });
    return out as ValueRef;
  }

  /** Adds a node with `count` outputs. A null input is an omitted optional input. */
  nodeOutputs(op: string, inputs: readonly (ValueRef | null)[], count: number, options: MultiOutputNodeOptions = {}): ValueRef[] {
    for (const input of inputs) {
      if (input && !this.#defined.has(input.name)) {
        throw new RangeError(`node ${options.name ?? op}: input "${input.name}" is not defined in graph "${this.name}"`);
      }
    }
    const nodeName = options.name ?? `${op}_${this.#counter++}`;
    if (this.#nodeNames.has(nodeName)) throw new RangeError(`node name "${nodeName}" is used twice in graph "${this.name}"`);
    this.#nodeNames.add(nodeName);
    const outputs = Array.from({ length: count }, (_, i) => options.outputNames?.[i] ?? `${nodeName}_output_${i}`);
    for (const o of outputs) this.#define(o);
    this.#nodes.push({
      name: nodeName,
      opType: op,
      domain: options.domain ?? "",
      input: inputs.map((i) => i?.name ?? ""),
      output: outputs,
      attribute: Object.entries(options.attrs ?? {}).map(([key, value]) => attribute(key, value)),
    });
    return outputs.map((name) => ({ name }));
  }

  /** Declares `value` a graph output. Give `rename` to expose it under another name (adds an Identity). */
  output(value: ValueRef, dtype: OnnxDtype, shape?: readonly Dim[], rename?: string): ValueRef {
    if (!this.#defined.has(value.name)) throw new RangeError(`output "${value.name}" is not defined in graph "${this.name}"`);
    const out = rename && rename !== value.name ? this.node("Identity", [value], { outputName: rename }) : value;
    this.#outputs.push(valueInfo(out.name, dtype, shape));
    return out;
  }

  /** The GraphProto with every initializer inline. */
  toGraph(): onnx.GraphProto {
    return this.#graph(this.#initializers.map((t) => tensorProto(t.name, t.dtype, t.shape, t.data)));
  }

  /** Serialized ModelProto bytes with every initializer inline. */
  toModel(options: ModelOptions = {}): Uint8Array {
    return encodeModel(this.toGraph(), options);
  }

  /**
   * Model bytes plus one weights file: initializers of at least `minBytes` are written to
   * `weights` and referenced by location/offset/length, as large exports do.
   */
  toModelWithExternalData(options: ExternalDataOptions): { model: Uint8Array; weights: Uint8Array } {
    const align = options.align ?? 64;
    const chunks: { offset: number; bytes: Uint8Array }[] = [];
    let end = 0;
    const tensors = this.#initializers.map((t) => {
      const bytes = rawBytes(t.data);
      if (bytes.byteLength < (options.minBytes ?? 0)) return tensorProto(t.name, t.dtype, t.shape, t.data);
      const offset = Math.ceil(end / align) * align;
      chunks.push({ offset, bytes });
      end = offset + bytes.byteLength;
      return onnx.TensorProto.create({
        name: t.name,
        dataType: ONNX_DTYPES[t.dtype].code,
        dims: [...t.shape],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: "location", value: options.location },
          { key: "offset", value: String(offset) },
          { key: "length", value: String(bytes.byteLength) },
        ],
      });
    });
    const weights = new Uint8Array(end);
    for (const c of chunks) weights.set(c.bytes, c.offset);
    return { model: encodeModel(this.#graph(tensors), options), weights };
  }

  /**
   * Writes the model to `path` (folders created). With `externalData`, the weights go to a file
   * of that name next to it. Returns `path`.
   */
  save(path: string, options: ModelOptions & { externalData?: Omit<ExternalDataOptions, keyof ModelOptions> } = {}): string {
    mkdirSync(dirname(path), { recursive: true });
    if (!options.externalData) {
      writeFileSync(path, this.toModel(options));
      return path;
    }
    if (basename(options.externalData.location) !== options.externalData.location) {
      throw new RangeError(`external data location "${options.externalData.location}" must be a plain file name`);
    }
    const { model, weights } = this.toModelWithExternalData({ ...options, ...options.externalData });
    writeFileSync(join(dirname(path), options.externalData.location), weights);
    writeFileSync(path, model);
    return path;
  }

  #graph(initializers: onnx.ITensorProto[]): onnx.GraphProto {
    return onnx.GraphProto.create({
      name: this.name,
      node: this.#nodes,
      initializer: initializers,
      input: this.#inputs,
      output: this.#outputs,
    });
  }

  #define(name: string): void {
    if (!name) throw new RangeError(`graph "${this.name}": value names must not be empty`);
    if (this.#defined.has(name)) throw new RangeError(`value "${name}" is defined twice in graph "${this.name}"`);
    this.#defined.add(name);
  }
}

/** Serializes a graph into ModelProto bytes. */
export function encodeModel(graph: onnx.IGraphProto, options: ModelOptions = {}): Uint8Array {
  const opsetImport = [{ domain: "", version: options.opset ?? 17 }];
  for (const [domain, version] of Object.entries(options.extraOpsets ?? {})) opsetImport.push({ domain, version });
  const model = onnx.ModelProto.create({
    irVersion: options.irVersion ?? 8,
    producerName: options.producer ?? "latentloom",
    graph,
    opsetImport,
  });
  // protobufjs hands back a Node Buffer, whose slice() shares memory; give callers a plain array.
  return new Uint8Array(onnx.ModelProto.encode(model).finish());
}

function valueInfo(name: string, dtype: OnnxDtype, shape?: readonly Dim[]): onnx.IValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType: onnxDtype(dtype).code };
  if (shape) {
    tensorType.shape = {
      dim: shape.map((d) => {
        if (typeof d === "string") return { dimParam: d };
        if (d === null || d < 0) return {};
        if (!Number.isSafeInteger(d)) throw new RangeError(`value "${name}": dimension ${d} is not an integer`);
        return { dimValue: d };
      }),
    };
  }
  return { name, type: { tensorType } };
}

const AttrType = onnx.AttributeProto.AttributeType;

function attribute(name: string, value: AttrValue): onnx.IAttributeProto {
  const typed = typedAttr(name, value);
  switch (typed.kind) {
    case "int":
      if (!Number.isSafeInteger(typed.value)) throw new RangeError(`attribute ${name}: ${typed.value} is not an integer`);
      return { name, type: AttrType.INT, i: typed.value };
    case "float":
      return { name, type: AttrType.FLOAT, f: typed.value };
    case "string":
      return { name, type: AttrType.STRING, s: new TextEncoder().encode(typed.value) };
    case "ints":
      if (!typed.value.every(Number.isSafeInteger)) throw new RangeError(`attribute ${name}: [${typed.value}] are not all integers`);
      return { name, type: AttrType.INTS, ints: [...typed.value] };
    case "floats":
      return { name, type: AttrType.FLOATS, floats: [...typed.value] };
    case "tensor":
      return { name, type: AttrType.TENSOR, t: tensorProto(name, typed.dtype, typed.shape, typed.data) };
  }
}

function typedAttr(name: string, value: AttrValue): TypedAttr {
  if (typeof value === "number") return Number.isInteger(value) ? attr.int(value) : attr.float(value);
  if (typeof value === "string") return attr.string(value);
  if (value instanceof Float32Array) return attr.floats(value);
  if (Array.isArray(value)) {
    const numbers = value as readonly number[];
    return numbers.every(Number.isInteger) ? attr.ints(numbers) : attr.floats(numbers);
  }
  if (typeof value === "object" && value !== null && "kind" in value) return value as TypedAttr;
  throw new TypeError(`attribute ${name}: cannot store ${String(value)}; use attr.int/float/string/ints/floats/tensor`);
}
