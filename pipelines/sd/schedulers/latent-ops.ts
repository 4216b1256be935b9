/**
 * The tensor operations a scheduler step needs. Every step is a few linear combinations whose
 * scalar coefficients the scheduler computes in float64, so a device backend only has to provide
 * an axpby-style kernel. `float32Ops` is the plain CPU version (tests, tiny models).
 */

/** One term of a linear combination: coefficient × tensor. */
export type LinearTerm<T> = readonly [coef: number, x: T];

export interface LatentOps<T> {
  /** Σ coefᵢ·xᵢ as a NEW tensor; all xᵢ have the same shape. Never modifies or frees its inputs. */
  combine(terms: ReadonlyArray<LinearTerm<T>>): T;
  /** (optional) Elementwise clamp to [lo, hi] as a new tensor; only DDIM/LCM with `clip_sample` need it. */
  clamp?(x: T, lo: number, hi: number): T;
  /** (optional) Frees an intermediate the scheduler made or was handed by a noise source. */
  dispose?(x: T): void;
}

/** Float32Array implementation: sums in float64 per element, rounds once to f32. */
export const float32Ops: LatentOps<Float32Array> = {
  combine(terms) {
    const first = terms[0];
    if (first === undefined) throw new RangeError("combine needs at least one term");
    const n = first[1].length;
    for (const [, x] of terms) {
      if (x.length !== n) throw new RangeError(`combine: tensor lengths differ (${n} vs ${x.length})`);
    }
    const acc = new Float64Array(n);
    for (const [c, x] of terms) {
      for (let i = 0; i < n; i++) acc[i]! += c * x[i]!;
    }
    return new Float32Array(acc);
  },
  clamp(x, lo, hi) {
    return x.map((v) => Math.min(hi, Math.max(lo, v)));
  },
};
