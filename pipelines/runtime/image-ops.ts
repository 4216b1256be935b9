import { image } from "../../kernels/image.ts";
import { expectSized, rgb24Shape, singlePlane } from "./image-shapes.ts";
import { launch } from "./launcher.ts";
import { Tensor } from "./tensor.ts";

/**
 * Image statistics through kernels/image.cu (the structural distance of latent blending). Each
 * function writes into `out` when given and otherwise returns a new tensor.
 */

/** BT.601 luma in [0, 1] of rgb24 pixels u8 [H, W, 3], as f32 [H, W]. */
export function rgb24ToLuma(rgb: Tensor, out?: Tensor): Tensor {
  const { width, height } = rgb24Shape("rgb24ToLuma", rgb);
  const o = out ? expectSized("rgb24ToLuma", "out", out, "f32", width * height) : Tensor.empty(rgb.backend, "f32", [height, width]);
  launch(image, "rgb24_to_luma_f32", { out: o, rgb, n: width * height });
  return o;
}

/** Mean of each 2×2 block of one plane [..., H, W] (an odd last row or column dropped): [..., ⌊H/2⌋, ⌊W/2⌋]. */
export function downsample2(x: Tensor, out?: Tensor): Tensor {
  const { width: w, height: h, lead } = singlePlane("downsample2", x);
  const ow = Math.floor(w / 2), oh = Math.floor(h / 2);
  const o = out ? expectSized("downsample2", "out", out, "f32", ow * oh) : Tensor.empty(x.backend, "f32", [...lead, oh, ow]);
  launch(image, "downsample2_f32", { out: o, x, w, h, ow, oh });
  return o;
}

export interface SsimConstants {
  /** Window radius: a (2r+1)² box, clipped at the borders. */
  radius: number;
  /** (0.01·L)² and (0.03·L)² for values in [0, L]. */
  c1: number;
  c2: number;
}

/** SSIM of planes a and b (one each, same shape) at every pixel, the shape of a. */
export function ssimMap(a: Tensor, b: Tensor, constants: SsimConstants, out?: Tensor): Tensor {
  const { width: w, height: h } = singlePlane("ssimMap", a);
  expectSized("ssimMap", "b", b, "f32", w * h);
  const o = out ? expectSized("ssimMap", "out", out, "f32", w * h) : Tensor.empty(a.backend, "f32", a.shape);
  launch(image, "ssim_map_f32", { out: o, a, b, w, h, r: constants.radius, c1: constants.c1, c2: constants.c2 });
  return o;
}

/** Sum of each row (the last axis) of f32 x [..., cols], accumulated in double: f32 [...]. */
export function rowSums(x: Tensor, out?: Tensor): Tensor {
  const cols = x.shape.at(-1) ?? 1;
  const rows = x.size / cols;
  if (x.dtype !== "f32") throw new TypeError(`rowSums needs f32, got ${x.dtype}`);
  const o = out ? expectSized("rowSums", "out", out, "f32", rows) : Tensor.empty(x.backend, "f32", x.shape.slice(0, -1));
  launch(image, "row_sum_f32", { out: o, x, rows, cols });
  return o;
}
