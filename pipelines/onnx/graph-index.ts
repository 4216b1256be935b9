/**
 * Lookup tables over one ONNX graph that the site finder and the graph cutter share: who
 * produces and who consumes each tensor, a topological node order, which tensors are constant,
 * and the element type of every tensor (cut points need typed graph inputs and outputs).
 */
import { onnx } from "onnx-proto";
import { ModelError } from "../errors.ts";

const TensorType = onnx.TensorProto.DataType;

export class GraphIndex {
  /** Nodes in a topological order (the stored order when it already is one). */
  readonly nodes: readonly onnx.INodeProto[];
  /** Tensor name → index into `nodes` of the node that produces it. */
  readonly producer = new Map<string, number>();
  /** Tensor name → indices of the nodes that read it (once per node). */
  readonly consumers = new Map<string, number[]>();
  readonly initializers = new Map<string, onnx.ITensorProto>();
  /** Graph inputs that are fed at run time (initializers listed as inputs excluded). */
  readonly inputs: readonly onnx.IValueInfoProto[];
  readonly outputs: readonly onnx.IValueInfoProto[];
  readonly #valueInfo = new Map<string, onnx.IValueInfoProto>();
  readonly #constant = new Map<string, boolean>();
  #types: Map<string, number> | undefined;

  constructor(readonly graph: onnx.IGraphProto) {
    for (const t of graph.initializer ?? []) if (t.name) this.initializers.set(t.name, t);
    this.inputs = (graph.input ?? []).filter((i) => i.name && !this.initializers.has(i.name));
    this.outputs = graph.output ?? [];
    for (const v of [...(graph.valueInfo ?? []), ...(graph.input ?? []), ...(graph.output ?? [])]) if (v.name) this.#valueInfo.set(v.name, v);
    this.nodes = topologicalOrder(graph.node ?? [], new Set([...this.initializers.keys(), ...this.inputs.map((i) => i.name!)]));
    this.nodes.forEach((node, i) => {
      for (const out of node.output ?? []) if (out) this.producer.set(out, i);
      for (const input of new Set(node.input ?? [])) {
        if (!input) continue;
        const list = this.consumers.get(input) ?? [];
        list.push(i);
        this.consumers.set(input, list);
      }
    });
  }

  /** The node producing `tensor`, if a node does. */
  producerOf(tensor: string): onnx.INodeProto | undefined {
    const i = this.producer.get(tensor);
    return i === undefined ? undefined : this.nodes[i];
  }

  consumersOf(tensor: string): onnx.INodeProto[] {
    return (this.consumers.get(tensor) ?? []).map((i) => this.nodes[i]!);
  }

  /** The ValueInfo the model declares for `tensor` (graph input/output or value_info), if any. */
  valueInfo(tensor: string): onnx.IValueInfoProto | undefined {
    return this.#valueInfo.get(tensor);
  }

  /** True when `tensor` depends on no graph input: an initializer, a Constant, or computed only from those. */
  isConstant(tensor: string): boolean {
    const known = this.#constant.get(tensor);
    if (known !== undefined) return known;
    this.#constant.set(tensor, false); // cycles cannot occur in a valid graph; this guards bad ones
    const node = this.producerOf(tensor);
    let result: boolean;
    if (this.initializers.has(tensor)) result = true;
    else if (!node) result = false;
    else if (hasSubgraph(node)) result = false;
    else result = (node.input ?? []).every((i) => !i || this.isConstant(i));
    this.#constant.set(tensor, result);
    return result;
  }

  /** ONNX element type code of `tensor` (declared, else inferred), or undefined when unknown. */
  elemType(tensor: string): number | undefined {
    this.#types ??= inferElemTypes(this);
    return this.#types.get(tensor);
  }

  /** The constant values of a small initializer or Constant output held inline, as numbers. */
  constantNumbers(tensor: string): number[] | undefined {
    const init = this.initializers.get(tensor);
    const node = init ? undefined : this.producerOf(tensor);
    const proto = init ?? (node?.opType === "Constant" ? node.attribute?.find((a) => a.name === "value")?.t : undefined);
    if (!proto || proto.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
    const raw = proto.rawData;
    const type = proto.dataType ?? 0;
    if (raw && raw.length > 0) {
      const copy = new Uint8Array(raw).buffer;
      if (type === TensorType.FLOAT) return Array.from(new Float32Array(copy));
      if (type === TensorType.DOUBLE) return Array.from(new Float64Array(copy));
      if (type === TensorType.INT64) return Array.from(new BigInt64Array(copy), Number);
      if (type === TensorType.INT32) return Array.from(new Int32Array(copy));
      if (type === TensorType.FLOAT16) return Array.from(new Float16Array(copy));
      return undefined;
    }
    if (proto.floatData?.length) return [...proto.floatData];
    if (proto.int64Data?.length) return proto.int64Data.map((v) => Number(v.toString()));
    if (proto.int32Data?.length) return [...proto.int32Data];
    return undefined;
  }
}

/** Whether a node carries a nested graph (If, Loop, Scan), whose outer-scope reads we do not track. */
export function hasSubgraph(node: onnx.INodeProto): boolean {
  return (node.attribute ?? []).some((a) => a.g || (a.graphs && a.graphs.length > 0));
}

export function intAttr(node: onnx.INodeProto, name: string): number | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.i === undefined || a.i === null ? undefined : Number(a.i.toString());
}

