import { buffer, defineFamily, elementwise, output, scalar } from "./signature.ts";

/** Inpainting masks for latent blending (kernels/mask.cu). */
export const mask = defineFamily("mask", new URL("./mask.cu", import.meta.url).pathname, [
  {
    name: "mask_threshold_nearest_f32",
    args: [
      output("out", "f32", "w*h"),
      buffer("rgb", "u8", "3*sw*sh"),
      scalar("sw", "i64"),
      scalar("sh", "i64"),
      scalar("w", "i64"),
      scalar("h", "i64"),
    ],
    grid: elementwise("w*h"),
  },
  {
    name: "mask_fill_rgb24",
    args: [output("out", "u8", "3*n"), buffer("rgb", "u8", "3*n"), buffer("mask", "f32", "n"), scalar("value", "i32"), scalar("n", "i64")],
    grid: elementwise("n"),
  },
  {
    name: "mask_paste_f32",
    args: [
      output("out", "f32", "n"),
      buffer("x", "f32", "n"),
      buffer("keep", "f32", "n"),
      buffer("mask", "f32", "hw"),
      scalar("hw", "i64"),
      scalar("n", "i64"),
    ],
    grid: elementwise("n"),
  },
]);
