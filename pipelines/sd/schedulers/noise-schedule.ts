/**
 * Training noise schedule: betas, cumulative alphas ᾱ, the "VE" sigmas σ = √((1 − ᾱ)/ᾱ), and the
 * sigma helpers diffusers' Euler/DPM schedulers use (linear interpolation in t, sigma→t in log σ,
 * Karras spacing). Ref: /work/shared/reference/schedulers.md §1, §5. Everything is float64 (diffusers
 * uses float32 tensors; the reference values agree to ~1e-6 relative).
 */

export type BetaSchedule = "linear" | "scaled_linear" | "squaredcos_cap_v2";

/** β_i for i = 0…T−1. */
export function makeBetas(schedule: BetaSchedule, betaStart: number, betaEnd: number, steps: number): Float64Array {
  const betas = new Float64Array(steps);
  const denom = Math.max(steps - 1, 1);
  if (schedule === "linear") {
    for (let i = 0; i < steps; i++) betas[i] = betaStart + ((betaEnd - betaStart) * i) / denom;
  } else if (schedule === "scaled_linear") {
    // Linear in √β, then squared.
    const a = Math.sqrt(betaStart);
    const b = Math.sqrt(betaEnd);
    for (let i = 0; i < steps; i++) betas[i] = (a + ((b - a) * i) / denom) ** 2;
  } else {
    // Cosine schedule (Nichol & Dhariwal 2021): ᾱ(τ) = cos²((τ + 0.008)/1.008 · π/2), β capped at 0.999.
    const alphaBar = (tau: number) => Math.cos(((tau + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (let i = 0; i < steps; i++) {
      betas[i] = Math.min(1 - alphaBar((i + 1) / steps) / alphaBar(i / steps), 0.999);
    }
  }
  return betas;
}

/** ᾱ_t = ∏_{i≤t} (1 − β_i). */
export function cumulativeAlphas(betas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) {
    product *= 1 - betas[i]!;
    out[i] = product;
  }
  return out;
}

/** σ = √((1 − ᾱ)/ᾱ), the noise level of x = x₀ + σ·ε. */
export function sigmaFromAlphaBar(alphaBar: number): number {
  return Math.sqrt((1 - alphaBar) / alphaBar);
}

/** ᾱ = 1/(1 + σ²). */
export function alphaBarFromSigma(sigma: number): number {
  return 1 / (1 + sigma * sigma);
}

export function trainingSigmas(alphasCumprod: ArrayLike<number>): Float64Array {
  return Float64Array.from(alphasCumprod, sigmaFromAlphaBar);
}

/** σ at a possibly fractional timestep t ∈ [0, T−1], linear in t (numpy.interp over 0…T−1). */
export function interpolateSigma(sigmas: ArrayLike<number>, t: number): number {
  const last = sigmas.length - 1;
  if (!(t >= 0 && t <= last)) throw new RangeError(`timestep ${t} is outside [0, ${last}]`);
  const j = Math.min(Math.floor(t), last - 1);
  if (j < 0) return sigmas[0]!;
  return (sigmas[j + 1]! - sigmas[j]!) * (t - j) + sigmas[j]!;
}

/**
 * The (fractional) timestep whose σ is `sigma`, piecewise linear in log σ over the training table
 * and clamped to [0, T−1] (diffusers' `_sigma_to_t`).
 */
export function sigmaToTimestep(logSigmas: ArrayLike<number>, sigma: number): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // Last index whose log σ is ≤ the target (0 if none), kept one short of the end.
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i]! >= 0) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const lo = logSigmas[low]!;
  const hi = logSigmas[low + 1]!;
  const w = Math.min(Math.max((lo - logSigma) / (lo - hi), 0), 1);
  return (1 - w) * low + w * (low + 1);
}

/** Karras et al. 2022 (arXiv 2206.00364) eq. 5: n sigmas from σ_max down to σ_min, even in σ^(1/ρ). */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number, rho = 7): number[] {
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return Array.from({ length: n }, (_, i) => {
    const ramp = n > 1 ? i / (n - 1) : 0;
    return (maxInv + ramp * (minInv - maxInv)) ** rho;
  });
}
