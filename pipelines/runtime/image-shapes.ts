import type { Tensor } from "./tensor.ts";

/**
 * The picture shapes the image kernel wrappers take (image-ops, edges-ops, mask-ops), read and
 * checked in one place: packed rgb24 is u8 [H, W, 3]; planes are [..., H, W].
 */

export interface PlaneShape {
  readonly width: number;
  readonly height: number;
  /** How many H×W planes the leading axes hold. */
  readonly planes: number;
  readonly lead: readonly number[];
}

/** Width and height of packed rgb24 pixels u8 [H, W, 3]. */
export function rgb24Shape(op: string, rgb: Tensor): { width: number; height: number } {
  const [height = 0, width = 0, channels] = rgb.shape;
  if (rgb.dtype !== "u8" || rgb.shape.length !== 3 || channels !== 3) {
    throw new TypeError(`${op} needs rgb24 pixels u8 [H, W, 3], got ${rgb.dtype} [${rgb.shape.join(", ")}]`);
  }
  return { width, height };
}

/** Planes [..., H, W] of `dtype`. */
export function planeShape(op: string, x: Tensor, dtype: Tensor["dtype"] = "f32"): PlaneShape {
  if (x.dtype !== dtype || x.shape.length < 2) {
    throw new TypeError(`${op} needs ${dtype} planes [..., H, W], got ${x.dtype} [${x.shape.join(", ")}]`);
  }
  const lead = x.shape.slice(0, -2);
  return { height: x.shape.at(-2)!, width: x.shape.at(-1)!, planes: lead.reduce((a, b) => a * b, 1), lead };
}

/** One plane [..., H, W] (leading axes all 1) of `dtype`. */
export function singlePlane(op: string, x: Tensor, dtype: Tensor["dtype"] = "f32"): PlaneShape {
  const shape = planeShape(op, x, dtype);
  if (shape.planes !== 1) throw new RangeError(`${op} takes one plane [H, W], got [${x.shape.join(", ")}]`);
  return shape;
}

/** That `t` is `dtype` with exactly `size` elements (an output or a second input). */
export function expectSized(op: string, name: string, t: Tensor, dtype: Tensor["dtype"], size: number): Tensor {
  if (t.dtype !== dtype || t.size !== size) {
    throw new RangeError(`${op}: ${name} must be ${dtype} with ${size} elements, got ${t.dtype} [${t.shape.join(", ")}]`);
  }
  return t;
}
