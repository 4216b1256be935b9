/**
 * Canny edges as a ControlNet condition (specs/attention-interpolation.md: grey → Canny(50, 200)
 * → three channels), every stage a kernel in kernels/edges.cu.
 *
 *   const edges = canny(frame, sd.backend);                    // rgb24, white edges on black
 *   const strict = canny(frame, sd.backend, { low: 100, high: 250 });
 *
 * Stages: OpenCV's fixed-point grey (0–255) → optional 5×5 Gaussian blur (σ 1.1, what OpenCV
 * uses for a 5-tap kernel) → 3×3 Sobel → magnitude |gx| + |gy| (L1, cv2.Canny's default; `l2`
 * for √(gx² + gy²)) and direction in 4 sectors → non-maximum suppression → double threshold
 * (weak > low, strong > high) → hysteresis: weak pixels 8-connected to a strong one become
 * strong. Passes alternate row and column sweeps (a weak run along the swept direction is
 * promoted whole in one pass) until a pass promotes none; each reads one buffer and writes the
 * other, so every thread count gives the same picture.
 * cv2.Canny itself does not blur: `blurSigma: 0` reproduces what the reference feeds it.
 */
import { UsageError } from "../../errors.ts";
import type { Frame } from "../../io/frame.ts";
import type { Backend } from "../../runtime/backend.ts";
import {
  cannyGradient,
  cannyHysteresisFill,
  cannyHysteresisSweep,
  cannyNms,
  edgesToRgb24,
  gaussianBlur5,
  rgb24ToGray,
} from "../../runtime/edges-ops.ts";
import { Tensor } from "../../runtime/tensor.ts";
import { rgbTensor } from "./control-image.ts";

export interface CannyOptions {
  /** Gradient magnitude above which a pixel may be an edge (weak); default 50. */
  low?: number;
  /** Magnitude above which a pixel is an edge for sure (strong); default 200. */
  high?: number;
  /** σ of the 5×5 Gaussian blur before the gradients; 0 skips the blur. Default 1.1. */
  blurSigma?: number;
  /** √(gx² + gy²) instead of |gx| + |gy|. Default false. */
  l2?: boolean;
  /**
   * How hysteresis runs: one flood fill (the CPU default) or alternating row/column sweep passes
   * (the GPU default). Both reach the same, unique result.
   */
  hysteresis?: "fill" | "sweeps";
}

export const CANNY_DEFAULTS = { low: 50, high: 200, blurSigma: 1.1, l2: false };

/** Normalised 5-tap Gaussian weights [centre, ±1, ±2]. */
export function gaussianTaps5(sigma: number): [number, number, number] {
  const g = [0, 1, 2].map((d) => Math.exp(-(d * d) / (2 * sigma * sigma)));
  const sum = g[0]! + 2 * g[1]! + 2 * g[2]!;
  return [g[0]! / sum, g[1]! / sum, g[2]! / sum];
}

export interface CannyResult {
  /** u8 [H, W, 3]: 255 on edges, 0 elsewhere. */
  image: Tensor;
  /** Hysteresis passes run (the last one promoted nothing). */
  passes: number;
}

/** Canny edges of an rgb24 frame or u8 [H, W, 3] tensor, on `backend`; the caller owns `image`. */
export function cannyTensor(input: Frame | Tensor, backend: Backend, options: CannyOptions = {}): CannyResult {
  const o = { ...CANNY_DEFAULTS, ...options };
  if (!(o.low >= 0 && o.high >= o.low)) throw new UsageError(`canny thresholds low ${o.low} and high ${o.high} must satisfy 0 ≤ low ≤ high`);
  if (!(o.blurSigma >= 0)) throw new UsageError(`canny blurSigma ${o.blurSigma} must be ≥ 0`);
  const rgb = rgbTensor(input, backend);
  try {
    using gray = rgb24ToGray(rgb.tensor);
    using blurred = o.blurSigma > 0 ? gaussianBlur5(gray, gaussianTaps5(o.blurSigma)) : undefined;
    using mag = Tensor.empty(backend, "f32", gray.shape);
    using dir = Tensor.empty(backend, "u8", gray.shape);
    let state = cannyNms(cannyGradient(blurred ?? gray, o.l2, { mag, dir }), o.low, o.high);
    try {
      if ((o.hysteresis ?? (backend.device === "cpu" ? "fill" : "sweeps")) === "fill") {
        // one thread's flood fill beats any number of parallel passes on a few cores
        return { image: edgesToRgb24(cannyHysteresisFill(state)), passes: 1 };
      }
      // Row and column sweeps alternate; each pass promotes at least one pixel or ends the loop,
      // so n + 1 passes always suffice (a weak run along a row or column takes one).
      const n = rgb.width * rgb.height;
      using changes = Tensor.empty(backend, "i32", [1]);
      const count = new Int32Array(1);
      let spare = Tensor.empty(backend, "u8", state.shape);
      let passes = 0;
      try {
        for (let changed = 1; changed > 0 && passes <= n; passes++) {
          count[0] = 0;
          backend.write(changes.storage, changes.byteOffset, count);
          cannyHysteresisSweep(passes % 2 === 0 ? "rows" : "cols", state, spare, changes);
          backend.read(changes.storage, changes.byteOffset, count);
          changed = count[0]!;
          [state, spare] = [spare, state];
        }
      } finally {
        spare.dispose();
      }
      return { image: edgesToRgb24(state), passes };
    } finally {
      state.dispose();
    }
  } finally {
    if (rgb.owned) rgb.tensor.dispose();
  }
}

/** Canny edges of an rgb24 frame as an rgb24 frame (white edges on black). */
export function canny(frame: Frame, backend: Backend, options: CannyOptions = {}): Frame {
  using result = cannyTensor(frame, backend, options).image;
  return { width: frame.width, height: frame.height, data: result.read() as Uint8Array };
}
