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
import { GraphIndex, intsAttr } from "./graph-index.ts";

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
}

export interface AttentionBlock {
  /** Position among the blocks, in graph order. */
  readonly index: number;
  /** The module scope ("down_blocks.0/attentions.0/transformer_blocks.0/attn1") or `attention_<index>`. */
  readonly name: string;
  /** Keys/values come from the block's own hidden states (attn1), not from the encoder states. */
  readonly self: boolean;
  /** "classic" = AttnProcessor (3-D, scale after Q·Kᵀ); "sdpa" = AttnProcessor2_0 (4-D, √scale on Q and Kᵀ). */
  readonly pattern: "classic" | "sdpa";
  readonly place: AttentionPlace;
  /**
   * Halvings of the latent size at this block's queries (0 = latent resolution), counted from
   * stride-2 convs/pools and ×2 resizes between `sample` and the block; null if not traceable.
   */
  readonly level: number | null;
  /** The tensor name of each site. */
  readonly tensors: Readonly<Record<SiteKind, string>>;
}

/** Query/key token counts of a block for a latent of `height`×`width` (keys of cross-attention = context length). */
export function tokenCounts(block: AttentionBlock, height: number, width: number, contextTokens = 77): { query: number; key: number } | undefined {
  if (block.level === null) return undefined;
  const f = 2 ** block.level;
  const query = Math.ceil(height / f) * Math.ceil(width / f);
  return { query, key: block.self ? query : contextTokens };
}

const PASS_THROUGH = new Set(["Reshape", "Transpose", "Cast", "Identity", "Squeeze", "Unsqueeze", "Dropout"]);
const SCOPE = /^(.*?)\/?(?:(down_blocks|up_blocks)\.(\d+)|(mid_block))\/attentions\.(\d+)\/transformer_blocks\.(\d+)\/([A-Za-z_]*\d*)\//;

/** Every attention block of the model's graph, in graph order. */
export function findAttentionBlocks(model: onnx.IModelProto): AttentionBlock[] {
  const ix = new GraphIndex(model.graph ?? {});
  const levels = spatialLevels(ix);
  const blocks: AttentionBlock[] = [];
  for (const softmax of ix.nodes) {
    if (softmax.opType !== "Softmax") continue;
    const found = matchAttention(ix, softmax);
    if (!found) continue;
    const index = blocks.length;
    const place = placeOf([softmax.name, ix.producerOf(found.q)?.name, ix.producerOf(found.out)?.name]);
    const qSource = projectionSource(ix, found.q);
    const kSource = projectionSource(ix, found.k);
    blocks.push({
      index,
      name: place.scope ?? `attention_${index}`,
      self: qSource === kSource,
      pattern: found.pattern,
      place: place.place,
      level: levels.get(found.q) ?? null,
      tensors: { q: found.q, k: found.k, v: found.v, probs: found.probs, out: found.out },
    });
  }
  return blocks;
}

interface Match {
  q: string;
  k: string;
  v: string;
  probs: string;
  out: string;
  pattern: "classic" | "sdpa";
}

