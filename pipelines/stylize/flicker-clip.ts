/**
 * A deterministic flickering test clip: shapes drifting over a softly textured background (so
 * patches have something to match), and the same frames with per-frame random brightness and
 * colour gains, the kind of flicker per-frame stylisation leaves. The clean frames are the truth a
 * deflicker is measured against. Frames are independent: any one can be made alone.
 */
import type { Frame, StreamMeta } from "../io/frame.ts";

export interface FlickerClipOptions {
  frames?: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Largest brightness gain change, e.g. 0.12 = ×0.88…×1.12. */
  brightness?: number;
  /** Largest extra per-channel gain change. */
  colour?: number;
  seed?: number;
}

export const FLICKER_CLIP_DEFAULTS = { frames: 24, width: 96, height: 96, fps: 12, brightness: 0.12, colour: 0.05, seed: 1 };

export function flickerClipMeta(o: FlickerClipOptions = {}): StreamMeta {
  const c = { ...FLICKER_CLIP_DEFAULTS, ...o };
  return { width: c.width, height: c.height, fps: { num: c.fps, den: 1 } };
}

/** Uniform in [−1, 1) from (seed, frame, k): a small integer hash, not the library's generators. */
function jitter(seed: number, frame: number, k: number): number {
  let x = (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(frame + 1, 0x165667b1) + Math.imul(k + 1, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) >>> 0;
  x = Math.imul(x ^ (x >>> 12), 0x297a2d39) >>> 0;
  return ((x ^ (x >>> 15)) >>> 0) / 2 ** 31 - 1;
}

/** Frame `index` without flicker. */
export function cleanFrame(index: number, o: FlickerClipOptions = {}): Frame {
  const c = { ...FLICKER_CLIP_DEFAULTS, ...o };
  const { width: w, height: h } = c;
  const data = new Uint8Array(w * h * 3);
  const s = Math.min(w, h);
  // background: a gradient with a gentle two-wave texture, fixed in place
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const g = (x / w + y / h) / 2;
      const t = 18 * Math.sin((x * 0.31 + y * 0.17) * (48 / s)) * Math.cos((x * 0.11 - y * 0.29) * (48 / s));
      const p = (y * w + x) * 3;
      data[p] = clamp(70 + 90 * g + t);
      data[p + 1] = clamp(90 + 60 * (1 - g) - t);
      data[p + 2] = clamp(120 + 70 * g + 0.5 * t);
    }
  }
  // ~1 px a frame at the default size: a disc right, a square down-left, a ring up
  const d = index * (s / 96);
  shape(data, w, h, (x, y) => (x - (0.2 * w + d)) ** 2 + (y - 0.3 * h) ** 2 <= (0.13 * s) ** 2, () => [230, 190, 40]);
  shape(data, w, h, (x, y) => Math.abs(x - (0.7 * w - 0.5 * d)) <= 0.1 * s && Math.abs(y - (0.25 * h + 0.8 * d)) <= 0.1 * s, () => [200, 40, 70]);
  shape(data, w, h, (x, y) => {
    const r2 = (x - 0.45 * w) ** 2 + (y - (0.78 * h - 0.6 * d)) ** 2;
    return r2 <= (0.14 * s) ** 2 && r2 >= (0.07 * s) ** 2;
  }, () => [40, 160, 200]);
  return { width: w, height: h, data };
}

/** Frame `index` with its gains: brightness × per-channel colour, clipped. */
export function flickerFrame(index: number, o: FlickerClipOptions = {}): Frame {
  const c = { ...FLICKER_CLIP_DEFAULTS, ...o };
  const frame = cleanFrame(index, o);
  const b = 1 + c.brightness * jitter(c.seed, index, 0);
  const gains = [1, 2, 3].map((k) => b * (1 + c.colour * jitter(c.seed, index, k)));
  const d = frame.data;
  for (let i = 0; i < d.length; i++) d[i] = clamp(d[i]! * gains[i % 3]!);
  return frame;
}

export async function* flickerClip(o: FlickerClipOptions = {}): AsyncGenerator<Frame, void, undefined> {
  const n = o.frames ?? FLICKER_CLIP_DEFAULTS.frames;
  for (let i = 0; i < n; i++) yield flickerFrame(i, o);
}

/** Mean absolute difference of two frames, per byte (0..255). */
export function meanAbsDiff(a: Frame, b: Frame): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i]! - b.data[i]!);
  return s / a.data.length;
}

/** Mean over consecutive pairs of meanAbsDiff: how much the video changes from frame to frame. */
export function temporalDiff(frames: readonly Frame[]): number {
  let s = 0;
  for (let i = 1; i < frames.length; i++) s += meanAbsDiff(frames[i - 1]!, frames[i]!);
  return frames.length > 1 ? s / (frames.length - 1) : 0;
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

type Rgb = [number, number, number];
function shape(data: Uint8Array, w: number, h: number, inside: (x: number, y: number) => boolean, colour: () => Rgb) {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) if (inside(x + 0.5, y + 0.5)) data.set(colour(), (y * w + x) * 3);
  }
}
