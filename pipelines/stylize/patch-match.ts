/**
 * The NNF search for batches of frame pairs, coarse to fine (shared/specs/patch-match.md, C):
 * for each pair, a field from the target frame's pixels to the source frame's, found from the
 * guides (weighted) and the source style against the target's current style estimate, then the
 * source style voted through it. Every step is a Jacobi pass of kernels/patchmatch.cu:
 *
 *   per level (coarsest first; identity or hashed-random field there, the coarser field upsampled
 *   elsewhere), per iteration k: T = remap(style, φ); err = E(φ);
 *     propagation at jumps 4, 2, 1 (each in a hashed order of the four neighbours),
 *     1-pixel shifts of the pixel's own match, random search over radii R, R/2, …, 1,
 *     each as: candidate field → its error → keep where strictly lower.
 *
 * Three ways to score a batch (FastBlend's runners): `independent` pairs; `consensus` (accurate
 * mode: every item shares the target and the style term compares with the batch mean of the
 * candidates' remaps); `pairwise` (interpolation: items 2k, 2k+1 share a target and the style term
 * is how much their two remapped patches disagree).
 */
import { UsageError } from "../errors.ts";
import type { Backend } from "../runtime/backend.ts";
import {
  acceptBetter, batchMean, CANDIDATE, candidateField, downsample, identityField, packRecord, pairwiseError, patchError, patchRand,
  randomField, remap, upsampleField,
} from "../runtime/patchmatch-ops.ts";
import { Tensor } from "../runtime/tensor.ts";

export interface PatchMatchOptions {
  /** Smallest patch side, odd (FastBlend's minimum_patch_size). The vote uses it. */
  patchSize: number;
  /** Search iterations per pyramid level (num_iter). */
  iterations: number;
  /** Weight of the guide SSD against the style SSD (weight 1). */
  guideWeight: number;
  /** FastBlend's schedule: iteration k uses patch side patchSize + 2(iterations − 1 − k); else fixed. */
  shrinkPatch: boolean;
  /** Pyramid levels; null: floor(log2(min side / largest patch)), at least 1. */
  levels: number | null;
  /** Propagation jumps, in order (jump flooding). */
  jumps: readonly number[];
  /** Also try the pixel's own match moved by one pixel each way. */
  shifts: boolean;
  /**
   * Largest random-search radius on the finer levels; null: half the level's larger side, as on
   * the coarsest level (radii halve down to 1). A small radius (FastBlend searches ±4) leaves
   * pixels whose content is out of frame, near the borders, with whatever the coarser level gave.
   */
  searchRadius: number | null;
  /** Random candidates tried at each radius. */
  randomSamples: number;
  /** Field at the coarsest level. */
  init: "identity" | "random";
  /** Seeds the random search (and a random init). */
  seed: number;
}

export const PATCH_MATCH_DEFAULTS: PatchMatchOptions = {
  patchSize: 5,
  iterations: 4,
  guideWeight: 10,
  shrinkPatch: false,
  levels: null,
  jumps: [4, 2, 1],
  shifts: true,
  searchRadius: null,
  randomSamples: 3,
  init: "identity",
  seed: 0,
};

export type PairScoring = "independent" | "consensus" | "pairwise";

/** One batch of pairs, `[b, h, w, 4]` f32 each, all of one size. */
export interface PairBatch {
  sourceGuide: Tensor;
  sourceStyle: Tensor;
  targetGuide: Tensor;
}

export interface IterationReport {
  level: number;
  iteration: number;
  /** Pixels of the level. */
  size: { h: number; w: number };
  /** Mean per-pixel patch error over the batch after the iteration. */
  energy: number;
}

export interface MatchOptions {
  scoring?: PairScoring;
  /** Called after every iteration with the energy (reads the errors back: for tests and benches). */
  onIteration?: (r: IterationReport) => void;
  /** Keep the finest field in the result (the caller disposes it). */
  keepField?: boolean;
}

export interface MatchResult extends Disposable {
  /** The source styles voted onto the targets, `[b, h, w, 4]`. */
  remapped: Tensor;
  field?: Tensor;
}

const largestPatch = (o: PatchMatchOptions) => (o.shrinkPatch ? o.patchSize + 2 * (o.iterations - 1) : o.patchSize);