function matchAttention(ix: GraphIndex, softmax: onnx.INodeProto): Match | undefined {
  // Back from the scores to Q·Kᵀ through a scale (classic) and an additive mask.
  let scores = softmax.input?.[0] ?? "";
  let scaledAfter = false;
  let qk: onnx.INodeProto | undefined;
  for (let hops = 0; hops < 4; hops++) {
    const node = ix.producerOf(scores);
    if (!node) return undefined;
    if (node.opType === "MatMul") {
      qk = node;
      break;
    }
    if (node.opType === "Mul" || node.opType === "Div") {
      const data = dataOperand(ix, node);
      if (!data) return undefined;
      scaledAfter = true;
      scores = data;
    } else if (node.opType === "Add" || node.opType === "Cast") {
      scores = node.input![0]!;
    } else return undefined;
  }
  if (!qk || qk.input!.some((i) => ix.isConstant(i))) return undefined;

  // Forward from the probabilities to P·V.
  let probs = softmax.output![0]!;
  let pv: onnx.INodeProto | undefined;
  for (let hops = 0; hops < 3 && !pv; hops++) {
    const next = ix.consumersOf(probs);
    pv = next.find((n) => n.opType === "MatMul" && n.input![0] === probs);
    if (pv) break;
    const pass = next.length === 1 && ["Cast", "Identity", "Dropout"].includes(next[0]!.opType ?? "") ? next[0] : undefined;
    if (!pass) return undefined;
    probs = pass.output![0]!;
  }
  if (!pv) return undefined;

  let q = qk.input![0]!;
  let k = qk.input![1]!;
  const qScale = scaleStep(ix, q);
  const kScale = scaleStep(ix, k);
  if (qScale) q = qScale;
  if (kScale) k = kScale;
  // Rows of k should be tokens, like q and v: step back over the transpose into Kᵀ.
  const kt = ix.producerOf(k);
  if (kt?.opType === "Transpose" && swapsLastTwo(intsAttr(kt, "perm"))) k = kt.input![0]!;

  const out = outputProjection(ix, pv.output![0]!);
  if (!out) return undefined;
  return { q, k, v: pv.input![1]!, probs, out, pattern: !scaledAfter && (qScale || kScale) ? "sdpa" : "classic" };
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

/** From P·V forward through the head merge to to_out.0's result (MatMul/Gemm + constant bias). */
function outputProjection(ix: GraphIndex, mixed: string): string | undefined {
  let t = mixed;
  for (let hops = 0; hops < 6; hops++) {
    const next = ix.consumersOf(t);
    if (next.length !== 1) return undefined;
    const node = next[0]!;
    if ((node.opType === "MatMul" || node.opType === "Gemm") && node.input![0] === t && ix.isConstant(node.input![1]!)) {
      const y = node.output![0]!;
      if (node.opType === "Gemm" && node.input![2]) return y;
      const after = ix.consumersOf(y);
      const bias = after.length === 1 && after[0]!.opType === "Add" ? after[0] : undefined;
      const biasIsConstant = bias && bias.input!.some((i) => i !== y && ix.isConstant(i));
      return biasIsConstant ? bias.output![0]! : y;
    }
    if (!PASS_THROUGH.has(node.opType ?? "")) return undefined;
    t = node.output![0]!;
  }
  return undefined;
}

/**
 * The hidden states a q/k path projects from: back through head reshapes, scales and the bias
 * to the projection MatMul with constant weights, then that MatMul's input. Self-attention is
 * when q and k come from the same tensor.
 */
function projectionSource(ix: GraphIndex, t: string): string {
  let cur = t;
  for (let hops = 0; hops < 12; hops++) {
    const node = ix.producerOf(cur);
    if (!node) return cur;
    const op = node.opType ?? "";
    if ((op === "MatMul" || op === "Gemm") && ix.isConstant(node.input![1]!)) return node.input![0]!;
    if (PASS_THROUGH.has(op)) cur = node.input![0]!;
    else if (op === "Mul" || op === "Div" || op === "Add") {
      const data = op === "Add" ? node.input!.find((i) => !ix.isConstant(i)) : dataOperand(ix, node);
      if (!data) return cur;
      cur = data;
    } else return cur;
  }
  return cur;
}

function placeOf(names: readonly (string | null | undefined)[]): { place: AttentionPlace; scope: string | null } {
  for (const name of names) {
    const m = name ? SCOPE.exec(name) : null;
    if (!m) continue;
    const [, prefix = "", kind, blockIndex, mid, attention, transformer, attn] = m;
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
      },
      scope: `${prefix.replace(/^\//, "")}${prefix ? "/" : ""}${blockScope}/attentions.${attention}/transformer_blocks.${transformer}/${attn}`,
    };
  }
  return { place: { block: "unknown", blockIndex: null, attentionIndex: null, transformerIndex: null, attn: null, prefix: "" }, scope: null };
}

/**
 * Halvings of the latent size for every tensor computed from `sample` (data flow only; shape
 * computations do not carry a level). Stride-s convs and pools add log2 s, resizes by a constant
 * scale subtract it; a resize to the size of another tensor takes that tensor's level.
 */
function spatialLevels(ix: GraphIndex): Map<string, number> {
  const levels = new Map<string, number>();
  const root = ix.inputs.find((i) => i.name === "sample") ?? ix.inputs.find((i) => i.type?.tensorType?.shape?.dim?.length === 4);
  if (!root?.name) return levels;
  levels.set(root.name, 0);
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
