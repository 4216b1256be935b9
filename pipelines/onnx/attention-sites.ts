/**
 * Finds the attention blocks of an ONNX UNet or ControlNet by graph pattern and names the
 * tensors hooks can change in each (reference/sd-onnx-layout.md §7.2):
 *
 *   q, k, v   after the head split, rows = tokens: [B·heads, S, d] (AttnProcessor) or
 *             [B, heads, S, d] (AttnProcessor2_0); q before its scale, k before its transpose
 *   probs     the Softmax output as it enters P·V
 *   out       to_out.0 (MatMul + bias) before the residual Add
 *
 *   const blocks = findAttentionBlocks(readModel(bytes));
 *   tokenCounts(blocks[0], 32, 32)   // { query: 1024, key: 1024 } for a 256×256 image
 *
 * The pattern is Softmax ← [Add mask] ← [Mul/Div scale] ← MatMul(q, kᵀ), and Softmax → MatMul(·, v).
 * Names only classify: diffusers' module scopes (with any wrapper prefix such as `/unet/`) give
 * the place; without them the place is "unknown".
 */
import type { onnx } from "onnx-proto";
import { floatAttr, GraphIndex, intAttr, intsAttr } from "./graph-index.ts";

export type SiteKind = "q" | "k" | "v" | "probs" | "out";
export const SITE_KINDS: readonly SiteKind[] = ["q", "k", "v", "probs", "out"];
export type BlockKind = "down" | "mid" | "up" | "unknown";

export interface AttentionPlace {
  readonly block: BlockKind;
  /** N of down_blocks.N / up_blocks.N (0 for mid_block); null when unknown. */
  readonly blockIndex: number | null;
  /** N of attentions.N. */
  readonly attentionIndex: number | null;
  /** N of transformer_blocks.N. */
  readonly transformerIndex: number | null;
  /** "attn1", "attn2" … as named; null when unknown. */
  readonly attn: string | null;
  /** Text before the UNet scope ("/unet", "/controlnets.0"); "" when none. */
  readonly prefix: string;
  /** "names": read from diffusers' module scopes; "graph": inferred from graph order and resolution; "none": unknown. */
  readonly from: "names" | "graph" | "none";
  /**
   * Attends over frames, not pixels: a video UNet's temporal transformer, named `temp_attentions.N`
   * (UNet3DConditionModel), `temporal_attentions.N` or `motion_modules.N` (AnimateDiff). Its tokens
   * are the frames, so tokenCounts cannot tell them from the latent size.
   */
  readonly temporal: boolean;
}

/**
 * "classic" = AttnProcessor (3-D heads, scale after Q·Kᵀ, or folded into it); "sdpa" =
 * AttnProcessor2_0 (4-D, √scale on Q and Kᵀ); "fused" = one attention op (no probs site).
 */
export type AttentionPattern = "classic" | "sdpa" | "fused";

export interface AttentionBlock {
  /** Position among the blocks, in graph order. */
  readonly index: number;
  /** The module scope ("down_blocks.0/attentions.0/transformer_blocks.0/attn1") or `attention_<index>`. */
  readonly name: string;
  /** Keys/values come from the block's own hidden states (attn1), not from the encoder states. */
  readonly self: boolean;
  readonly pattern: AttentionPattern;
  readonly place: AttentionPlace;
  /**
   * Halvings of the latent size at this block's queries (0 = latent resolution), counted from
   * stride-2 convs/pools and ×2 resizes between `sample` and the block; null if not traceable.
   */
  readonly level: number | null;
  /** The tensor name of each site the block has (a fused op has no probs, a packed one only out). */
  readonly tensors: Readonly<Partial<Record<SiteKind, string>>>;
}

/** Query/key token counts of a block for a latent of `height`×`width` (keys of cross-attention = context length). */
export function tokenCounts(block: AttentionBlock, height: number, width: number, contextTokens = 77): { query: number; key: number } | undefined {
  if (block.level === null || block.place.temporal) return undefined;
  const f = 2 ** block.level;
  const query = Math.ceil(height / f) * Math.ceil(width / f);
  return { query, key: block.self ? query : contextTokens };
}