export function floatAttr(node: onnx.INodeProto, name: string): number | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.f === undefined || a.f === null ? undefined : a.f;
}

export function intsAttr(node: onnx.INodeProto, name: string): number[] | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.ints?.length ? a.ints.map((v) => Number(v.toString())) : undefined;
}

function topologicalOrder(nodes: readonly onnx.INodeProto[], available: Set<string>): onnx.INodeProto[] {
  const produced = new Set(available);
  let sorted = true;
  for (const node of nodes) {
    if ((node.input ?? []).some((i) => i && !produced.has(i))) sorted = false;
    for (const o of node.output ?? []) produced.add(o);
  }
  if (sorted) return [...nodes];
  // Kahn's algorithm, stable in the stored order.
  const waiting = new Map<string, number[]>();
  const missing = nodes.map((node, i) => {
    const needs = new Set((node.input ?? []).filter((x) => x && !available.has(x)));
    for (const x of needs) waiting.set(x, [...(waiting.get(x) ?? []), i]);
    return needs.size;
  });
  const ready = nodes.map((_, i) => i).filter((i) => missing[i] === 0);
  const order: onnx.INodeProto[] = [];
  while (ready.length) {
    const i = ready.shift()!;
    order.push(nodes[i]!);
    for (const o of nodes[i]!.output ?? []) {
      for (const j of waiting.get(o) ?? []) if (--missing[j]! === 0) ready.push(j);
    }
  }
  if (order.length !== nodes.length) throw new ModelError(`graph has a cycle or reads undefined tensors (${nodes.length - order.length} nodes never become ready)`);
  return order;
}

const BOOL_OPS = new Set(["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf"]);
const INT64_OPS = new Set(["Shape", "Size", "NonZero", "ArgMax", "ArgMin"]);

/**
 * Element types of every tensor: declared types first, then a forward pass with the few rules
 * that change a type (Shape → int64, Cast → `to`, comparisons → bool …); every other op keeps
 * the type of its first typed input, which holds for the arithmetic, shape and NN ops SD exports use.
 */
function inferElemTypes(ix: GraphIndex): Map<string, number> {
  const types = new Map<string, number>();
  const declared = (name: string) => ix.valueInfo(name)?.type?.tensorType?.elemType ?? undefined;
  for (const [name, t] of ix.initializers) if (t.dataType) types.set(name, t.dataType);
  for (const i of ix.inputs) if (i.name && declared(i.name)) types.set(i.name, declared(i.name)!);
  for (const node of ix.nodes) {
    const outs = node.output ?? [];
    const rule = elemTypeRule(node, (i) => (i ? types.get(i) : undefined));
    outs.forEach((o, k) => {
      const t = declared(o) ?? (node.opType === "TopK" && k === 1 ? TensorType.INT64 : rule);
      if (o && t) types.set(o, t);
    });
  }
  return types;
}

function elemTypeRule(node: onnx.INodeProto, typeOf: (name: string | undefined) => number | undefined): number | undefined {
  const op = node.opType ?? "";
  const attr = (name: string) => node.attribute?.find((a) => a.name === name);
  if (INT64_OPS.has(op)) return TensorType.INT64;
  if (BOOL_OPS.has(op)) return TensorType.BOOL;
  if (op === "Cast") return intAttr(node, "to");
  if (op === "CastLike") return typeOf(node.input?.[1]);
  if (op === "Where") return typeOf(node.input?.[1]);
  if (op === "Constant") {
    const value = attr("value")?.t?.dataType;
    if (value) return value;
    if (attr("value_float") || attr("value_floats")) return TensorType.FLOAT;
    if (attr("value_int") || attr("value_ints")) return TensorType.INT64;
    return undefined;
  }
  if (op === "ConstantOfShape") return attr("value")?.t?.dataType ?? TensorType.FLOAT;
  if (["RandomNormal", "RandomUniform", "EyeLike", "RandomNormalLike", "RandomUniformLike"].includes(op)) {
    return intAttr(node, "dtype") ?? (op.endsWith("Like") ? typeOf(node.input?.[0]) : TensorType.FLOAT);
  }
  for (const i of node.input ?? []) {
    const t = typeOf(i);
    if (t) return t;
  }
  return undefined;
}
