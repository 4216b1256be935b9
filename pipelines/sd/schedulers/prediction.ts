/**
 * Model output → predicted clean sample x̂₀ and implied noise ε̂, as linear coefficients on the
 * latent x and the model output m, for a VP latent x = √ᾱ·x₀ + √(1−ᾱ)·ε.
 * Ref: /work/shared/reference/schedulers.md §3.
 */
import type { PredictionType } from "./scheduler-config.ts";

/** x̂₀ = originalX·x + originalM·m and ε̂ = epsilonX·x + epsilonM·m. */
export interface PredictionCoefficients {
  originalX: number;
  originalM: number;
  epsilonX: number;
  epsilonM: number;
}

export function predictionCoefficients(type: PredictionType, alphaBar: number): PredictionCoefficients {
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  switch (type) {
    case "epsilon":
      return { originalX: 1 / a, originalM: -b / a, epsilonX: 0, epsilonM: 1 };
    case "v_prediction":
      // v = √ᾱ·ε − √(1−ᾱ)·x₀
      return { originalX: a, originalM: -b, epsilonX: b, epsilonM: a };
    case "sample":
      return { originalX: 0, originalM: 1, epsilonX: 1 / b, epsilonM: -a / b };
  }
}