const PASS_THROUGH = new Set(["Reshape", "Transpose", "Cast", "Identity", "Squeeze", "Unsqueeze", "Dropout"]);
const SCOPE = /^(.*?)\/?(?:(down_blocks|up_blocks)\.(\d+)|(mid_block))\/(attentions|temp_attentions|temporal_attentions|motion_modules)\.(\d+)\/transformer_blocks\.(\d+)\/([A-Za-z_]*\d*)\//;
/** Fused attention ops: ORT's contrib ops (transformer optimizer output) and ONNX's own (opset 23). */
const FUSED = new Set(["MultiHeadAttention", "Attention"]);

/** Every attention block of the model's graph, in graph order. */
export function findAttentionBlocks(model: onnx.IModelProto): AttentionBlock[] {
  const ix = new GraphIndex(model.graph ?? {});
  const root = sampleInput(ix);
  const levels = spatialLevels(ix, root);
  const fromSample = sampleDependent(ix, root);
  const found: Found[] = [];
  ix.nodes.forEach((node, position) => {
    const match = node.opType === "Softmax" ? matchUnfused(ix, node) : FUSED.has(node.opType ?? "") ? matchFused(ix, node) : undefined;
    if (match) found.push({ ...match, position });
  });
  const blocks = found.map((f, index): AttentionBlock => {
    const self = f.self ?? (root ? fromSample.has(keySource(f)) : sameProjectionSource(ix, f));
    const named = placeOf([f.node.name, ...Object.values(f.tensors).map((t) => ix.producerOf(t!)?.name)]);
    return {
      index,
      name: named.scope ?? `attention_${index}`,
      self,
      pattern: f.pattern,
      place: named.place,
      level: levels.get(f.levelTensor) ?? null,
      tensors: f.tensors,
    };
  });
  return inferPlaces(ix, blocks, found, fromSample);
}

interface Match {
  /** The Softmax or the fused op. */
  node: onnx.INodeProto;
  tensors: Partial<Record<SiteKind, string>>;
  pattern: AttentionPattern;
  /** A tensor at the queries' resolution (for the level). */
  levelTensor: string;
  /** Known from the op itself (a packed QKV input is self-attention); else decided from where K comes from. */
  self?: boolean;
}

interface Found extends Match {
  position: number;
}

function matchUnfused(ix: GraphIndex, softmax: onnx.INodeProto): Match | undefined {
  const scores = scoresOf(ix, softmax.input?.[0] ?? "", 6);
  if (!scores) return undefined;
  const qk = qkOperands(ix, scores.node);
  if (!qk) return undefined;

  // Forward from the probabilities to P·V.
  let probs = softmax.output![0]!;
  let pv: onnx.INodeProto | undefined;
  for (let hops = 0; hops < 3; hops++) {
    const next = ix.consumersOf(probs);
    pv = next.find((n) => isPlainProduct(n) && n.input![0] === probs);
    if (pv) break;
    const pass = next.length === 1 && ["Cast", "Identity", "Dropout"].includes(next[0]!.opType ?? "") ? next[0] : undefined;
    if (!pass) return undefined;
    probs = pass.output![0]!;
  }
  if (!pv) return undefined;

  let { q, k } = qk;
  const qScale = scaleStep(ix, q);
  const kScale = scaleStep(ix, k);
  if (qScale) q = qScale;
  if (kScale) k = untransposed(ix, kScale);
  const out = outputProjection(ix, pv.output![0]!);
  if (!out) return undefined;
  // The layout tells the patterns apart, wherever the scale went (ORT folds it into FusedMatMul):
  // AttnProcessor2_0's head split ends in a Transpose to [B, heads, S, d], AttnProcessor's in a Reshape to [B·heads, S, d].
  const sdpa = ix.producerOf(q)?.opType === "Transpose";
  return { node: softmax, tensors: { q, k, v: pv.input![1]!, probs, out }, pattern: sdpa ? "sdpa" : "classic", levelTensor: q };
}

/**
 * A fused attention op. q/k/v are its inputs ([B, S, hidden], before the head split) when it
 * takes them separately; a packed QKV or KV input has no such tensors, and ORT's BERT-style
 * `Attention` projects inside the op, so only `out` is there.
 */
