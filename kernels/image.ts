import { buffer, defineFamily, elementwise, output, scalar } from "./signature.ts";

/** Image statistics for the structural distance of latent blending (kernels/image.cu). */
export const image = defineFamily("image", new URL("./image.cu", import.meta.url).pathname, [
  {
    name: "rgb24_to_luma_f32",
    args: [output("out", "f32", "n"), buffer("rgb", "u8", "3*n"), scalar("n", "i64")],
    grid: elementwise("n"),
  },
  {
    name: "downsample2_f32",
    args: [
      output("out", "f32", "ow*oh"),
      buffer("x", "f32", "w*h"),
      scalar("w", "i64"),
      scalar("h", "i64"),
      scalar("ow", "i64"),
      scalar("oh", "i64"),
    ],
    grid: elementwise("ow*oh"),
  },
  {
    name: "ssim_map_f32",
    args: [
      output("out", "f32", "w*h"),
      buffer("a", "f32", "w*h"),
      buffer("b", "f32", "w*h"),
      scalar("w", "i64"),
      scalar("h", "i64"),
      scalar("r", "i64"),
      scalar("c1", "f32"),
      scalar("c2", "f32"),
    ],
    grid: elementwise("w*h"),
  },
  {
    name: "row_sum_f32",
    args: [output("out", "f32", "rows"), buffer("x", "f32", "rows*cols"), scalar("rows", "i64"), scalar("cols", "i64")],
    grid: elementwise("rows"),
  },
]);
