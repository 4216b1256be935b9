/**
 * Input frames to the generation size (shared/specs/diffsynth.md §1): centre-crop to the target
 * aspect, then a bilinear resize (pixel centres aligned); and the size rule (floored to 8).
 */
import { UsageError } from "../../errors.ts";
import type { Frame } from "../../io/frame.ts";

/**
 * The generation size: the one asked for, else the input's, floored to multiples of `multiple`
 * (8 in the spec; a UNet that halves the latent L times needs 8·2^L, see DiffSynth.sizeMultiple).
 */
export function generationSize(
  input: { width: number; height: number },
  asked?: { width: number; height: number } | null,
  multiple = 8,
): { width: number; height: number } {
  const w = Math.floor((asked?.width ?? input.width) / multiple) * multiple;
  const h = Math.floor((asked?.height ?? input.height) / multiple) * multiple;
  if (w < multiple || h < multiple) {
    const what = asked ? `size ${asked.width}x${asked.height}` : `frames of ${input.width}x${input.height}`;
    throw new UsageError(`${what} too small: this model needs at least ${multiple}x${multiple} (sides in multiples of ${multiple})`);
  }
  return { width: w, height: h };
}

/** Wider than W/H: crop the width to int(h·W/H) centred; else the height likewise; then resize to W×H. */
export function cropResize(src: Frame, width: number, height: number): Frame {
  if (src.width === width && src.height === height) return src;
  let cx = 0, cy = 0, cw = src.width, ch = src.height;
  if (src.width * height > src.height * width) {
    cw = Math.max(1, Math.floor((src.height * width) / height));
    cx = Math.floor((src.width - cw) / 2);
  } else if (src.width * height < src.height * width) {
    ch = Math.max(1, Math.floor((src.width * height) / width));
    cy = Math.floor((src.height - ch) / 2);
  }
  const out = new Uint8Array(width * height * 3);
  const sx = cw / width, sy = ch / height;
  for (let y = 0; y < height; y++) {
    const [y0, y1, fy] = axis((y + 0.5) * sy - 0.5, ch);
    for (let x = 0; x < width; x++) {
      const [x0, x1, fx] = axis((x + 0.5) * sx - 0.5, cw);
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number) => src.data[((cy + yy) * src.width + cx + xx) * 3 + c]!;
        const top = p(y0, x0) * (1 - fx) + p(y0, x1) * fx;
        const bottom = p(y1, x0) * (1 - fx) + p(y1, x1) * fx;
        out[(y * width + x) * 3 + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { width, height, data: out };
}

function axis(p: number, n: number): [number, number, number] {
  const c = Math.min(Math.max(p, 0), n - 1);
  const i0 = Math.floor(c);
  return [i0, Math.min(i0 + 1, n - 1), c - i0];
}
