/**
 * The command-line face of recipes/deflicker.ts: FastBlend's settings under the shared vocabulary
 * (its own spellings, window_size, batch_size, minimum_patch_size, num_iter, as aliases).
 */
import { DEFLICKER_DEFAULTS, type DeflickerOptions, SMOOTH_MODES } from "../../stylize/index.ts";
import { defineRecipe } from "../run-recipe.ts";
import { defineSchema, field } from "../schema.ts";
import { key } from "../vocabulary.ts";

const d = DEFLICKER_DEFAULTS;
const count = (description: string, value: number, aliases: string[] = [], min = 1) =>
  field.number({ description, default: value, integer: true, min, max: 10_000, aliases });
const factor = (description: string, value: number) => field.number({ description, default: value, min: 0, max: 10 });

const schema = defineSchema({
  mode: field.enum(SMOOTH_MODES, {
    description: "FastBlend's fast, balanced or accurate window, interpolate (keyframes → all frames), or ebsynth (per pair)",
    default: d.mode,
  }),
  window: count("frames each side that blend into a frame", d.window, ["window_size"]),
  offsets: field.numbers({
    description: "ebsynth: the neighbours t + d that blend into t (none: every d within ±window)",
    default: d.offsets, nullable: true, integer: true, aliases: ["smooth_index"],
  }),
  keyframe_interval: count("interpolate: every k-th frame is a keyframe (the rest are made from them)", d.keyframeInterval),
  batch: count("frame pairs matched per kernel launch", d.batch, ["batch_size"]),
  patch_size: field.number({ description: "patch side, odd", default: d.patchSize, integer: true, min: 1, max: 31, aliases: ["minimum_patch_size"] }),
  iterations: count("patch-match iterations per pyramid level", d.iterations, ["num_iter"]),
  guide_weight: field.number({ description: "weight of the guide against the style when matching", default: d.guideWeight, min: 0, max: 1000 }),
  contrast: factor("post-processing contrast (1 leaves it)", d.contrast),
  sharpness: factor("post-processing sharpness (1 leaves it)", d.sharpness),
  seed: key.seed(d.seed, "seeds the random search"),
  frames: count("length of the built-in flickering clip", d.frames),
  device: key.device(),
  input: key.optionalInput("video, y4m, PNG folder, or - for stdin (none: stdin if piped, else a built-in flickering clip)"),
  guide: field.string({ description: "a video to match patches by, frame for frame (none: the input itself)", default: null, nullable: true }),
  out: key.out("out/deflicker.mp4"),
});

export const deflicker = defineRecipe({
  recipe: "deflicker",
  description: "Deflickers a video with patch-match blending (FastBlend), guided by itself or another video.",
  schema,
  options: (c): DeflickerOptions => ({
    mode: c.mode, window: c.window, offsets: c.offsets, keyframeInterval: c.keyframe_interval, batch: c.batch,
    patchSize: c.patch_size, iterations: c.iterations, guideWeight: c.guide_weight,
    contrast: c.contrast, sharpness: c.sharpness, seed: c.seed, device: c.device,
  }),
});