/** Level sizes, coarsest first: level l is (h, w) floor-divided by 2^(L−1−l), as FastBlend. */
export function pyramidSizes(h: number, w: number, o: PatchMatchOptions): { h: number; w: number }[] {
  const auto = Math.max(1, Math.floor(Math.log2(Math.min(h, w) / largestPatch(o))));
  const levels = Math.max(1, Math.min(o.levels ?? auto, auto));
  return Array.from({ length: levels }, (_, l) => {
    const f = 2 ** (levels - 1 - l);
    return { h: Math.max(1, Math.floor(h / f)), w: Math.max(1, Math.floor(w / f)) };
  });
}

/** Bytes of device memory one match of a batch of `b` pairs at h × w holds at most (the finest level). */
export function matchBytes(b: number, h: number, w: number, o: PatchMatchOptions): number {
  const pad = (largestPatch(o) - 1) / 2;
  const image = 16 * b * h * w;
  const record = 32 * b * (h + 2 * pad) * (w + 2 * pad);
  const field = 8 * b * h * w;
  const errors = 4 * b * h * w;
  // level copies of 3 inputs + T + a scratch remap, 2 records (+1 scratch), 3 fields, 2 error maps, the result
  return 5 * image + 3 * record + 3 * field + 2 * errors + image;
}

/** The 24 orders of the four propagation directions; one is picked per step by the hash. */
const ORDERS: number[][] = (() => {
  const out: number[][] = [];
  const rec = (prefix: number[], rest: number[]) => {
    if (rest.length === 0) out.push(prefix);
    for (const v of rest) rec([...prefix, v], rest.filter((x) => x !== v));
  };
  rec([], [0, 1, 2, 3]);
  return out;
})();

export class PatchMatcher {
  readonly options: PatchMatchOptions;
  readonly #weights: { full: Tensor; guide: Tensor; style: Tensor };

