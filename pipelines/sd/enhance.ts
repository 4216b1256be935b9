/**
 * Pillow's ImageEnhance.Contrast and ImageEnhance.Sharpness on rgb24, for every job that post-processes
 * frames (DiffSynth after a smoother, shared/specs/diffsynth.md "Postprocessing"; ContinuitySeq's
 * contrast), reproduced bit for bit: Pillow's arithmetic is C `float`, so every operation here is rounded with Math.fround.
 *
 *   contrast:  m = int(mean(L) + 0.5), L = Pillow's RGB→L ((19595 R + 38470 G + 7471 B + 2^15) >> 16);
 *              out = blend(m, v, f)
 *   sharpness: S = the 3×3 SMOOTH filter [1 1 1; 1 5 1; 1 1 1]/13 (+0.5, clipped, truncated; the first
 *              and last rows and columns copied); out = blend(S, v, f)
 *   blend(a, b, f) = a + f·(b − a) in float, truncated; clipped to 0..255 when f is outside [0, 1].
 */
import type { Frame } from "../io/frame.ts";

const f32 = Math.fround;

/** Pillow's ImagingBlend for one byte pair. */
function blendByte(a: number, b: number, alpha: number): number {
  const v = f32(a + f32(alpha * (b - a)));
  if (alpha >= 0 && alpha <= 1) return Math.trunc(v);
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
}

function blendFrames(degenerate: Uint8Array | number, frame: Frame, factor: number): Frame {
  const alpha = f32(factor);
  const data = new Uint8Array(frame.data.length);
  const src = frame.data;
  if (typeof degenerate === "number") {
    for (let i = 0; i < src.length; i++) data[i] = blendByte(degenerate, src[i]!, alpha);
  } else {
    for (let i = 0; i < src.length; i++) data[i] = blendByte(degenerate[i]!, src[i]!, alpha);
  }
  return { width: frame.width, height: frame.height, data };
}

/** ImageEnhance.Contrast(image).enhance(factor); 1 returns the frame itself. */
export function contrast(frame: Frame, factor: number): Frame {
  if (factor === 1) return frame;
  const d = frame.data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 3) sum += (d[i]! * 19595 + d[i + 1]! * 38470 + d[i + 2]! * 7471 + 0x8000) >> 16;
  const pixels = frame.width * frame.height;
  const mean = Math.trunc((pixels ? sum / pixels : 0) + 0.5);
  return blendFrames(mean, frame, factor);
}

/** ImageFilter.SMOOTH as Pillow applies it to rgb24 (borders copied; images under 3×3 copied whole). */
export function smoothFilter(frame: Frame): Uint8Array {
  const { width: w, height: h, data } = frame;
  const out = Uint8Array.from(data);
  if (w < 3 || h < 3) return out;
  const k1 = f32(1 / 13), k5 = f32(5 / 13);
  const row = (y: number, x: number, c: number, centre: number) => {
    const p = (y * w + x) * 3 + c;
    return f32(f32(f32(data[p - 3]! * k1) + f32(data[p]! * centre)) + f32(data[p + 3]! * k1));
  };
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      for (let c = 0; c < 3; c++) {
        let ss = f32(0.5);
        ss = f32(ss + row(y + 1, x, c, k1));
        ss = f32(ss + row(y, x, c, k5));
        ss = f32(ss + row(y - 1, x, c, k1));
        out[(y * w + x) * 3 + c] = ss <= 0 ? 0 : ss >= 255 ? 255 : Math.trunc(ss);
      }
    }
  }
  return out;
}

/** ImageEnhance.Sharpness(image).enhance(factor); 1 returns the frame itself. */
export function sharpness(frame: Frame, factor: number): Frame {
  if (factor === 1) return frame;
  return blendFrames(smoothFilter(frame), frame, factor);
}

/** Contrast, then sharpness (the order of DiffSynth's postprocessing dict). */
export function postprocess(frame: Frame, o: { contrast: number; sharpness: number }): Frame {
  return sharpness(contrast(frame, o.contrast), o.sharpness);
}