function matchFused(ix: GraphIndex, node: onnx.INodeProto): Match | undefined {
  const [query, key, value] = node.input ?? [];
  const out = outputProjection(ix, node.output?.[0] ?? "");
  if (!query || !out) return undefined;
  if (node.opType === "Attention" && node.domain === "com.microsoft") return { node, tensors: { out }, pattern: "fused", levelTensor: query, self: true };
  const tensors: Partial<Record<SiteKind, string>> = { out };
  if (key && value) Object.assign(tensors, { q: query, k: key, v: value });
  return { node, tensors, pattern: "fused", levelTensor: query, ...(key ? {} : { self: true }) };
}

/** Back from the Softmax input to the Q·Kᵀ product, through scales, additive masks/zero terms, casts and masked fills. */
function scoresOf(ix: GraphIndex, t: string, depth: number): { node: onnx.INodeProto } | undefined {
  const node = ix.producerOf(t);
  if (!node || depth === 0) return undefined;
  const op = node.opType ?? "";
  if (qkOperands(ix, node)) return { node };
  if (op === "Mul" || op === "Div") {
    const data = dataOperand(ix, node);
    return data ? scoresOf(ix, data, depth - 1) : undefined;
  }
  const tries = op === "Add" ? node.input! : op === "Where" ? node.input!.slice(1) : op === "Cast" || op === "Identity" ? node.input!.slice(0, 1) : [];
  for (const input of tries) {
    if (!input || ix.isConstant(input)) continue;
    const found = scoresOf(ix, input, depth - 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * The operands of a Q·Kᵀ product with k's rows = tokens: MatMul(q, Kᵀ) (k = before the transpose),
 * com.microsoft FusedMatMul (transB, alpha: ORT's fusion of the transpose and the scale) and
 * Einsum ("bid,bjd->bij" contracts k's last axis directly).
 */
function qkOperands(ix: GraphIndex, node: onnx.INodeProto): { q: string; k: string } | undefined {
  const [a, b] = node.input ?? [];
  if (!a || !b || node.input!.length !== 2 || ix.isConstant(a) || ix.isConstant(b)) return undefined;
  switch (node.opType) {
    case "MatMul":
      return { q: a, k: untransposed(ix, b) };
    case "FusedMatMul": {
      if (intAttr(node, "transA")) return undefined;
      return { q: a, k: intAttr(node, "transB") ? b : untransposed(ix, b) };
    }
    case "Einsum": {
      const eq = einsumTerms(node);
      if (!eq) return undefined;
      const [x, y, out] = eq;
      if (x.at(-1) === y.at(-1) && out === x.slice(0, -1) + y.at(-2)) return { q: a, k: b };
      if (x.at(-1) === y.at(-2) && out === x.slice(0, -1) + y.at(-1)) return { q: a, k: untransposed(ix, b) };
      return undefined;
    }
  }
  return undefined;
}

/** A plain product P·V: MatMul, FusedMatMul without transposes or scale, Einsum "bij,bjd->bid". */
function isPlainProduct(node: onnx.INodeProto): boolean {
  if (node.input?.length !== 2) return false;
  if (node.opType === "MatMul") return true;
  if (node.opType === "FusedMatMul") return !intAttr(node, "transA") && !intAttr(node, "transB") && (floatAttr(node, "alpha") ?? 1) === 1;
  if (node.opType !== "Einsum") return false;
  const eq = einsumTerms(node);
  return eq !== undefined && eq[0].at(-1) === eq[1].at(-2) && eq[2] === eq[0].slice(0, -1) + eq[1].at(-1);
}

function einsumTerms(node: onnx.INodeProto): [string, string, string] | undefined {
  const raw = node.attribute?.find((a) => a.name === "equation")?.s;
  const eq = raw ? new TextDecoder().decode(raw).replace(/\s+/g, "") : "";
  const m = /^([a-zA-Z]{2,}),([a-zA-Z]{2,})->([a-zA-Z]{2,})$/.exec(eq);
  return m ? [m[1]!, m[2]!, m[3]!] : undefined;
}

/** Steps back over a transpose of the last two axes (Kᵀ → K); other tensors are returned as they are. */
function untransposed(ix: GraphIndex, t: string): string {
  const node = ix.producerOf(t);
  return node?.opType === "Transpose" && swapsLastTwo(intsAttr(node, "perm")) ? node.input![0]! : t;
}

/** If `t` is x·s or x/s with s a scale (constant or computed from shapes), returns x. */
function scaleStep(ix: GraphIndex, t: string): string | undefined {
  const node = ix.producerOf(t);
  if (!node || (node.opType !== "Mul" && node.opType !== "Div")) return undefined;
  return dataOperand(ix, node);
}

/** The operand of a Mul/Div/Add that is not a constant or shape-derived scalar. */
function dataOperand(ix: GraphIndex, node: onnx.INodeProto): string | undefined {
  const [a, b] = node.input ?? [];
  if (!a || !b) return undefined;
  if (isScaleLike(ix, b, new Map()) && !isScaleLike(ix, a, new Map())) return a;
  if (node.opType === "Mul" && isScaleLike(ix, a, new Map()) && !isScaleLike(ix, b, new Map())) return b;
  return undefined;
}

const SCALE_OPS = new Set(["Sqrt", "Div", "Mul", "Cast", "Slice", "Gather", "Reciprocal", "Pow", "Squeeze", "Unsqueeze", "Concat", "Neg", "Add", "Sub", "Identity", "Reshape"]);

/** Constant, or computed only from tensor shapes (the in-graph √scale of AttnProcessor2_0 exports). */
function isScaleLike(ix: GraphIndex, t: string, seen: Map<string, boolean>): boolean {
  if (ix.isConstant(t)) return true;
  const known = seen.get(t);
  if (known !== undefined) return known;
  seen.set(t, false);
  const node = ix.producerOf(t);
  let result = false;
  if (node?.opType === "Shape" || node?.opType === "Size") result = true;
  else if (node && SCALE_OPS.has(node.opType ?? "")) result = node.input!.every((i) => !i || isScaleLike(ix, i, seen));
  seen.set(t, result);
  return result;
}

function swapsLastTwo(perm: number[] | undefined): boolean {
  if (!perm || perm.length < 2) return false;
  const n = perm.length;
  return perm[n - 1] === n - 2 && perm[n - 2] === n - 1 && perm.slice(0, n - 2).every((p, i) => p === i);
}

const LINEAR = new Set(["MatMul", "Gemm", "FusedMatMul"]);

/**
 * From P·V forward through the head merge to to_out.0's result: a MatMul/Gemm with constant
 * weights plus its constant bias Add; a 2-D Gemm (ORT's MatMul+Add fusion) is followed through
 * the Reshape back to [B, N, C].
 */
function outputProjection(ix: GraphIndex, mixed: string): string | undefined {
  let t = mixed;
  for (let hops = 0; hops < 8; hops++) {
    const next = ix.consumersOf(t);
    if (next.length !== 1) return undefined;
    const node = next[0]!;
    if (LINEAR.has(node.opType ?? "") && node.input![0] === t && ix.isConstant(node.input![1]!)) {
      let y = node.output![0]!;
      if (node.opType === "Gemm" && node.input![2]) {
        const after = ix.consumersOf(y);
        return after.length === 1 && after[0]!.opType === "Reshape" ? after[0]!.output![0]! : y;
      }
      const after = ix.consumersOf(y);
      const bias = after.length === 1 && after[0]!.opType === "Add" ? after[0] : undefined;
      if (bias && bias.input!.some((i) => i !== y && ix.isConstant(i))) y = bias.output![0]!;
      return y;
    }
    if (!PASS_THROUGH.has(node.opType ?? "")) return undefined;
    t = node.output![0]!;
  }
  return undefined;
}

/**
 * The hidden states a q/k path projects from: back through head reshapes, scales and the bias
 * to the projection MatMul with constant weights, then that MatMul's input.
 */
function projectionSource(ix: GraphIndex, t: string): string {
  let cur = t;
  for (let hops = 0; hops < 12; hops++) {
    const node = ix.producerOf(cur);
    if (!node) return cur;
    const op = node.opType ?? "";
    if (LINEAR.has(op) && ix.isConstant(node.input![1]!)) return node.input![0]!;
    if (PASS_THROUGH.has(op)) cur = node.input![0]!;
    else if (op === "Mul" || op === "Div" || op === "Add") {
      const data = op === "Add" ? node.input!.find((i) => !ix.isConstant(i)) : dataOperand(ix, node);
      if (!data) return cur;
      cur = data;
    } else return cur;
  }
  return cur;
}

/** The tensor K is computed from: k itself, or for a packed KV input that input. */
function keySource(f: Match): string {
  return f.tensors.k ?? f.node.input?.[1] ?? f.node.input?.[0] ?? "";
}

/** Without a sample input: q and k projected from the same hidden states (a packed op, whose K is inside, counts as self). */
function sameProjectionSource(ix: GraphIndex, f: Match): boolean {
  const { q, k } = f.tensors;
  return q === undefined || k === undefined || projectionSource(ix, q) === projectionSource(ix, k);
}

/** The UNet's latent input: `sample`, else the first rank-4 input. */
function sampleInput(ix: GraphIndex): string | undefined {
  return (ix.inputs.find((i) => i.name === "sample") ?? ix.inputs.find((i) => i.type?.tensorType?.shape?.dim?.length === 4))?.name ?? undefined;
}

/** Tensors whose values depend on the sample's values (shapes do not carry the dependence). */
function sampleDependent(ix: GraphIndex, root: string | undefined): Set<string> {
  const dependent = new Set<string>(root ? [root] : []);
  if (!root) return dependent;
  for (const node of ix.nodes) {
    if (node.opType === "Shape" || node.opType === "Size") continue;
    if ((node.input ?? []).some((i) => dependent.has(i))) for (const o of node.output ?? []) if (o) dependent.add(o);
  }
  return dependent;
}

/**
 * Places for blocks whose names carry no diffusers scope, from graph order and resolution: blocks
 * after the first skip Concat (two sample-derived tensors joined, as every up block's first resnet
 * does) are up blocks; of the rest, those at the deepest level after the last strided conv are the
 * mid block; the others are down blocks. Block index = level (down) or deepest level − level (up);
 * attentions count self-attentions within a block, each followed by its cross-attention.
 */
function inferPlaces(ix: GraphIndex, blocks: AttentionBlock[], found: readonly Found[], fromSample: Set<string>): AttentionBlock[] {
  if (blocks.every((b) => b.place.block !== "unknown")) return blocks;
  let firstSkipConcat = Infinity;
  let lastStridedConv = -1;
  ix.nodes.forEach((node, position) => {
    const inputs = node.input ?? [];
    if (node.opType === "Concat" && position < firstSkipConcat && inputs.filter((i) => fromSample.has(i)).length >= 2) firstSkipConcat = position;
    if (node.opType === "Conv" && position < firstSkipConcat && fromSample.has(inputs[0] ?? "") && (intsAttr(node, "strides") ?? [1]).some((s) => s > 1)) lastStridedConv = position;
  });
  const unnamed = blocks.filter((b) => b.place.block === "unknown" && b.level !== null);
  const deepest = Math.max(-1, ...unnamed.map((b) => b.level!));
  const deepestBeforeUp = Math.max(-1, ...unnamed.filter((b) => found[b.index]!.position < firstSkipConcat).map((b) => b.level!));
  const attentions = new Map<string, { self: number; cross: number }>();
  const names = new Set(blocks.map((b) => b.name));
  return blocks.map((b) => {
    if (b.place.block !== "unknown" || b.level === null) return b;
    const position = found[b.index]!.position;
    const block: BlockKind = position > firstSkipConcat ? "up" : position > lastStridedConv && b.level === deepestBeforeUp ? "mid" : "down";
    const blockIndex = block === "down" ? b.level : block === "mid" ? 0 : Math.max(deepest, deepestBeforeUp) - b.level;
    const group = `${block}.${blockIndex}`;
    const count = attentions.get(group) ?? { self: 0, cross: 0 };
    const attentionIndex = b.self ? count.self : Math.max(count.self - 1, count.cross);
    if (b.self) count.self++;
    else count.cross = attentionIndex + 1;
    attentions.set(group, count);
    const attn = b.self ? "attn1" : "attn2";
    const blockScope = block === "mid" ? "mid_block" : `${block}_blocks.${blockIndex}`;
    const name = `${blockScope}/attentions.${attentionIndex}/transformer_blocks.0/${attn}`;
    const unique = !names.has(name);
    if (unique) names.add(name);
    return {
      ...b,
      name: unique ? name : b.name,
      place: { block, blockIndex, attentionIndex, transformerIndex: 0, attn, prefix: "", from: "graph" as const, temporal: false },
    };
  });
}

function placeOf(names: readonly (string | null | undefined)[]): { place: AttentionPlace; scope: string | null } {
  for (const name of names) {
    const m = name ? SCOPE.exec(name) : null;
    if (!m) continue;
    const [, prefix = "", kind, blockIndex, mid, attentions = "attentions", attention, transformer, attn] = m;
    const block: BlockKind = mid ? "mid" : kind === "down_blocks" ? "down" : "up";
    const blockScope = mid ? "mid_block" : `${kind}.${blockIndex}`;
    return {
      place: {
        block,
        blockIndex: mid ? 0 : Number(blockIndex),
        attentionIndex: Number(attention),
        transformerIndex: Number(transformer),
        attn: attn ?? null,
        prefix,
        from: "names",
        temporal: attentions !== "attentions",
      },
      scope: `${prefix.replace(/^\//, "")}${prefix ? "/" : ""}${blockScope}/${attentions}.${attention}/transformer_blocks.${transformer}/${attn}`,
    };
  }
  return { place: { block: "unknown", blockIndex: null, attentionIndex: null, transformerIndex: null, attn: null, prefix: "", from: "none", temporal: false }, scope: null };
}

/**
 * Halvings of the latent size for every tensor computed from `sample` (data flow only; shape
 * computations do not carry a level). Stride-s convs and pools add log2 s, resizes by a constant
 * scale subtract it; a resize to the size of another tensor takes that tensor's level.
 */
function spatialLevels(ix: GraphIndex, root: string | undefined): Map<string, number> {
  const levels = new Map<string, number>();
  if (!root) return levels;
  levels.set(root, 0);
  const shapeSources = new Map<string, string>(); // Shape output → the tensor it measures
  for (const node of ix.nodes) {
    const op = node.opType ?? "";
    const inputs = node.input ?? [];
    if (op === "Shape") {
      shapeSources.set(node.output![0]!, inputs[0]!);
      continue;
    }
    if (["Slice", "Gather", "Concat", "Cast"].includes(op)) {
      const src = inputs.map((i) => shapeSources.get(i)).find((s) => s !== undefined);
      if (src !== undefined) shapeSources.set(node.output![0]!, src);
    }
    const dataInputs = op === "Resize" || op === "Upsample" || op === "Reshape" || op === "Expand" ? inputs.slice(0, 1) : inputs;
    const level = dataInputs.map((i) => levels.get(i)).find((l) => l !== undefined);
    if (level === undefined) continue;
    let out: number | undefined = level;
    if (op === "Conv" || op === "MaxPool" || op === "AveragePool") out = level + Math.log2(intsAttr(node, "strides")?.[0] ?? 1);
    else if (op === "ConvTranspose") out = level - Math.log2(intsAttr(node, "strides")?.[0] ?? 1);
    else if (op === "Resize" || op === "Upsample") out = resizeLevel(ix, node, level, levels, shapeSources);
    if (out === undefined || !Number.isInteger(out)) continue;
    for (const o of node.output ?? []) if (o) levels.set(o, out);
  }
  return levels;
}

function resizeLevel(ix: GraphIndex, node: onnx.INodeProto, level: number, levels: Map<string, number>, shapeSources: Map<string, string>): number | undefined {
  const inputs = node.input ?? [];
  const scalesName = node.opType === "Upsample" ? inputs[1] : inputs[2];
  const scales = scalesName ? ix.constantNumbers(scalesName) : undefined;
  if (scales?.length) return level - Math.log2(scales[scales.length - 1]!);
  const sizes = inputs[3] ? shapeSources.get(inputs[3]) : undefined;
  return sizes !== undefined ? levels.get(sizes) : undefined;
}
