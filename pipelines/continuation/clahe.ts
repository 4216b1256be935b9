/**
 * ContinuitySeq's post-processing CLAHE (shared/specs/continuity-seq.md, step 8): OpenCV's
 * createCLAHE(clipLimit = 1.2, tileGridSize = (1, 1)) applied to each channel of each frame. With
 * one tile there is nothing to interpolate, so it is a clipped histogram equalisation of the whole
 * channel, written as OpenCV's CLAHE_CalcLut_Body computes it:
 *
 *   limit  = max(1, trunc(clipLimit · pixels / 256))
 *   clip every bin to limit; the excess E is spread back: E div 256 to every bin, then the
 *   remainder r one each to bins 0, s, 2s, … (s = max(trunc(256 / r), 1)) while r lasts
 *   lut[i] = round(cumsum[i] · 255 / pixels), saturated to 0..255
 *
 * Plain TypeScript on rgb24 (256 bins per channel, one pass to count, one to map): a few ms a frame
 * at these sizes. Not a kernel: kernels/ is another layer's folder (docs/continuation.md).
 */
import type { Frame } from "../io/frame.ts";

/** The clip limit of the reference (cv2.createCLAHE(clipLimit=1.2, tileGridSize=(1, 1))). */
export const CLAHE_CLIP_LIMIT = 1.2;

/** The 256-entry lookup table for one channel's histogram of `pixels` values. */
export function claheLut(histogram: ArrayLike<number>, pixels: number, clipLimit: number): Uint8Array {
  const bins = 256;
  const hist = Int32Array.from(histogram);
  const limit = Math.max(1, Math.trunc((clipLimit * pixels) / bins));
  let clipped = 0;
  for (let i = 0; i < bins; i++) {
    if (hist[i]! > limit) {
      clipped += hist[i]! - limit;
      hist[i] = limit;
    }
  }
  const batch = Math.trunc(clipped / bins);
  let residual = clipped - batch * bins;
  for (let i = 0; i < bins; i++) hist[i]! += batch;
  if (residual > 0) {
    const step = Math.max(Math.trunc(bins / residual), 1);
    for (let i = 0; i < bins && residual > 0; i += step, residual--) hist[i]!++;
  }
  const lut = new Uint8Array(bins);
  const scale = (bins - 1) / pixels;
  let sum = 0;
  for (let i = 0; i < bins; i++) {
    sum += hist[i]!;
    // OpenCV's saturate_cast<uchar>(float) rounds half to even (cvRound)
    const v = sum * scale;
    const r = Math.round(v);
    lut[i] = Math.min(255, Math.max(0, Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r));
  }
  return lut;
}

/** CLAHE with one tile on every channel of an rgb24 frame; a new frame. */
export function clahe(frame: Frame, clipLimit = CLAHE_CLIP_LIMIT): Frame {
  const { data } = frame;
  const pixels = frame.width * frame.height;
  const out = new Uint8Array(data.length);
  for (let c = 0; c < 3; c++) {
    const hist = new Int32Array(256);
    for (let i = c; i < data.length; i += 3) hist[data[i]!]!++;
    const lut = claheLut(hist, pixels, clipLimit);
    for (let i = c; i < data.length; i += 3) out[i] = lut[data[i]!]!;
  }
  return { width: frame.width, height: frame.height, data: out };
}
