/**
 * Video stylisation (DiffSynth) and its patch-match deflicker (FastBlend): the smoother, its
 * matcher and post-processing, and the deflicker job recipes/deflicker.ts runs.
 *
 *   using job = Deflicker.open({ mode: "fast", window: 15 });
 *   await using out = openFrameSink("out.mp4", video.meta);
 *   for await (const frame of job.frames(video.frames)) await out.write(frame);
 *
 * Specs: shared/specs/patch-match.md, shared/specs/diffsynth.md. Algorithm notes: docs/stylize.md.
 */
export { checkGuide, Deflicker, DEFLICKER_DEFAULTS, type DeflickerOptions, zipGuide } from "./deflicker.ts";
export { cleanFrame, flickerClip, FLICKER_CLIP_DEFAULTS, flickerClipMeta, flickerFrame, meanAbsDiff, temporalDiff } from "./flicker-clip.ts";
export { type MatchResult, PATCH_MATCH_DEFAULTS, type PatchMatchOptions, PatchMatcher, pyramidSizes } from "./patch-match.ts";
export { contrast, postprocess, sharpness } from "../sd/enhance.ts";
export { SMOOTH_DEFAULTS, SMOOTH_MODES, type SmoothMode, type SmoothOptions, smootherMemory, smoothVideo, type StylePair } from "./smoother.ts";
export { DiffSynth, STYLIZE_CLIP, STYLIZE_DEFAULTS, type StylizeOptions } from "./diffsynth/index.ts";
