/**
 * The video smoother (FastBlend's runners + DiffSynth's post-processing): frames in as they come,
 * smoothed frames out in order, device memory bounded by the window (see smootherMemory).
 *
 *   using matcher = new PatchMatcher(backend, { patchSize: 5 });
 *   for await (const f of smoothVideo(pairs, matcher, { mode: "fast", window: 15 })) await out.write(f);
 */
import { FrameError, UsageError } from "../errors.ts";
import { checkFrameSize, type Frame } from "../io/frame.ts";
import { fastMode, blockCap } from "./fast-mode.ts";
import { interpolateMode } from "./interpolate-mode.ts";
import { type DeviceFrame, downloadFrame, imageBytes, type ModeContext, type SmootherStats, uploadFrame } from "./pairs.ts";
import { matchBytes, type PatchMatcher } from "./patch-match.ts";
import { postprocess } from "../sd/enhance.ts";
import { windowMode } from "./window-modes.ts";

export const SMOOTH_MODES = ["fast", "balanced", "accurate", "interpolate", "ebsynth"] as const;
export type SmoothMode = (typeof SMOOTH_MODES)[number];

export interface SmoothOptions {
  mode: SmoothMode;
  /** Frames each side that blend into a frame (fast, balanced, accurate, ebsynth). */
  window: number;
  /**
   * ebsynth: which neighbours blend into frame t, as offsets t + d (DiffSynth's smooth_index, e.g.
   * [-3, -2, -1, 1, 2, 3]); null: every offset within ±window but 0. When given, the window is
   * the largest |d|.
   */
  offsets: readonly number[] | null;
  /** Pairs per matcher call (kernel launch). */
  batch: number;
  /** interpolate: every k-th frame (0, k, 2k, …) is a keyframe. */
  keyframeInterval: number;
  /** Pillow ImageEnhance factors applied to every output frame; 1 leaves it. */
  contrast: number;
  sharpness: number;
}

export const SMOOTH_DEFAULTS: SmoothOptions = {
  mode: "fast",
  window: 15,
  offsets: null,
  batch: 8,
  keyframeInterval: 10,
  contrast: 1,
  sharpness: 1,
};

/** The window a run really uses: ebsynth's offsets set it when given. */
export function effectiveWindow(o: Pick<SmoothOptions, "mode" | "window" | "offsets">): number {
  return o.mode === "ebsynth" && o.offsets?.length ? Math.max(...o.offsets.map(Math.abs)) : o.window;
}

/** One input frame: the style to smooth and, when it is not its own guide, the guide to match by. */
export interface StylePair {
  style: Frame;
  guide?: Frame;
}

export interface SmootherRun {
  stats: SmootherStats;
  /** Device bytes of frames and tables held now and at most (the matcher's scratch not included). */
  held: { bytes: number; peak: number };
  /** Frames out so far. */
  frames: number;
}

/** Device bytes a mode holds at most for frames of `width × height` (a guide besides the style when `guided`). */
export function smootherMemory(
  o: Pick<SmoothOptions, "mode" | "window" | "offsets" | "batch" | "keyframeInterval">,
  size: { width: number; height: number },
  matcher: Parameters<typeof matchBytes>[3],
  guided = false,
): { bytes: number; frames: number; tables: number; matcher: number } {
  const image = imageBytes(size.height, size.width);
  const perFrame = image * (guided ? 2 : 1);
  const w = effectiveWindow(o);
  let frames: number, tables: number, batch = o.batch;
  switch (o.mode) {
    case "balanced":
    case "accurate":
    case "ebsynth":
      frames = 2 * w + 1;
      tables = 1; // the mean being built
      break;
    case "fast": {
      const cap = blockCap(w);
      frames = w + 1;
      // B and C tables of the frames in the window (each aligned block level at most once per 2^ℓ frames)
      // plus every frame's left half until it leaves, plus a build's remaps in flight
      let perWindow = 0;
      for (let l = 1; l <= cap; l++) perWindow += Math.floor((w + 1) / 2 ** l) + 1;
      tables = 2 * perWindow + (w + 1) + 2 ** cap + 2 * cap + 4;
      break;
    }
    case "interpolate":
      frames = o.keyframeInterval + 1;
      tables = 2 * o.keyframeInterval;
      batch = Math.max(2, batch - (batch % 2));
      break;
  }
  // stacked batch inputs (3 images a pair) and its split results
  const scratch = matchBytes(batch, size.height, size.width, matcher) + 4 * batch * image;
  return { bytes: frames * perFrame + tables * image + scratch, frames, tables, matcher: scratch };
}

