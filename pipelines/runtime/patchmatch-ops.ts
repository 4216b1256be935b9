import { patchmatch } from "../../kernels/patchmatch.ts";
import type { Backend } from "./backend.ts";
import { launch } from "./launcher.ts";
import { Tensor } from "./tensor.ts";

/**
 * Typed, shape-checked calls into kernels/patchmatch.cu (layouts in its module comment):
 * images `[b, h, w, 4]` f32, records `[b, h + 2·pad, w + 2·pad, 8]` f32, fields (NNFs)
 * `[b, h, w, 2]` i32 of (row, col) into the source, errors `[b, h, w]` f32. Each function writes
 * into `out` when given, else returns a new tensor. The search itself lives in
 * pipelines/stylize/patch-match.ts.
 */

export const RECORD_CHANNELS = 8;

/** Candidate kinds of pm_candidate_i32 (the .cu's mode numbers). */
export const CANDIDATE = {
  /** The neighbour's match moved back: above, left, below, right. */
  propagate: [0, 1, 2, 3],
  /** The pixel's own match moved: up, left, down, right. */
  shift: [4, 5, 6, 7],
  random: 8,
} as const;

function dims(t: Tensor, rank: number, last: number, what: string, dtype: "f32" | "i32" | "u8" = "f32"): number[] {
  if (t.dtype !== dtype || t.shape.length !== rank || t.shape[rank - 1] !== last) {
    const want = `[${Array.from({ length: rank - 1 }, () => "…").join(", ")}, ${last}]`;
    throw new RangeError(`${what} must be ${dtype} ${want}, got ${t.dtype} [${t.shape.join(", ")}]`);
  }
  return [...t.shape];
}

function same(a: readonly number[], b: readonly number[], what: string): void {
  if (a.length !== b.length || a.some((v, i) => v !== b[i])) throw new RangeError(`${what}: [${a.join(", ")}] vs [${b.join(", ")}]`);
}

const target = (out: Tensor | undefined, backend: Backend, dtype: "f32" | "i32" | "u8", shape: number[], what: string) => {
  if (!out) return Tensor.uninitialized(backend, dtype, shape);
  if (out.dtype !== dtype) throw new RangeError(`${what} must be ${dtype}, got ${out.dtype}`);
  same(out.shape, shape, `${what} has the wrong shape`);
  return out;
};

const radiusOf = (patchSize: number) => {
  if (!Number.isInteger(patchSize) || patchSize < 1 || patchSize % 2 === 0) throw new RangeError(`patch size ${patchSize} must be odd and ≥ 1`);
  return (patchSize - 1) / 2;
};

/** rgb24 `[b, h, w, 3]` u8 → `[b, h, w, 4]` f32 in 0..255. */
export function rgbToImage(rgb: Tensor, out?: Tensor): Tensor {
  const [b, h, w] = dims(rgb, 4, 3, "rgb24 frames", "u8");
  const o = target(out, rgb.backend, "f32", [b!, h!, w!, 4], "image");
  launch(patchmatch, "pm_rgb24_to_f32x4", { out: o, rgb, n: b! * h! * w! });
  return o;
}

/** `[b, h, w, 4]` f32 → rgb24 u8, clipped to 0..255 and rounded (or truncated, as FastBlend). */
export function imageToRgb(x: Tensor, options: { round?: boolean; out?: Tensor } = {}): Tensor {
  const [b, h, w] = dims(x, 4, 4, "image");
  const o = target(options.out, x.backend, "u8", [b!, h!, w!, 3], "rgb24 frames");
  launch(patchmatch, "pm_f32x4_to_rgb24", { out: o, x, n: b! * h! * w!, round: options.round === false ? 0 : 1 });
  return o;
}

/** Area averaging to `oh × ow`. */
export function downsample(x: Tensor, oh: number, ow: number, out?: Tensor): Tensor {
  const [b, h, w] = dims(x, 4, 4, "image");
  if (oh < 1 || ow < 1 || oh > h! || ow > w!) throw new RangeError(`downsample ${h}x${w} to ${oh}x${ow}: must shrink`);
  const o = target(out, x.backend, "f32", [b!, oh, ow, 4], "downsampled image");
  launch(patchmatch, "pm_downsample_f32", { out: o, x, b: b!, h: h!, w: w!, oh, ow });
  return o;
}

