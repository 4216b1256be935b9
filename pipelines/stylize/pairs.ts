/**
 * Frames on the device and the one primitive every smoother schedules: remap(i → j), the style of
 * frame i matched (by guides) and voted onto frame j. Jobs run through the matcher in batches of
 * `batch` pairs (FastBlend's batch_size: pairs per kernel launch).
 */
import type { Frame } from "../io/frame.ts";
import type { Backend } from "../runtime/backend.ts";
import { lerp } from "../runtime/blend-ops.ts";
import { imageToRgb, rgbToImage } from "../runtime/patchmatch-ops.ts";
import { Tensor } from "../runtime/tensor.ts";
import type { PairScoring, PatchMatcher } from "./patch-match.ts";

/** A frame's guide and style as `[1, h, w, 4]` f32 images (the same tensor when the style is its own guide). */
export interface DeviceFrame extends Disposable {
  index: number;
  guide: Tensor;
  style: Tensor;
}

export function uploadImage(backend: Backend, frame: Frame): Tensor {
  using rgb = Tensor.from(backend, "u8", [1, frame.height, frame.width, 3], frame.data);
  return rgbToImage(rgb);
}

export function uploadFrame(backend: Backend, index: number, style: Frame, guide?: Frame): DeviceFrame {
  const s = uploadImage(backend, style);
  const g = guide ? uploadImage(backend, guide) : s;
  return {
    index,
    guide: g,
    style: s,
    [Symbol.dispose]() {
      s.dispose();
      if (g !== s) g.dispose();
    },
  };
}

/** A `[1, h, w, 4]` image as an rgb24 frame (clipped, rounded). */
export function downloadFrame(image: Tensor): Frame {
  const [, height, width] = image.shape as [number, number, number, number];
  using rgb = imageToRgb(image);
  return { width: width, height: height, data: rgb.read() as Uint8Array };
}

/** Bytes of one `[1, h, w, 4]` f32 image. */
export const imageBytes = (h: number, w: number) => 16 * h * w;

export interface RemapJob {
  /** Source frame's guide and the style to carry (the frame's own, or a blend of several). */
  sourceGuide: Tensor;
  sourceStyle: Tensor;
  targetGuide: Tensor;
}

/** Counts what a smoother did, for logs and tests. */
export interface SmootherStats {
  remaps: number;
  batches: number;
}

/** Stacks `[1, …]` tensors into one `[n, …]` batch (the item itself when n = 1). */
function stack(backend: Backend, items: readonly Tensor[]): { tensor: Tensor; owned: boolean } {
  if (items.length === 1) return { tensor: items[0]!, owned: false };
  const [, ...rest] = items[0]!.shape;
  const t = Tensor.uninitialized(backend, "f32", [items.length, ...rest]);
  const bytes = items[0]!.byteLength;
  items.forEach((x, k) => backend.copy(t.storage, t.byteOffset + k * bytes, x.storage, x.byteOffset, bytes));
  return { tensor: t, owned: true };
}

/**
 * Runs the jobs in batches and returns one `[1, h, w, 4]` remapped image per job, in order.
 * `consensus` batches must share their target; `pairwise` jobs come in pairs (2k, 2k+1) sharing one.
 */
export function remapPairs(
  matcher: PatchMatcher,
  jobs: readonly RemapJob[],
  o: { batch: number; scoring?: PairScoring; stats?: SmootherStats },
): Tensor[] {
  const scoring = o.scoring ?? "independent";
  const size = scoring === "pairwise" ? Math.max(2, o.batch - (o.batch % 2)) : Math.max(1, o.batch);
  const backend = matcher.backend;
  const out: Tensor[] = [];
  for (let start = 0; start < jobs.length; start += size) {
    const chunk = jobs.slice(start, start + size);
    const parts = [chunk.map((j) => j.sourceGuide), chunk.map((j) => j.sourceStyle), chunk.map((j) => j.targetGuide)].map((ts) =>
      stack(backend, ts),
    );
    try {
      using result = matcher.match({ sourceGuide: parts[0]!.tensor, sourceStyle: parts[1]!.tensor, targetGuide: parts[2]!.tensor }, { scoring });
      const bytes = result.remapped.byteLength / chunk.length;
      const [, ...rest] = result.remapped.shape;
      for (let k = 0; k < chunk.length; k++) {
        const t = Tensor.uninitialized(backend, "f32", [1, ...rest]);
        backend.copy(t.storage, t.byteOffset, result.remapped.storage, result.remapped.byteOffset + k * bytes, bytes);
        out.push(t);
      }
    } finally {
      for (const p of parts) if (p.owned) p.tensor.dispose();
    }
    if (o.stats) {
      o.stats.remaps += chunk.length;
      o.stats.batches++;
    }
  }
  return out;
}

/** What every smoothing mode is given. */
export interface ModeContext {
  matcher: PatchMatcher;
  /** Pairs per matcher call. */
  batch: number;
  /** Frames each side (fast, balanced, accurate, ebsynth). */
  window: number;
  /** ebsynth: the source offsets of a target (null: every offset in ±window but 0). */
  offsets: readonly number[] | null;
  /** Every k-th frame is a keyframe (interpolate). */
  keyframeInterval: number;
  stats: SmootherStats;
  /** Device bytes of frames and tables the mode holds now, and the most it held. */
  held: { bytes: number; peak: number };
}

/** Notes `bytes` more (or fewer, when negative) held by a mode. */
export function hold(c: ModeContext, bytes: number): void {
  c.held.bytes += bytes;
  c.held.peak = Math.max(c.held.peak, c.held.bytes);
}

/** A weighted mean built one image at a time (fixed order, so the result is deterministic). */
export class RunningMean implements Disposable {
  #acc: Tensor | undefined;
  #weight = 0;

  /** Adds `x` with weight `w` (x is only read). */
  add(x: Tensor, w = 1): void {
    if (!this.#acc) {
      this.#acc = x.to(x.backend);
      this.#weight = w;
      return;
    }
    this.#weight += w;
    lerp(this.#acc, x, w / this.#weight, this.#acc);
  }

  get weight(): number {
    return this.#weight;
  }

  /** The mean; the caller owns it and this mean is empty again. */
  take(): Tensor {
    const acc = this.#acc;
    if (!acc) throw new Error("RunningMean.take() before any add()");
    this.#acc = undefined;
    this.#weight = 0;
    return acc;
  }

  [Symbol.dispose](): void {
    this.#acc?.dispose();
    this.#acc = undefined;
  }
}
