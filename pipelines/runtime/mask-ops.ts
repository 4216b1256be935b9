import { mask as maskKernels } from "../../kernels/mask.ts";
import { expectSized, rgb24Shape, singlePlane } from "./image-shapes.ts";
import { launch } from "./launcher.ts";
import { Tensor } from "./tensor.ts";

/** Inpainting masks through kernels/mask.cu. Fields are f32 planes, 1 = regenerate, 0 = keep. */

/**
 * A mask picture (rgb24 u8 [sh, sw, 3]) as a binary field at another size: luma ≥ ½ → 1,
 * nearest-resized into `out`, one f32 plane [..., h, w].
 */
export function maskThresholdNearest(rgb: Tensor, out: Tensor): Tensor {
  const { width: sw, height: sh } = rgb24Shape("maskThresholdNearest", rgb);
  const { width: w, height: h } = singlePlane("maskThresholdNearest", out);
  launch(maskKernels, "mask_threshold_nearest_f32", { out, rgb, sw, sh, w, h });
  return out;
}

/** rgb24 pixels u8 [H, W, 3] with every pixel where the field (H·W values) is ≥ ½ set to grey `value`. */
export function maskFillRgb24(rgb: Tensor, field: Tensor, value: number, out?: Tensor): Tensor {
  const { width, height } = rgb24Shape("maskFillRgb24", rgb);
  const n = width * height;
  expectSized("maskFillRgb24", "field", field, "f32", n);
  const o = out ? expectSized("maskFillRgb24", "out", out, "u8", 3 * n) : Tensor.empty(rgb.backend, "u8", rgb.shape);
  launch(maskKernels, "mask_fill_rgb24", { out: o, rgb, mask: field, value, n });
  return o;
}

/** mask·x + (1 − mask)·keep (f32), the field [..., h, w] broadcast over x's leading axes. */
export function maskPaste(x: Tensor, keep: Tensor, field: Tensor, out?: Tensor): Tensor {
  const hw = field.size;
  if (x.size !== keep.size || hw === 0 || x.size % hw !== 0) {
    throw new RangeError(`cannot paste [${keep.shape}] into [${x.shape}] under a mask of [${field.shape}]`);
  }
  const o = out ?? Tensor.empty(x.backend, "f32", x.shape);
  launch(maskKernels, "mask_paste_f32", { out: o, x, keep, mask: field, hw, n: x.size });
  return o;
}
