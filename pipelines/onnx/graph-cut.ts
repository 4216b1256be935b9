/**
 * Cuts an ONNX graph at chosen tensors into segments that run one after another:
 *
 *   const plan = planCuts(model, ["…/attn1/Softmax_output_0", "…/attn1/to_out.0/Add_output_0"]);
 *   // plan.segments[0] computes what the first cut needs and outputs that tensor (plus anything
 *   // later segments read: skip connections, the time embedding …); the last one the graph outputs.
 *   const files = writeSegments(modelPath, model, plan);   // cached by hash, weights not copied
 *
 * Segment k holds the not yet computed ancestors of cut k (the last one: of the graph outputs).
 * Cuts run in graph order, so a later cut never feeds an earlier segment. Constant nodes are
 * copied into each segment that reads them. Initializers go to the segments whose nodes read
 * them, unchanged: external data keeps its `location`, so each segment, loaded from bytes with
 * the original model's folder as external-data folder, reads the original weights file.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { onnx } from "onnx-proto";
import { cacheDir } from "../../ffi/cache-dir.ts";
import { ModelError } from "../errors.ts";
import { GraphIndex, hasSubgraph } from "./graph-index.ts";
import { type InferredShape, inferShapes, shapedValueInfo } from "./shape-inference.ts";

/** Bump when the planner or the segment encoding would produce different files. */
export const GRAPH_CUT_VERSION = "3";

export interface Segment {
  /** The cut tensor this segment ends at; null for the last segment (graph outputs). */
  readonly cut: string | null;
  /** Tensors it reads: graph inputs and tensors earlier segments produced (cut tensors included). */
  readonly inputs: readonly string[];
  /** Tensors it hands on: its cut, tensors later segments read, and graph outputs made here. */
  readonly outputs: readonly string[];
  /** Node count, for reports. */
  readonly nodeCount: number;
}

export interface CutPlan {
  /** The cut tensors in the order they are reached (graph order). */
  readonly cuts: readonly string[];
  readonly segments: readonly Segment[];
  /** Per tensor passed between segments: the index of the last segment reading it. */
  readonly lastUse: Readonly<Record<string, number>>;
}

interface PlannedSegment extends Segment {
  readonly nodes: readonly number[];
}

/** Plans the segments for cutting `model` at `cuts` (any order; duplicates ignored). */
export function planCuts(model: onnx.IModelProto, cuts: readonly string[]): CutPlan {
  return planWithNodes(new GraphIndex(model.graph ?? {}), cuts).plan;
}

function planWithNodes(ix: GraphIndex, cuts: readonly string[]): { plan: CutPlan; segments: PlannedSegment[] } {
  const unique = [...new Set(cuts)];
  for (const c of unique) {
    if (!ix.producer.has(c)) throw new ModelError(`cannot cut at "${c}": no node produces it (cuts must be computed tensors)`);
  }
  const ordered = unique.sort((a, b) => ix.producer.get(a)! - ix.producer.get(b)!);
  const computed = new Set<number>();
  const isFree = (i: number) => ix.nodes[i]!.opType === "Constant";
  const collect = (targets: readonly string[]): number[] => {
    const picked = new Set<number>();
    const stack = [...targets];
    while (stack.length) {
      const t = stack.pop()!;
      const p = ix.producer.get(t);
      if (p === undefined || picked.has(p) || (computed.has(p) && !isFree(p))) continue;
      picked.add(p);
      const node = ix.nodes[p]!;
      if (hasSubgraph(node)) throw new ModelError(`cannot cut a graph with control-flow node "${node.name}" (${node.opType})`);
      for (const i of node.input ?? []) if (i) stack.push(i);
    }
    const nodes = [...picked].sort((a, b) => a - b);
    for (const n of nodes) computed.add(n);
    return nodes;
  };
  const graphOutputs = ix.outputs.map((o) => o.name!);
  const nodeSets = [...ordered.map((c) => collect([c])), collect(graphOutputs)];
  nodeSets.forEach((nodes, k) => {
    if (k < ordered.length && !nodes.some((n) => ix.nodes[n]!.output!.includes(ordered[k]!))) {
      throw new ModelError(`cut "${ordered[k]}" is computed together with an earlier cut; cut at one of them only`);
    }
  });

  const inputsOf = nodeSets.map((nodes) => {
    const made = new Set(nodes.flatMap((n) => ix.nodes[n]!.output ?? []));
    const reads = new Set<string>();
    for (const n of nodes) for (const i of ix.nodes[n]!.input ?? []) if (i && !made.has(i) && !ix.initializers.has(i)) reads.add(i);
    return [...reads];
  });
  const lastUse: Record<string, number> = {};
  inputsOf.forEach((inputs, k) => inputs.forEach((i) => (lastUse[i] = k)));
  const outputSet = new Set(graphOutputs);
  const segments = nodeSets.map((nodes, k): PlannedSegment => {
    const outputs = new Set<string>();
    const cut = ordered[k] ?? null;
    if (cut) outputs.add(cut);
    for (const n of nodes) {
      for (const o of ix.nodes[n]!.output ?? []) {
        if (!o || isFree(n)) continue;
        if (outputSet.has(o) || (lastUse[o] !== undefined && lastUse[o]! > k)) outputs.add(o);
      }
    }
    return { cut, inputs: inputsOf[k]!, outputs: [...outputs], nodeCount: nodes.length, nodes };
  });
  const plan: CutPlan = { cuts: ordered, segments: segments.map(({ nodes: _, ...s }) => s), lastUse };
  return { plan, segments };
}

