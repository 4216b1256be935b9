/**
 * 8-bit Y'CbCr ↔ R'G'B' for the y4m reader and writer: BT.601 or BT.709 matrix, limited
 * (16–235 / 16–240) or full range, chroma planes at 4:4:4, 4:2:2 or 4:2:0, or none (mono).
 *
 * Ref: ITU-R BT.601-7 §2.5 and BT.709-6 §3 (Kr, Kb; E'Y = Kr·R + Kg·G + Kb·B;
 * E'Cb = (B − Y)/(2(1 − Kb)); quantised as 219·Y + 16 and 224·C + 128 for limited range).
 * All arithmetic is float, rounded half up once and clamped to 0–255 at the end.
 */
import { FrameError } from "../errors.ts";

export type YuvMatrix = "bt601" | "bt709";
export type YuvRange = "limited" | "full";
/** Chroma subsampling: "420" halves both axes, "422" the width only, "mono" has no chroma. */
export type ChromaLayout = "420" | "422" | "444" | "mono";
/** Where 4:2:0 chroma samples sit horizontally: between two luma columns, or on the left one. */
export type ChromaSiting = "center" | "left";
export type ChromaUpsample = "nearest" | "bilinear";

export interface YuvOptions {
  /** Default bt601, as y4m streams from ffmpeg assume for SD content. */
  matrix?: YuvMatrix;
  /** Default limited. */
  range?: YuvRange;
}

const MATRICES: Record<YuvMatrix, { kr: number; kb: number }> = {
  bt601: { kr: 0.299, kb: 0.114 },
  bt709: { kr: 0.2126, kb: 0.0722 },
};

export const YUV_MATRICES = Object.keys(MATRICES) as YuvMatrix[];
export const YUV_RANGES: YuvRange[] = ["limited", "full"];

interface Coefficients {
  kr: number;
  kg: number;
  kb: number;
  /** Code value per unit of normalised luma/chroma and the code offset of zero. */
  yScale: number;
  yOffset: number;
  cScale: number;
}

function coefficients(opts: YuvOptions): Coefficients {
  const matrix = opts.matrix ?? "bt601";
  const range = opts.range ?? "limited";
  const m = MATRICES[matrix];
  if (!m) throw new FrameError(`unknown YUV matrix "${matrix}": expected one of ${YUV_MATRICES.join(", ")}`);
  if (range !== "limited" && range !== "full") {
    throw new FrameError(`unknown YUV range "${range}": expected one of ${YUV_RANGES.join(", ")}`);
  }
  const limited = range === "limited";
  return {
    kr: m.kr,
    kb: m.kb,
    kg: 1 - m.kr - m.kb,
    yScale: limited ? 219 / 255 : 1,
    yOffset: limited ? 16 : 0,
    cScale: limited ? 224 / 255 : 1,
  };
}

export function chromaSize(layout: ChromaLayout, width: number, height: number): { width: number; height: number } {
  switch (layout) {
    case "444":
      return { width, height };
    case "422":
      return { width: Math.ceil(width / 2), height };
    case "420":
      return { width: Math.ceil(width / 2), height: Math.ceil(height / 2) };
    case "mono":
      return { width: 0, height: 0 };
  }
}

/** Bytes of one planar frame (Y, then Cb, then Cr). */
export function yuvFrameBytes(layout: ChromaLayout, width: number, height: number): number {
  const c = chromaSize(layout, width, height);
  return width * height + 2 * c.width * c.height;
}

function toByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v + 0.5);
}

/**
 * Converts rgb24 into planar Y'CbCr written to `out` (length yuvFrameBytes). Subsampled chroma
 * is the mean over each 2×2 (or 2×1) block of the full-resolution chroma, so edge blocks of
 * odd sizes average only the pixels they hold.
 */
export function rgbToYuv(
  rgb: Uint8Array,
  width: number,
  height: number,
  layout: ChromaLayout,
  opts: YuvOptions,
  out: Uint8Array,
): void {
  const k = coefficients(opts);
  const c = chromaSize(layout, width, height);
  const cbScale = k.cScale / (2 * (1 - k.kb));
  const crScale = k.cScale / (2 * (1 - k.kr));
  const n = width * height;
  const cn = c.width * c.height;
  const sx = layout === "444" ? 0 : 1;
  const sy = layout === "420" ? 1 : 0;
  const cbSum = new Float64Array(cn);
  const crSum = new Float64Array(cn);
  for (let y = 0; y < height; y++) {
    const crow = (y >> sy) * c.width;
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const r = rgb[3 * p]!;
      const g = rgb[3 * p + 1]!;
      const b = rgb[3 * p + 2]!;
      const yl = k.kr * r + k.kg * g + k.kb * b;
      out[p] = toByte(k.yOffset + k.yScale * yl);
      if (cn > 0) {
        const ci = crow + (x >> sx);
        cbSum[ci]! += (b - yl) * cbScale;
        crSum[ci]! += (r - yl) * crScale;
      }
    }
  }
  for (let cy = 0; cy < c.height; cy++) {
    const rows = Math.min(1 << sy, height - (cy << sy));
    for (let cx = 0; cx < c.width; cx++) {
      const count = rows * Math.min(1 << sx, width - (cx << sx));
      const ci = cy * c.width + cx;
      out[n + ci] = toByte(128 + cbSum[ci]! / count);
      out[n + cn + ci] = toByte(128 + crSum[ci]! / count);
    }
  }
}