  constructor(readonly backend: Backend, options: Partial<PatchMatchOptions> = {}) {
    this.options = { ...PATCH_MATCH_DEFAULTS, ...options };
    const o = this.options;
    if (!Number.isInteger(o.patchSize) || o.patchSize < 1 || o.patchSize % 2 === 0) throw new UsageError(`patch size ${o.patchSize} must be an odd integer ≥ 1`);
    if (!Number.isInteger(o.iterations) || o.iterations < 1) throw new UsageError(`iterations ${o.iterations} must be an integer ≥ 1`);
    const g = o.guideWeight;
    this.#weights = {
      full: Tensor.from(backend, "f32", [8], [g, g, g, 0, 1, 1, 1, 0]),
      guide: Tensor.from(backend, "f32", [8], [g, g, g, 0, 0, 0, 0, 0]),
      style: Tensor.from(backend, "f32", [8], [0, 0, 0, 0, 1, 1, 1, 0]),
    };
  }

  /** Matches every pair of the batch and votes its source style onto its target. */
  match(batch: PairBatch, m: MatchOptions = {}): MatchResult {
    const o = this.options;
    const scoring = m.scoring ?? "independent";
    const [b, H, W] = batch.targetGuide.shape as [number, number, number, number];
    for (const t of [batch.sourceGuide, batch.sourceStyle]) {
      if (t.shape.join() !== batch.targetGuide.shape.join()) {
        throw new RangeError(`pair batch tensors differ: [${t.shape}] vs [${batch.targetGuide.shape}]`);
      }
    }
    if (scoring === "pairwise" && b % 2 !== 0) throw new RangeError(`pairwise scoring needs an even batch, got ${b}`);
    const pmax = largestPatch(o);
    const pad = (pmax - 1) / 2;
    const sizes = pyramidSizes(H, W, o);
    let field: Tensor | undefined;
    let prev = sizes[0]!;
    let stream = 1;
    for (let level = 0; level < sizes.length; level++) {
      const { h, w } = sizes[level]!;
      const full = h === H && w === W;
      using gs = full ? undefined : downsample(batch.sourceGuide, h, w);
      using ss = full ? undefined : downsample(batch.sourceStyle, h, w);
      using gt = full ? undefined : downsample(batch.targetGuide, h, w);
      const sourceGuide = gs ?? batch.sourceGuide, sourceStyle = ss ?? batch.sourceStyle, targetGuide = gt ?? batch.targetGuide;
      const shape = { b, h, w, sh: h, sw: w };
      let nnf: Tensor;
      if (!field) nnf = o.init === "random" ? randomField(this.backend, shape, o.seed) : identityField(this.backend, shape);
      else {
        nnf = upsampleField(field, prev, { h, w, sh: h, sw: w });
        field.dispose();
      }
      field = nnf;
      prev = { h, w };
      using src = packRecord(sourceGuide, sourceStyle, pad);
      using tgt = Tensor.uninitialized(this.backend, "f32", [b, h + 2 * pad, w + 2 * pad, 8]);
      using estimate = Tensor.uninitialized(this.backend, "f32", [b, h, w, 4]);
      using err = Tensor.uninitialized(this.backend, "f32", [b, h, w]);
      using candErr = Tensor.uninitialized(this.backend, "f32", [b, h, w]);
      using cand = Tensor.uninitialized(this.backend, "i32", [b, h, w, 2]);
      if (scoring === "pairwise") packRecord(targetGuide, targetGuide, pad, tgt); // style half unused (weight 0)

      /** Target style = the mean of the batch's remaps through `f` (consensus), copied to every item. */
      const consensus = (f: Tensor, patchSize: number) => {
        remap(sourceStyle, f, patchSize, estimate);
        const item = 16 * h * w;
        using mean = Tensor.uninitialized(this.backend, "f32", [1, h, w, 4]);
        batchMean(estimate, mean);
        for (let k = 0; k < b; k++) this.backend.copy(estimate.storage, estimate.byteOffset + k * item, mean.storage, mean.byteOffset, item);
        packRecord(targetGuide, estimate, pad, tgt);
      };
      const score = (f: Tensor, out: Tensor, patchSize: number, current?: Tensor) => {
        const common = { pad, patchSize, out };
        if (scoring === "independent") return patchError(tgt, src, f, this.#weights.full, { ...common, skipSameAs: current });
        if (scoring === "consensus") {
          consensus(f, patchSize);
          return patchError(tgt, src, f, this.#weights.full, common);
        }
        patchError(tgt, src, f, this.#weights.guide, common);
        return pairwiseError(src, f, this.#weights.style, { ...common, accumulate: true });
      };

      for (let k = 0; k < o.iterations; k++) {
        const patchSize = o.shrinkPatch ? pmax - 2 * k : o.patchSize;
        if (scoring === "independent") {
          remap(sourceStyle, nnf, patchSize, estimate);
          packRecord(targetGuide, estimate, pad, tgt);
        }
        score(nnf, err, patchSize);
        const step = (mode: number, amount: number) => {
          candidateField(nnf, { h, w }, mode, amount, { seed: o.seed, stream }, cand);
          stream++;
          score(cand, candErr, patchSize, nnf);
          acceptBetter(nnf, err, cand, candErr);
        };
        for (const jump of o.jumps) {
          const order = ORDERS[patchRand(o.seed, stream, 0) % ORDERS.length]!;
          for (const d of order) step(CANDIDATE.propagate[d]!, jump);
        }
        if (o.shifts) for (const d of CANDIDATE.shift) step(d, 1);
        const whole = Math.max(1, Math.floor(Math.max(h, w) / 2));
        const start = level === 0 || o.searchRadius === null ? whole : Math.min(o.searchRadius, whole);
        for (let radius = start; radius >= 1; radius = Math.floor(radius / 2)) {
          for (let s = 0; s < o.randomSamples; s++) step(CANDIDATE.random, radius);
        }
        m.onIteration?.({ level, iteration: k, size: { h, w }, energy: meanOf(err) });
      }
    }
    const nnf = field!;
    const remapped = remap(batch.sourceStyle, nnf, o.patchSize);
    if (!m.keepField) nnf.dispose();
    return {
      remapped,
      field: m.keepField ? nnf : undefined,
      [Symbol.dispose]() {
        remapped.dispose();
        if (m.keepField) nnf.dispose();
      },
    };
  }

  /**
   * The energy of a full-resolution field on one common scale, so fields found by different
   * settings compare: the mean over pixels and pairs of E(φ) at `patchSize` (default the
   * options'), with the target style taken as the source style voted through φ itself.
   */
  fieldEnergy(batch: PairBatch, field: Tensor, patchSize = this.options.patchSize): number {
    const [b, h, w] = batch.targetGuide.shape as [number, number, number, number];
    const pad = (patchSize - 1) / 2;
    using voted = remap(batch.sourceStyle, field, patchSize);
    using src = packRecord(batch.sourceGuide, batch.sourceStyle, pad);
    using tgt = packRecord(batch.targetGuide, voted, pad);
    using err = Tensor.uninitialized(this.backend, "f32", [b, h, w]);
    patchError(tgt, src, field, this.#weights.full, { pad, patchSize, out: err });
    return meanOf(err);
  }

  dispose(): void {
    for (const t of Object.values(this.#weights)) t.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Mean of an f32 tensor, summed in double on the host. */
export function meanOf(t: Tensor): number {
  const v = t.readF32();
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  return v.length ? s / v.length : 0;
}