/**
 * The ModelProto of every segment (initializer protos shared with `model`, external data
 * untouched). `shapes` (shape-inference.ts) are declared on the tensors segments pass on, so ORT
 * optimises each segment as it would the same nodes inside the whole model.
 */
export function segmentModels(
  model: onnx.IModelProto,
  cuts: readonly string[],
  shapes: ReadonlyMap<string, InferredShape> = new Map(),
): { plan: CutPlan; models: onnx.ModelProto[] } {
  const ix = new GraphIndex(model.graph ?? {});
  const { plan, segments } = planWithNodes(ix, cuts);
  const models = segments.map((seg, k) => {
    const nodes = seg.nodes.map((n) => ix.nodes[n]!);
    const used = new Set(nodes.flatMap((n) => n.input ?? []));
    const graph = onnx.GraphProto.create({
      name: `${model.graph?.name ?? "graph"}_segment_${k}`,
      node: nodes,
      initializer: [...ix.initializers.values()].filter((t) => used.has(t.name!)),
      input: seg.inputs.map((t) => typedInfo(ix, t, shapes)),
      output: seg.outputs.map((t) => typedInfo(ix, t, shapes)),
    });
    return onnx.ModelProto.create({
      irVersion: model.irVersion,
      producerName: "latentloom graph-cut",
      opsetImport: model.opsetImport,
      functions: model.functions,
      graph,
    });
  });
  return { plan, models };
}

function typedInfo(ix: GraphIndex, tensor: string, shapes: ReadonlyMap<string, InferredShape>): onnx.IValueInfoProto {
  const declared = ix.valueInfo(tensor);
  if (declared?.type?.tensorType?.elemType && declared.type.tensorType.shape) return declared;
  const inferred = shapes.get(tensor);
  if (inferred) return shapedValueInfo(tensor, inferred);
  if (declared?.type?.tensorType?.elemType) return declared;
  const elemType = ix.elemType(tensor);
  if (!elemType) throw new ModelError(`cannot cut here: the element type of "${tensor}" is unknown`);
  return { name: tensor, type: { tensorType: { elemType } } };
}

export interface SegmentFiles {
  readonly plan: CutPlan;
  /** The segment .onnx files, in run order. */
  readonly files: readonly string[];
  /** Where their external data lives: the original model's folder. */
  readonly externalDataDir: string;
}

/**
 * Segment files for cutting the model at `modelPath` (already parsed as `model`, read from
 * `modelBytes`) at `cuts`, built once into the cache folder `segments/<hash>` — the hash covers
 * the model bytes, the cut set and GRAPH_CUT_VERSION — and reused afterwards.
 */
export function cachedSegments(modelPath: string, modelBytes: Uint8Array, model: onnx.IModelProto, cuts: readonly string[]): SegmentFiles {
  const modelHash = createHash("sha256").update(modelBytes).digest("hex");
  const key = createHash("sha256")
    .update(`${GRAPH_CUT_VERSION}\n${modelHash}\n${[...new Set(cuts)].sort().join("\n")}`)
    .digest("hex")
    .slice(0, 24);
  const dir = join(cacheDir("segments"), key);
  const externalDataDir = dirname(modelPath);
  const planPath = join(dir, "plan.json");
  if (!existsSync(planPath)) {
    const passed = planCuts(model, cuts).segments.flatMap((s) => s.outputs);
    const { plan, models } = segmentModels(model, cuts, inferShapes(model, passed, externalDataDir));
    const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    mkdirSync(tmp, { recursive: true });
    try {
      models.forEach((m, k) => writeFileSync(join(tmp, segmentFileName(k)), onnx.ModelProto.encode(m).finish()));
      writeFileSync(join(tmp, "plan.json"), JSON.stringify(plan));
      try {
        renameSync(tmp, dir);
      } catch (error) {
        // Another process finished the same segments first.
        if (!existsSync(planPath)) throw error;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const plan = JSON.parse(readFileSync(planPath, "utf8")) as CutPlan;
  return { plan, files: plan.segments.map((_, k) => join(dir, segmentFileName(k))), externalDataDir };
}

const segmentFileName = (k: number) => `segment-${String(k).padStart(3, "0")}.onnx`;