/** Guide and style of each item in one record with a zero border of `pad`. */
export function packRecord(guide: Tensor, style: Tensor, pad: number, out?: Tensor): Tensor {
  const [b, h, w] = dims(guide, 4, 4, "guide");
  same(dims(style, 4, 4, "style"), guide.shape, "guide and style differ in shape");
  const o = target(out, guide.backend, "f32", [b!, h! + 2 * pad, w! + 2 * pad, RECORD_CHANNELS], "record");
  launch(patchmatch, "pm_pack_f32", { rec: o, guide, style, b: b!, h: h!, w: w!, pad });
  return o;
}

export interface FieldShape {
  b: number;
  h: number;
  w: number;
  /** Source size the field points into. */
  sh: number;
  sw: number;
}

/** The identity field (scaled when the source has another size). */
export function identityField(backend: Backend, s: FieldShape, out?: Tensor): Tensor {
  const o = target(out, backend, "i32", [s.b, s.h, s.w, 2], "field");
  launch(patchmatch, "pm_nnf_identity_i32", { nnf: o, ...s });
  return o;
}

/** A field uniform over the source from the counter-based hash. */
export function randomField(backend: Backend, s: FieldShape, seed: number, out?: Tensor): Tensor {
  const o = target(out, backend, "i32", [s.b, s.h, s.w, 2], "field");
  launch(patchmatch, "pm_nnf_random_i32", { nnf: o, ...s, seed: seed >>> 0 });
  return o;
}

/** A coarse field (into a `csh × csw` source) carried to an `h × w` target into an `sh × sw` source. */
export function upsampleField(nnf: Tensor, coarseSource: { h: number; w: number }, s: Omit<FieldShape, "b">, out?: Tensor): Tensor {
  const [b, ch, cw] = dims(nnf, 4, 2, "field", "i32");
  const o = target(out, nnf.backend, "i32", [b!, s.h, s.w, 2], "field");
  launch(patchmatch, "pm_nnf_upsample_i32", { out: o, nnf, b: b!, ...s, ch: ch!, cw: cw!, csh: coarseSource.h, csw: coarseSource.w });
  return o;
}

/** A candidate field (`mode` from CANDIDATE; `amount` is the jump, shift or random radius). */
export function candidateField(
  nnf: Tensor,
  source: { h: number; w: number },
  mode: number,
  amount: number,
  random: { seed: number; stream: number } = { seed: 0, stream: 0 },
  out?: Tensor,
): Tensor {
  const [b, h, w] = dims(nnf, 4, 2, "field", "i32");
  const o = target(out, nnf.backend, "i32", [b!, h!, w!, 2], "candidate field");
  launch(patchmatch, "pm_candidate_i32", {
    cand: o, nnf, b: b!, h: h!, w: w!, sh: source.h, sw: source.w, mode, amount, seed: random.seed >>> 0, stream: random.stream >>> 0,
  });
  return o;
}

function recordDims(rec: Tensor, pad: number, what: string) {
  const [b, ph, pw] = dims(rec, 4, RECORD_CHANNELS, what);
  return { b: b!, h: ph! - 2 * pad, w: pw! - 2 * pad };
}

/**
 * Per-pixel weighted patch SSD of `nnf` from target records to source records (+ `out` when
 * accumulating). With `skipSameAs`, pixels where `nnf` equals that field get a huge error instead
 * (acceptBetter never takes them), which spares the work for candidates that change nothing.
 */
