/**
 * ContinuitySeq's post-processing CLAHE (shared/specs/continuity-seq.md, step 8): OpenCV's
 * createCLAHE(clipLimit = 1.2, tileGridSize = (1, 1)) applied to each channel of each frame. With
 * one tile there is nothing to interpolate, so it is a clipped histogram equalisation of the whole
 * channel, as OpenCV's CLAHE_CalcLut_Body computes it (kernels/tone.cu, through runtime/tone-ops.ts):
 *
 *   limit  = max(1, trunc(clipLimit · pixels / 256))
 *   clip every bin to limit; the excess E is spread back: E div 256 to every bin, then the
 *   remainder r one each to bins 0, s, 2s, … (s = max(trunc(256 / r), 1)) while r lasts
 *   lut[i] = round(cumsum[i] · 255 / pixels), half to even, saturated to 0..255
 */
import type { Frame } from "../io/frame.ts";
import type { Backend } from "../runtime/backend.ts";
import { Tensor } from "../runtime/tensor.ts";
import { claheRgb24 } from "../runtime/tone-ops.ts";

/** The clip limit of the reference (cv2.createCLAHE(clipLimit=1.2, tileGridSize=(1, 1))). */
export const CLAHE_CLIP_LIMIT = 1.2;

/** CLAHE with one tile on every channel of an rgb24 frame, on `backend`; a new frame. */
export function clahe(backend: Backend, frame: Frame, clipLimit = CLAHE_CLIP_LIMIT): Frame {
  using rgb = Tensor.from(backend, "u8", [frame.height, frame.width, 3], frame.data);
  using out = claheRgb24(rgb, clipLimit);
  return { width: frame.width, height: frame.height, data: out.read() as Uint8Array };
}
