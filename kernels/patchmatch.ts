import { buffer, defineFamily, elementwise, output, scalar, type ScalarArg } from "./signature.ts";

/**
 * Patch-match kernels (kernels/patchmatch.cu): NNF initialisation, upsampling, candidates, patch
 * errors, acceptance, the vote (remap) and the image conversions around them. Extents are the
 * layouts of the .cu's module comment written out; a record of an h x w image with a border of
 * `pad` holds 8·b·(h+2·pad)·(w+2·pad) floats.
 */

const i64 = (name: string): ScalarArg => scalar(name, "i64");
/** Floats in b records of h x w (names as given) with a border of `pad`. */
const records = (b: string, h: string, w: string) =>
  `8*${b}*${h}*${w}+16*${b}*${h}*pad+16*${b}*pad*${w}+32*${b}*pad*pad`;
const sizes = [i64("b"), i64("h"), i64("w"), i64("sh"), i64("sw")];

export const patchmatch = defineFamily("patchmatch", new URL("./patchmatch.cu", import.meta.url).pathname, [
  {
    name: "pm_rgb24_to_f32x4",
    args: [output("out", "f32", "4*n"), buffer("rgb", "u8", "3*n"), i64("n")],
    grid: elementwise("n"),
  },
  {
    name: "pm_f32x4_to_rgb24",
    args: [output("out", "u8", "3*n"), buffer("x", "f32", "4*n"), i64("n"), i64("round")],
    grid: elementwise("n"),
  },
  {
    name: "pm_downsample_f32",
    args: [output("out", "f32", "4*b*oh*ow"), buffer("x", "f32", "4*b*h*w"), i64("b"), i64("h"), i64("w"), i64("oh"), i64("ow")],
    grid: elementwise("b*oh*ow"),
  },
  {
    name: "pm_pack_f32",
    args: [
      output("rec", "f32", records("b", "h", "w")),
      buffer("guide", "f32", "4*b*h*w"),
      buffer("style", "f32", "4*b*h*w"),
      i64("b"),
      i64("h"),
      i64("w"),
      i64("pad"),
    ],
    grid: elementwise("b*h*w+2*b*h*pad+2*b*pad*w+4*b*pad*pad"),
  },
  {
    name: "pm_nnf_identity_i32",
    args: [output("nnf", "i32", "2*b*h*w"), ...sizes],
    grid: elementwise("b*h*w"),
  },
  {
    name: "pm_nnf_random_i32",
    args: [output("nnf", "i32", "2*b*h*w"), ...sizes, i64("seed")],
    grid: elementwise("b*h*w"),
  },
  {
    name: "pm_nnf_upsample_i32",
    args: [
      output("out", "i32", "2*b*h*w"),
      buffer("nnf", "i32", "2*b*ch*cw"),
      ...sizes,
      i64("ch"),
      i64("cw"),
      i64("csh"),
      i64("csw"),
    ],
    grid: elementwise("b*h*w"),
  },
  {
    name: "pm_candidate_i32",
    args: [
      output("cand", "i32", "2*b*h*w"),
      buffer("nnf", "i32", "2*b*h*w"),
      ...sizes,
      i64("mode"),
      i64("amount"),
      i64("seed"),
      i64("stream"),
    ],
    grid: elementwise("b*h*w"),
  },
  {
    name: "pm_patch_error_f32",
    args: [
      output("err", "f32", "b*h*w"),
      buffer("tgt", "f32", records("b", "h", "w")),
      buffer("src", "f32", records("b", "sh", "sw")),
      buffer("nnf", "i32", "2*b*h*w"),
      buffer("ref", "i32", "2*b*h*w"),
      buffer("weights", "f32", "8"),
      ...sizes,
      i64("pad"),
      i64("r"),
      i64("accumulate"),
      i64("skip_same"),
    ],
    grid: elementwise("b*h*w"),
  },
  {
    name: "pm_pairwise_error_f32",
    args: [
      output("err", "f32", "2*pairs*h*w"),
      buffer("src", "f32", records("2*pairs", "sh", "sw")),
      buffer("nnf", "i32", "4*pairs*h*w"),
      buffer("weights", "f32", "8"),
      i64("pairs"),
      i64("h"),
      i64("w"),
      i64("sh"),
      i64("sw"),
      i64("pad"),
      i64("r"),
      i64("accumulate"),
    ],
    grid: elementwise("pairs*h*w"),
  },
  {
    name: "pm_accept_f32",
    args: [
      output("nnf", "i32", "2*n"),
      output("err", "f32", "n"),
      buffer("cand", "i32", "2*n"),
      buffer("cand_err", "f32", "n"),
      i64("n"),
    ],
    grid: elementwise("n"),
  },
  {
    name: "pm_remap_f32",
    args: [output("out", "f32", "4*b*h*w"), buffer("style", "f32", "4*b*sh*sw"), buffer("nnf", "i32", "2*b*h*w"), ...sizes, i64("r")],
    grid: elementwise("b*h*w"),
  },
  {
    name: "pm_batch_mean_f32",
    args: [output("out", "f32", "n"), buffer("x", "f32", "b*n"), i64("b"), i64("n")],
    grid: elementwise("n"),
  },
]);
