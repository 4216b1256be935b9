import { tone } from "../../kernels/tone.ts";
import { rgb24Shape } from "./image-shapes.ts";
import { launch } from "./launcher.ts";
import { Tensor } from "./tensor.ts";

/** Tone curves on rgb24 pictures (u8 [H, W, 3]) through kernels/tone.cu. */

/** Pixels per partial histogram: enough chunks to fill a GPU, few enough that summing them is cheap. */
const CHUNK = 4096;

/**
 * CLAHE with one tile on each channel, as OpenCV's createCLAHE(clipLimit, tileGridSize = (1, 1)):
 * a histogram equalisation whose bins are clipped at max(1, ⌊clipLimit · pixels / 256⌋) first.
 */
export function claheRgb24(rgb: Tensor, clipLimit: number, out?: Tensor): Tensor {
  const { width, height } = rgb24Shape("claheRgb24", rgb);
  if (!(clipLimit > 0 && Number.isFinite(clipLimit))) throw new RangeError(`CLAHE clip limit ${clipLimit} must be a positive number`);
  const n = width * height;
  const chunks = Math.ceil(n / CHUNK);
  using hist = Tensor.empty(rgb.backend, "i32", [chunks, 3, 256]);
  using lut = Tensor.empty(rgb.backend, "u8", [3, 256]);
  launch(tone, "tone_histogram_rgb24", { hist, rgb, n, chunk: CHUNK, chunks });
  launch(tone, "tone_clahe_lut", { lut, hist, chunks, pixels: n, limit: Math.max(1, Math.trunc((clipLimit * n) / 256)) });
  const o = out ?? Tensor.empty(rgb.backend, "u8", rgb.shape);
  launch(tone, "tone_apply_lut_rgb24", { out: o, rgb, lut, n });
  return o;
}
