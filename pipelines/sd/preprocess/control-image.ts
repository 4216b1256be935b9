/**
 * Control images as ControlNets take them (reference/sd-onnx-layout.md §4): RGB planes
 * [1, 3, H, W] f32 in [0, 1] on the device (no [-1, 1] normalisation, unlike the VAE input).
 */
import { UsageError } from "../../errors.ts";
import type { Frame } from "../../io/frame.ts";
import type { Backend } from "../../runtime/backend.ts";
import { resizeBilinear, rgb24ToPlanes } from "../../runtime/edges-ops.ts";
import { Tensor } from "../../runtime/tensor.ts";

/** A control picture: an rgb24 frame, an rgb24 tensor u8 [H, W, 3], or planes f32 [1, 3, H, W] in [0, 1]. */
export type ControlImage = Frame | Tensor;

/** An rgb24 frame or u8 [H, W, 3] tensor on `backend` (a frame is copied there; a tensor is borrowed). */
export function rgbTensor(image: Frame | Tensor, backend: Backend): { tensor: Tensor; width: number; height: number; owned: boolean } {
  if (!(image instanceof Tensor)) {
    const { width, height, data } = image;
    if (data.length !== width * height * 3) throw new UsageError(`control image data has ${data.length} bytes, rgb24 ${width}x${height} needs ${width * height * 3}`);
    return { tensor: Tensor.from(backend, "u8", [height, width, 3], data), width, height, owned: true };
  }
  const [height = 0, width = 0, channels] = image.shape;
  if (image.dtype !== "u8" || image.shape.length !== 3 || channels !== 3) {
    throw new UsageError(`an rgb24 image tensor must be u8 [H, W, 3], got ${image.dtype} [${image.shape.join(", ")}]`);
  }
  return { tensor: image, width, height, owned: false };
}

/** Bilinear resize of planes [..., h, w] (f32) to a new tensor [..., oh, ow] (a copy when the size is the same). */
export function resizePlanes(x: Tensor, width: number, height: number): Tensor {
  if (x.shape.at(-2) === height && x.shape.at(-1) === width) return x.to(x.backend);
  return resizeBilinear(x, width, height);
}

/**
 * The control image for a `width` × `height` generation: [1, 3, height, width] f32 in [0, 1] on
 * `backend`, resized bilinearly when its size differs. The caller owns the result.
 */
export function controlImageTensor(image: ControlImage, backend: Backend, width: number, height: number): Tensor {
  if (image instanceof Tensor && image.dtype === "f32") {
    const [b, c] = image.shape;
    if (image.shape.length !== 4 || b !== 1 || c !== 3) {
      throw new UsageError(`a float control image must be f32 [1, 3, H, W] in [0, 1], got [${image.shape.join(", ")}]`);
    }
    if (image.backend === backend) return resizePlanes(image, width, height);
    using moved = image.to(backend);
    return resizePlanes(moved, width, height);
  }
  const rgb = rgbTensor(image, backend);
  try {
    const planes = rgb24ToPlanes(rgb.tensor);
    if (rgb.width === width && rgb.height === height) return planes;
    using owned = planes;
    return resizePlanes(owned, width, height);
  } finally {
    if (rgb.owned) rgb.tensor.dispose();
  }
}
