import { buffer, defineFamily, elementwise, output, scalar } from "./signature.ts";

/** ControlNet preprocessors: Canny edges and the depth image conversions (kernels/edges.cu). */
export const edges = defineFamily("edges", new URL("./edges.cu", import.meta.url).pathname, [
  {
    name: "rgb24_to_gray_f32",
    args: [output("out", "f32", "n"), buffer("rgb", "u8", "3*n"), scalar("n", "i64")],
    grid: elementwise("n"),
  },
  {
    name: "gaussian_blur5_f32",
    args: [
      output("out", "f32", "w*h"),
      buffer("x", "f32", "w*h"),
      scalar("w", "i64"),
      scalar("h", "i64"),
      scalar("w0", "f32"),
      scalar("w1", "f32"),
      scalar("w2", "f32"),
    ],
    grid: elementwise("w*h"),
  },
  {
    name: "canny_gradient_f32",
    args: [
      output("mag", "f32", "w*h"),
      output("dir", "u8", "w*h"),
      buffer("x", "f32", "w*h"),
      scalar("w", "i64"),
      scalar("h", "i64"),
      scalar("l2", "i64"),
    ],
    grid: elementwise("w*h"),
  },
  {
    name: "canny_nms_u8",
    args: [
      output("state", "u8", "w*h"),
      buffer("mag", "f32", "w*h"),
      buffer("dir", "u8", "w*h"),
      scalar("w", "i64"),
      scalar("h", "i64"),
      scalar("low", "f32"),
      scalar("high", "f32"),
    ],
    grid: elementwise("w*h"),
  },
  {
    name: "canny_hysteresis_fill_u8",
    args: [output("state", "u8", "w*h"), output("stack", "i32", "w*h"), scalar("w", "i64"), scalar("h", "i64")],
    grid: elementwise("1"),
  },
  ...(["rows", "cols"] as const).map((lines) => ({
    name: `canny_hysteresis_${lines}_u8`,
    args: [
      output("out", "u8", "w*h"),
      buffer("in", "u8", "w*h"),
      output("changes", "i32", "1"),
      scalar("w", "i64"),
      scalar("h", "i64"),
    ],
    // one item per line: every row, or every column
    grid: elementwise(lines === "rows" ? "h" : "w"),
  })),
  {
    name: "edges_to_rgb24",
    args: [output("out", "u8", "3*n"), buffer("state", "u8", "n"), scalar("n", "i64")],
    grid: elementwise("n"),
  },
  {
    name: "rgb24_to_planar_f32",
    args: [output("out", "f32", "3*n"), buffer("rgb", "u8", "3*n"), scalar("n", "i64"), scalar("mean", "f32"), scalar("inv_std", "f32")],
    grid: elementwise("n"),
  },
  {
    name: "resize_bilinear_f32",
    args: [
      output("out", "f32", "planes*ow*oh"),
      buffer("x", "f32", "planes*w*h"),
      scalar("planes", "i64"),
      scalar("w", "i64"),
      scalar("h", "i64"),
      scalar("ow", "i64"),
      scalar("oh", "i64"),
    ],
    grid: elementwise("planes*ow*oh"),
  },
  {
    name: "row_max_f32",
    args: [output("out", "f32", "rows"), buffer("x", "f32", "rows*cols"), scalar("rows", "i64"), scalar("cols", "i64")],
    grid: elementwise("rows"),
  },
  {
    name: "depth_to_rgb24",
    args: [output("out", "u8", "3*n"), buffer("depth", "f32", "n"), scalar("max", "f32"), scalar("n", "i64")],
    grid: elementwise("n"),
  },
]);