function checkOptions(o: SmoothOptions): void {
  if (!SMOOTH_MODES.includes(o.mode)) throw new UsageError(`unknown smoothing mode "${o.mode}": expected one of ${SMOOTH_MODES.join(", ")}`);
  for (const [k, v, min] of [["window", o.window, 1], ["batch", o.batch, 1], ["keyframe interval", o.keyframeInterval, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new UsageError(`${k} ${v} must be an integer ≥ ${min}`);
  }
  if (o.offsets) {
    if (o.mode !== "ebsynth") throw new UsageError(`offsets are for the ebsynth mode, not ${o.mode}`, "use --mode ebsynth, or --window");
    if (o.offsets.length === 0 || o.offsets.some((d) => !Number.isInteger(d))) {
      throw new UsageError(`offsets [${o.offsets.join(", ")}] must be one or more integers`);
    }
  }
}

/** Uploads the pairs in order, checking every frame against the first one's size. */
async function* uploads(pairs: AsyncIterable<StylePair>, matcher: PatchMatcher): AsyncGenerator<DeviceFrame, void, undefined> {
  let index = 0;
  let size: { width: number; height: number } | undefined;
  for await (const p of pairs) {
    size ??= { width: p.style.width, height: p.style.height };
    checkFrameSize(p.style, size, `frame ${index}`);
    if (p.guide) {
      if (p.guide.width !== size.width || p.guide.height !== size.height) {
        throw new FrameError(`guide frame ${index} is ${p.guide.width}x${p.guide.height} but the video is ${size.width}x${size.height}`);
      }
      checkFrameSize(p.guide, size, `guide frame ${index}`);
    }
    yield uploadFrame(matcher.backend, index++, p.style, p.guide);
  }
  if (index === 0) throw new FrameError("the video holds no frames");
}

/**
 * Smooths a video. `run` (optional) is filled in as it goes: what was done and held. The frames
 * come out in input order; frame t leaves once frame t + window (fast, balanced, accurate) or the
 * next keyframe (interpolate) has come in.
 */
export async function* smoothVideo(
  pairs: AsyncIterable<StylePair>,
  matcher: PatchMatcher,
  options: Partial<SmoothOptions> = {},
  run: SmootherRun = { stats: { remaps: 0, batches: 0 }, held: { bytes: 0, peak: 0 }, frames: 0 },
): AsyncGenerator<Frame, void, undefined> {
  const o = { ...SMOOTH_DEFAULTS, ...options };
  checkOptions(o);
  const c: ModeContext = {
    matcher, batch: o.batch, window: effectiveWindow(o), offsets: o.offsets, keyframeInterval: o.keyframeInterval, stats: run.stats, held: run.held,
  };
  const frames = uploads(pairs, matcher);
  const modes = {
    fast: () => fastMode(frames, c),
    balanced: () => windowMode(frames, c, "balanced"),
    accurate: () => windowMode(frames, c, "accurate"),
    ebsynth: () => windowMode(frames, c, "ebsynth"),
    interpolate: () => interpolateMode(frames, c),
  } as const;
  for await (const image of modes[o.mode]()) {
    let frame: Frame;
    try {
      frame = downloadFrame(image);
    } finally {
      image.dispose();
    }
    run.frames++;
    yield postprocess(frame, o);
  }
}
