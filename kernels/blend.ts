import { buffer, defineFamily, elementwise, output, rows, scalar, type DType } from "./signature.ts";

const lerp = (dtype: "f32" | "f16") => ({
  name: `lerp_${dtype}`,
  args: [output("out", dtype, "n"), buffer("a", dtype, "n"), buffer("b", dtype, "n"), scalar("t", "f32"), scalar("n", "i64")],
  grid: elementwise("n"),
});

const lerpWeighted = (dtype: "f32" | "f16") => ({
  name: `lerp_weighted_${dtype}`,
  args: [
    output("out", dtype, "n"),
    buffer("a", dtype, "n"),
    buffer("b", dtype, "n"),
    buffer("w", dtype, "n"),
    scalar("n", "i64"),
  ],
  grid: elementwise("n"),
});

const axpby = (dtype: "f32" | "f16") => ({
  name: `axpby_${dtype}`,
  args: [
    output("out", dtype, "n"),
    scalar("alpha", "f32"),
    buffer("x", dtype, "n"),
    scalar("beta", "f32"),
    buffer("y", dtype, "n"),
    scalar("n", "i64"),
  ],
  grid: elementwise("n"),
});

const slerpRows = (dtype: "f32" | "f16") => ({
  name: `slerp_rows_${dtype}`,
  args: [
    output("out", dtype, "rows*cols"),
    buffer("a", dtype, "rows*cols"),
    buffer("b", dtype, "rows*cols"),
    scalar("t", "f32"),
    scalar("threshold", "f32"),
    scalar("rows", "i64"),
    scalar("cols", "i64"),
  ],
  // 256 = LL_SLERP_LANES in blend.cu: the block size its shared-memory reduction is written for.
  grid: rows("rows", 256),
});

const convert = (to: DType, from: DType) => ({
  name: `${from}_to_${to}`,
  args: [output("out", to, "n"), buffer("x", from, "n"), scalar("n", "i64")],
  grid: elementwise("n"),
});

export const blend = defineFamily("blend", new URL("./blend.cu", import.meta.url).pathname, [
  lerp("f32"),
  lerp("f16"),
  lerpWeighted("f32"),
  lerpWeighted("f16"),
  axpby("f32"),
  axpby("f16"),
  {
    name: "axpbypcz_f32",
    args: [
      output("out", "f32", "n"),
      scalar("alpha", "f32"),
      buffer("x", "f32", "n"),
      scalar("beta", "f32"),
      buffer("y", "f32", "n"),
      scalar("gamma", "f32"),
      buffer("z", "f32", "n"),
      scalar("n", "i64"),
    ],
    grid: elementwise("n"),
  },
  {
    name: "scale_f32",
    args: [output("out", "f32", "n"), buffer("x", "f32", "n"), scalar("alpha", "f32"), scalar("n", "i64")],
    grid: elementwise("n"),
  },
  {
    name: "add_f32",
    args: [output("out", "f32", "n"), buffer("x", "f32", "n"), buffer("y", "f32", "n"), scalar("n", "i64")],
    grid: elementwise("n"),
  },
  {
    name: "fill_f32",
    args: [output("out", "f32", "n"), scalar("value", "f32"), scalar("n", "i64")],
    grid: elementwise("n"),
  },
  {
    name: "clamp_f32",
    args: [output("out", "f32", "n"), buffer("x", "f32", "n"), scalar("lo", "f32"), scalar("hi", "f32"), scalar("n", "i64")],
    grid: elementwise("n"),
  },
  convert("f32", "f16"),
  convert("f16", "f32"),
  slerpRows("f32"),
  slerpRows("f16"),
]);