export function patchError(
  tgt: Tensor,
  src: Tensor,
  nnf: Tensor,
  weights: Tensor,
  o: { pad: number; patchSize: number; accumulate?: boolean; skipSameAs?: Tensor; out?: Tensor },
): Tensor {
  const t = recordDims(tgt, o.pad, "target record");
  const s = recordDims(src, o.pad, "source record");
  same(dims(nnf, 4, 2, "field", "i32"), [t.b, t.h, t.w, 2], "field and target record differ");
  if (s.b !== t.b) throw new RangeError(`target and source records hold ${t.b} and ${s.b} items`);
  const r = radiusOf(o.patchSize);
  if (r > o.pad) throw new RangeError(`patch size ${o.patchSize} needs a border of ${r}, the records have ${o.pad}`);
  const out = target(o.out, tgt.backend, "f32", [t.b, t.h, t.w], "error");
  if (o.skipSameAs) same(o.skipSameAs.shape, nnf.shape, "skipSameAs and field differ");
  launch(patchmatch, "pm_patch_error_f32", {
    err: out, tgt, src, nnf, ref: o.skipSameAs ?? nnf, weights, b: t.b, h: t.h, w: t.w, sh: s.h, sw: s.w, pad: o.pad, r,
    accumulate: o.accumulate ? 1 : 0, skip_same: o.skipSameAs ? 1 : 0,
  });
  return out;
}

/** FastBlend's pairwise error: items 2k and 2k+1 of `nnf` both get how much their remapped source patches disagree. */
export function pairwiseError(src: Tensor, nnf: Tensor, weights: Tensor, o: { pad: number; patchSize: number; accumulate?: boolean; out?: Tensor }): Tensor {
  const s = recordDims(src, o.pad, "source record");
  const [b, h, w] = dims(nnf, 4, 2, "field", "i32");
  if (b !== s.b || b! % 2 !== 0) throw new RangeError(`pairwise error needs an even batch of fields and sources, got ${b} and ${s.b}`);
  const r = radiusOf(o.patchSize);
  if (r > o.pad) throw new RangeError(`patch size ${o.patchSize} needs a border of ${r}, the records have ${o.pad}`);
  const out = target(o.out, src.backend, "f32", [b!, h!, w!], "error");
  launch(patchmatch, "pm_pairwise_error_f32", {
    err: out, src, nnf, weights, pairs: b! / 2, h: h!, w: w!, sh: s.h, sw: s.w, pad: o.pad, r, accumulate: o.accumulate ? 1 : 0,
  });
  return out;
}

/** Where `candErr < err`, takes the candidate into `nnf` and `err` (in place). */
export function acceptBetter(nnf: Tensor, err: Tensor, cand: Tensor, candErr: Tensor): void {
  same(cand.shape, nnf.shape, "candidate and field differ");
  same(candErr.shape, err.shape, "candidate error and error differ");
  launch(patchmatch, "pm_accept_f32", { nnf, err, cand, cand_err: candErr, n: err.size });
}

/** The vote: each target pixel is the mean of what the overlapping matched patches say it is. */
export function remap(style: Tensor, nnf: Tensor, patchSize: number, out?: Tensor): Tensor {
  const [sb, sh, sw] = dims(style, 4, 4, "style");
  const [b, h, w] = dims(nnf, 4, 2, "field", "i32");
  if (sb !== b) throw new RangeError(`remap: ${sb} style images for ${b} fields`);
  const o = target(out, style.backend, "f32", [b!, h!, w!, 4], "remapped image");
  launch(patchmatch, "pm_remap_f32", { out: o, style, nnf, b: b!, h: h!, w: w!, sh: sh!, sw: sw!, r: radiusOf(patchSize) });
  return o;
}

/** Mean over the first axis: `[b, …]` → `[1, …]`. */
export function batchMean(x: Tensor, out?: Tensor): Tensor {
  const [b = 1, ...rest] = x.shape;
  const o = target(out, x.backend, "f32", [1, ...rest], "mean");
  launch(patchmatch, "pm_batch_mean_f32", { out: o, x, b, n: x.size / b });
  return o;
}

/** pm_rand of the .cu on the host (direction orders and such must agree with the kernels' stream). */
export function patchRand(seed: number, stream: number, counter: number): number {
  const mix = (x: number) => {
    x = Math.imul((x ^ (x >>> 16)) >>> 0, 0x7feb352d) >>> 0;
    x = Math.imul((x ^ (x >>> 15)) >>> 0, 0x846ca68b) >>> 0;
    return (x ^ (x >>> 16)) >>> 0;
  };
  const key = mix((Math.imul(seed, 0x9e3779b9) + Math.imul(stream, 0x85ebca6b) + 0x632be5ab) >>> 0);
  return mix((key ^ Math.imul(counter, 0xc2b2ae35)) >>> 0);
}
