import { edges } from "../../kernels/edges.ts";
import { expectSized, planeShape, rgb24Shape, singlePlane } from "./image-shapes.ts";
import { launch } from "./launcher.ts";
import { Tensor } from "./tensor.ts";

/**
 * ControlNet preprocessing through kernels/edges.cu: the Canny stages, and the conversions the
 * control image and the depth preprocessor need. Each function writes into `out` when given and
 * otherwise returns a new tensor; Canny state planes are u8 (0 none, 1 weak, 2 strong).
 */

/** OpenCV's fixed-point grey (integers 0–255) of rgb24 pixels u8 [H, W, 3], as f32 [H, W]. */
export function rgb24ToGray(rgb: Tensor, out?: Tensor): Tensor {
  const { width, height } = rgb24Shape("rgb24ToGray", rgb);
  const o = out ? expectSized("rgb24ToGray", "out", out, "f32", width * height) : Tensor.empty(rgb.backend, "f32", [height, width]);
  launch(edges, "rgb24_to_gray_f32", { out: o, rgb, n: width * height });
  return o;
}

/** 5×5 Gaussian blur of one f32 plane, from the normalised 1-D taps [centre, ±1, ±2]. */
export function gaussianBlur5(x: Tensor, taps: readonly [number, number, number], out?: Tensor): Tensor {
  const { width: w, height: h } = singlePlane("gaussianBlur5", x);
  const o = out ? expectSized("gaussianBlur5", "out", out, "f32", w * h) : Tensor.empty(x.backend, "f32", x.shape);
  launch(edges, "gaussian_blur5_f32", { out: o, x, w, h, w0: taps[0], w1: taps[1], w2: taps[2] });
  return o;
}

export interface CannyGradient {
  /** f32: |gx| + |gy|, or √(gx² + gy²) with `l2`. */
  mag: Tensor;
  /** u8: the direction in 4 sectors. */
  dir: Tensor;
}

/** 3×3 Sobel of one f32 plane: magnitude and direction, each the plane's size. */
export function cannyGradient(x: Tensor, l2: boolean, out?: CannyGradient): CannyGradient {
  const { width: w, height: h } = singlePlane("cannyGradient", x);
  const mag = out ? expectSized("cannyGradient", "mag", out.mag, "f32", w * h) : Tensor.empty(x.backend, "f32", x.shape);
  const dir = out ? expectSized("cannyGradient", "dir", out.dir, "u8", w * h) : Tensor.empty(x.backend, "u8", x.shape);
  launch(edges, "canny_gradient_f32", { mag, dir, x, w, h, l2: l2 ? 1 : 0 });
  return { mag, dir };
}

/** Non-maximum suppression and the double threshold: a u8 state plane (weak > low, strong > high). */
export function cannyNms(gradient: CannyGradient, low: number, high: number, out?: Tensor): Tensor {
  const { width: w, height: h } = singlePlane("cannyNms", gradient.mag);
  expectSized("cannyNms", "dir", gradient.dir, "u8", w * h);
  const state = out ? expectSized("cannyNms", "out", out, "u8", w * h) : Tensor.empty(gradient.mag.backend, "u8", gradient.mag.shape);
  launch(edges, "canny_nms_u8", { state, mag: gradient.mag, dir: gradient.dir, w, h, low, high });
  return state;
}

/**
 * Hysteresis in place as one flood fill from every strong pixel through 8-connected weak ones:
 * a single thread, fast on a CPU, slow on a GPU (use the sweeps there).
 */
export function cannyHysteresisFill(state: Tensor): Tensor {
  const { width: w, height: h } = singlePlane("cannyHysteresisFill", state, "u8");
  using stack = Tensor.empty(state.backend, "i32", [w * h]);
  launch(edges, "canny_hysteresis_fill_u8", { state, stack, w, h });
  return state;
}

/**
 * One hysteresis pass along every row or every column: `to` is `from` with the weak pixels next
 * to a strong one promoted, and the number promoted is added to `changes` (i32 [1]).
 */
export function cannyHysteresisSweep(lines: "rows" | "cols", from: Tensor, to: Tensor, changes: Tensor): void {
  const { width: w, height: h } = singlePlane("cannyHysteresisSweep", from, "u8");
  expectSized("cannyHysteresisSweep", "to", to, "u8", w * h);
  expectSized("cannyHysteresisSweep", "changes", changes, "i32", 1);
  launch(edges, lines === "rows" ? "canny_hysteresis_rows_u8" : "canny_hysteresis_cols_u8", { out: to, in: from, changes, w, h });
}

/** Canny states → rgb24 u8 [H, W, 3]: white where strong, black elsewhere. */
export function edgesToRgb24(state: Tensor, out?: Tensor): Tensor {
  const { width, height } = singlePlane("edgesToRgb24", state, "u8");
  const o = out ? expectSized("edgesToRgb24", "out", out, "u8", 3 * width * height) : Tensor.empty(state.backend, "u8", [height, width, 3]);
  launch(edges, "edges_to_rgb24", { out: o, state, n: width * height });
  return o;
}

/** Planes f32 [1, 3, H, W] of rgb24 pixels u8 [H, W, 3]: (v / 255 − mean) / std. */
export function rgb24ToPlanes(rgb: Tensor, mean = 0, std = 1, out?: Tensor): Tensor {
  const { width, height } = rgb24Shape("rgb24ToPlanes", rgb);
  const o = out ? expectSized("rgb24ToPlanes", "out", out, "f32", 3 * width * height) : Tensor.empty(rgb.backend, "f32", [1, 3, height, width]);
  launch(edges, "rgb24_to_planar_f32", { out: o, rgb, n: width * height, mean, inv_std: 1 / std });
  return o;
}

/** Bilinear resize (pixel centres aligned) of f32 planes [..., h, w] to [..., height, width]. */
export function resizeBilinear(x: Tensor, width: number, height: number, out?: Tensor): Tensor {
  const { width: w, height: h, planes, lead } = planeShape("resizeBilinear", x);
  const size = planes * width * height;
  const o = out ? expectSized("resizeBilinear", "out", out, "f32", size) : Tensor.empty(x.backend, "f32", [...lead, height, width]);
  launch(edges, "resize_bilinear_f32", { out: o, x, planes, w, h, ow: width, oh: height });
  return o;
}

/** Maximum of each row (the last axis) of f32 x [..., cols]: f32 [...]. */
export function rowMax(x: Tensor, out?: Tensor): Tensor {
  const cols = x.shape.at(-1) ?? 1;
  const rows = x.size / cols;
  if (x.dtype !== "f32") throw new TypeError(`rowMax needs f32, got ${x.dtype}`);
  const o = out ? expectSized("rowMax", "out", out, "f32", rows) : Tensor.empty(x.backend, "f32", x.shape.slice(0, -1));
  launch(edges, "row_max_f32", { out: o, x, rows, cols });
  return o;
}

/** One f32 depth plane → grey rgb24 u8 [H, W, 3]: depth·255 / max, truncated and clamped (max ≤ 0: black). */
export function depthToRgb24(depth: Tensor, max: number, out?: Tensor): Tensor {
  const { width, height } = singlePlane("depthToRgb24", depth);
  const o = out ? expectSized("depthToRgb24", "out", out, "u8", 3 * width * height) : Tensor.empty(depth.backend, "u8", [height, width, 3]);
  launch(edges, "depth_to_rgb24", { out: o, depth, max, n: width * height });
  return o;
}