/** For each output coordinate, the two chroma samples to blend and the first one's weight. */
interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float64Array;
}

function axisTaps(size: number, chroma: number, halved: boolean, cosited: boolean, mode: ChromaUpsample): AxisTaps {
  const i0 = new Int32Array(size);
  const i1 = new Int32Array(size);
  const w0 = new Float64Array(size).fill(1);
  for (let x = 0; x < size; x++) {
    if (!halved) {
      i0[x] = i1[x] = x;
      continue;
    }
    if (mode === "nearest") {
      i0[x] = i1[x] = x >> 1;
      continue;
    }
    // Chroma sample i sits at luma coordinate 2i (cosited) or 2i + 0.5 (centred).
    const u = cosited ? x / 2 : x / 2 - 0.25;
    const lo = Math.floor(u);
    const f = u - lo;
    i0[x] = Math.min(Math.max(lo, 0), chroma - 1);
    i1[x] = Math.min(Math.max(lo + 1, 0), chroma - 1);
    w0[x] = 1 - f;
  }
  return { i0, i1, w0 };
}

export interface YuvReadOptions extends YuvOptions {
  /** Default bilinear. */
  upsample?: ChromaUpsample;
  /** Horizontal siting of subsampled chroma; default "center" (420jpeg), "left" for 420mpeg2 and 422. */
  siting?: ChromaSiting;
}

/** Converts planar Y'CbCr (as laid out by rgbToYuv) into rgb24 written to `out`. */
export function yuvToRgb(
  yuv: Uint8Array,
  width: number,
  height: number,
  layout: ChromaLayout,
  opts: YuvReadOptions,
  out: Uint8Array,
): void {
  const k = coefficients(opts);
  const c = chromaSize(layout, width, height);
  const n = width * height;
  const cn = c.width * c.height;
  const mode = opts.upsample ?? "bilinear";
  if (mode !== "nearest" && mode !== "bilinear") {
    throw new FrameError(`unknown chroma upsampling "${mode}": expected one of nearest, bilinear`);
  }
  const yInv = 1 / k.yScale;
  const cInv = 1 / k.cScale;
  // R = Y + 2(1−Kr)·Pr, B = Y + 2(1−Kb)·Pb, G = (Y − Kr·R − Kb·B)/Kg, in code units.
  const rFromCr = 2 * (1 - k.kr) * cInv;
  const bFromCb = 2 * (1 - k.kb) * cInv;
  const gFromCr = (2 * k.kr * (1 - k.kr)) / k.kg * cInv;
  const gFromCb = (2 * k.kb * (1 - k.kb)) / k.kg * cInv;
  const cosited = (opts.siting ?? (layout === "422" ? "left" : "center")) === "left";
  const tx = axisTaps(width, c.width, layout === "420" || layout === "422", cosited, mode);
  const ty = axisTaps(height, c.height, layout === "420", false, mode);
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y]! * c.width;
    const r1 = ty.i1[y]! * c.width;
    const wy = ty.w0[y]!;
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const yl = (yuv[p]! - k.yOffset) * yInv;
      let cb = 0;
      let cr = 0;
      if (cn > 0) {
        const a = tx.i0[x]!;
        const b = tx.i1[x]!;
        const wx = tx.w0[x]!;
        const w00 = wx * wy;
        const w01 = (1 - wx) * wy;
        const w10 = wx * (1 - wy);
        const w11 = (1 - wx) * (1 - wy);
        cb =
          w00 * yuv[n + r0 + a]! + w01 * yuv[n + r0 + b]! + w10 * yuv[n + r1 + a]! + w11 * yuv[n + r1 + b]! - 128;
        cr =
          w00 * yuv[n + cn + r0 + a]! +
          w01 * yuv[n + cn + r0 + b]! +
          w10 * yuv[n + cn + r1 + a]! +
          w11 * yuv[n + cn + r1 + b]! -
          128;
      }
      out[3 * p] = toByte(yl + rFromCr * cr);
      out[3 * p + 1] = toByte(yl - gFromCr * cr - gFromCb * cb);
      out[3 * p + 2] = toByte(yl + bFromCb * cb);
    }
  }
}
