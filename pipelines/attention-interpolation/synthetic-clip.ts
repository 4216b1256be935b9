/**
 * A short deterministic test clip: coloured shapes gliding over a diagonal gradient. The recipe
 * uses it when no input is given, the tests and the flicker benchmark use it as the input video.
 * Motion is slow and smooth, so any frame-to-frame flicker in the output comes from generation.
 */
import type { Frame, StreamMeta } from "../io/frame.ts";

export interface SyntheticClipOptions {
  frames?: number;
  width?: number;
  height?: number;
  fps?: number;
}

export const SYNTHETIC_CLIP_DEFAULTS = { frames: 12, width: 256, height: 256, fps: 8 };

export function syntheticClipMeta(o: SyntheticClipOptions = {}): StreamMeta {
  const c = { ...SYNTHETIC_CLIP_DEFAULTS, ...o };
  return { width: c.width, height: c.height, fps: { num: c.fps, den: 1 } };
}

/** Frame `index` of the clip (frames are independent of each other, so any can be made alone). */
export function syntheticFrame(index: number, o: SyntheticClipOptions = {}): Frame {
  const { frames, width: w, height: h } = { ...SYNTHETIC_CLIP_DEFAULTS, ...o };
  const t = frames > 1 ? index / (frames - 1) : 0;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const g = (x / w + y / h) / 2;
      const p = (y * w + x) * 3;
      data[p] = 40 + 120 * g;
      data[p + 1] = 60 + 80 * (1 - g);
      data[p + 2] = 110 + 100 * g;
    }
  }
  const s = Math.min(w, h);
  // a disc drifting right, a square drifting down, a bar sliding left
  disc(data, w, h, w * (0.25 + 0.4 * t), h * 0.35, s * 0.14, [235, 190, 40]);
  rect(data, w, h, w * 0.62, h * (0.15 + 0.35 * t), s * 0.22, s * 0.22, [200, 50, 60]);
  rect(data, w, h, w * (0.55 - 0.35 * t), h * 0.75, s * 0.34, s * 0.09, [40, 170, 120]);
  return { width: w, height: h, data };
}

/** The clip's frames in order. */
export async function* syntheticClip(o: SyntheticClipOptions = {}): AsyncGenerator<Frame, void, undefined> {
  const frames = o.frames ?? SYNTHETIC_CLIP_DEFAULTS.frames;
  for (let i = 0; i < frames; i++) yield syntheticFrame(i, o);
}

type Rgb = [number, number, number];

function disc(data: Uint8Array, w: number, h: number, cx: number, cy: number, r: number, rgb: Rgb): void {
  for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(h, Math.ceil(cy + r)); y++) {
    for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(w, Math.ceil(cx + r)); x++) {
      if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r) data.set(rgb, (y * w + x) * 3);
    }
  }
}

function rect(data: Uint8Array, w: number, h: number, x0: number, y0: number, rw: number, rh: number, rgb: Rgb): void {
  for (let y = Math.max(0, Math.round(y0)); y < Math.min(h, Math.round(y0 + rh)); y++) {
    for (let x = Math.max(0, Math.round(x0)); x < Math.min(w, Math.round(x0 + rw)); x++) data.set(rgb, (y * w + x) * 3);
  }
}
