/**
 * Deflicker: FastBlend as a standalone video filter. The video is the style; the guide that
 * decides which patches match is the video itself or a separate video (e.g. the original footage
 * a stylised video was made from), frame for frame.
 *
 *   using job = Deflicker.open({ device: "cpu", mode: "fast", window: 15 });
 *   for await (const f of job.frames(video.frames, guide?.frames)) await out.write(f);
 */
import { FrameError, UsageError } from "../errors.ts";
import type { Frame, StreamMeta } from "../io/frame.ts";
import type { Backend } from "../runtime/backend.ts";
import { openDevice } from "../runtime/device.ts";
import { FLICKER_CLIP_DEFAULTS } from "./flicker-clip.ts";
import { PATCH_MATCH_DEFAULTS, type PatchMatchOptions, PatchMatcher } from "./patch-match.ts";
import { SMOOTH_DEFAULTS, type SmoothOptions, smootherMemory, type SmootherRun, smoothVideo, type StylePair } from "./smoother.ts";

export interface DeflickerOptions extends SmoothOptions, Pick<PatchMatchOptions, "patchSize" | "iterations" | "guideWeight" | "seed"> {
  device: string;
}

/** Every default of the deflicker job (the CLI schema reads them from here). */
export const DEFLICKER_DEFAULTS = {
  ...SMOOTH_DEFAULTS,
  patchSize: PATCH_MATCH_DEFAULTS.patchSize,
  iterations: PATCH_MATCH_DEFAULTS.iterations,
  guideWeight: PATCH_MATCH_DEFAULTS.guideWeight,
  seed: PATCH_MATCH_DEFAULTS.seed,
  device: "cpu",
  /** Length of the built-in flickering clip. */
  frames: FLICKER_CLIP_DEFAULTS.frames,
} as const;

/** A separate guide must be the video's size (lengths are checked as the frames come). */
export function checkGuide(video: StreamMeta, guide: StreamMeta): void {
  if (video.width !== guide.width || video.height !== guide.height) {
    throw new UsageError(
      `the guide is ${guide.width}x${guide.height} but the video is ${video.width}x${video.height}`,
      "the guide must be the video's size, frame for frame",
    );
  }
}

/** Video and guide frame for frame; a stream that ends before the other is a FrameError. */
export async function* zipGuide(video: AsyncIterable<Frame>, guide: AsyncIterable<Frame>): AsyncGenerator<StylePair, void, undefined> {
  const g = guide[Symbol.asyncIterator]();
  let n = 0;
  try {
    for await (const style of video) {
      const next = await g.next();
      if (next.done) throw new FrameError(`the guide ended after ${n} frame${n === 1 ? "" : "s"} but the video goes on`);
      yield { style, guide: next.value };
      n++;
    }
    if (!(await g.next()).done) throw new FrameError(`the video ended after ${n} frame${n === 1 ? "" : "s"} but the guide goes on`);
  } finally {
    await g.return?.();
  }
}

export class Deflicker implements Disposable {
  readonly run: SmootherRun = { stats: { remaps: 0, batches: 0 }, held: { bytes: 0, peak: 0 }, frames: 0 };
  private constructor(
    readonly options: DeflickerOptions,
    readonly backend: Backend,
    readonly matcher: PatchMatcher,
  ) {}

  static open(options: Partial<DeflickerOptions> = {}): Deflicker {
    const o: DeflickerOptions = { ...DEFLICKER_DEFAULTS, ...options };
    const { backend } = openDevice(o.device);
    // ebsynth starts every pair from a random field; FastBlend from the identity
    const init = o.mode === "ebsynth" ? "random" : "identity";
    const matcher = new PatchMatcher(backend, { patchSize: o.patchSize, iterations: o.iterations, guideWeight: o.guideWeight, seed: o.seed, init });
    return new Deflicker(o, backend, matcher);
  }

  /** Device bytes the run will hold at most for this frame size. */
  memory(size: { width: number; height: number }, guided: boolean) {
    return smootherMemory(this.options, size, this.matcher.options, guided);
  }

  /** The deflickered frames, in order, as they are ready. */
  frames(video: AsyncIterable<Frame>, guide?: AsyncIterable<Frame>): AsyncGenerator<Frame, void, undefined> {
    const pairs = guide ? zipGuide(video, guide) : styleOnly(video);
    return smoothVideo(pairs, this.matcher, this.options, this.run);
  }

  dispose(): void {
    this.matcher.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

async function* styleOnly(video: AsyncIterable<Frame>): AsyncGenerator<StylePair, void, undefined> {
  for await (const style of video) yield { style };
}
