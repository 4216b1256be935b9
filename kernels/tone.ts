import { buffer, defineFamily, elementwise, output, scalar } from "./signature.ts";

/** Tone curves on rgb24 pictures: one-tile CLAHE (kernels/tone.cu). */
export const tone = defineFamily("tone", new URL("./tone.cu", import.meta.url).pathname, [
  {
    name: "tone_histogram_rgb24",
    args: [output("hist", "i32", "chunks*3*256"), buffer("rgb", "u8", "3*n"), scalar("n", "i64"), scalar("chunk", "i64"), scalar("chunks", "i64")],
    grid: elementwise("chunks*3"),
  },
  {
    name: "tone_clahe_lut",
    args: [output("lut", "u8", "3*256"), buffer("hist", "i32", "chunks*3*256"), scalar("chunks", "i64"), scalar("pixels", "i64"), scalar("limit", "i64")],
    grid: elementwise("3"),
  },
  {
    name: "tone_apply_lut_rgb24",
    args: [output("out", "u8", "3*n"), buffer("rgb", "u8", "3*n"), buffer("lut", "u8", "3*256"), scalar("n", "i64")],
    grid: elementwise("3*n"),
  },
]);
