/**
 * The command-line face of recipes/stylize.ts: DiffSynth's config keys (the seed's JSON templates)
 * under the shared vocabulary, defaults from the job (STYLIZE_DEFAULTS), typed options. Images
 * named by path (frames_reference, style_image) are read by the recipe.
 */
import { UsageError } from "../../errors.ts";
import { CONTROL_PROCESSORS, type ControlEntry, STYLIZE_CLIP, STYLIZE_DEFAULTS, type StylizeOptions } from "../../stylize/diffsynth/index.ts";
import { defineRecipe } from "../run-recipe.ts";
import { defineSchema, field, type InferConfig } from "../schema.ts";
import { key } from "../vocabulary.ts";

const d = STYLIZE_DEFAULTS, m = STYLIZE_DEFAULTS.smoothing;
// interpolate needs keyframes, which the in-loop smoother has none of
const IN_LOOP_MODES = ["fast", "balanced", "accurate", "ebsynth"] as const;
const count = (description: string, value: number, min = 1, aliases: string[] = []) =>
  field.number({ description, default: value, integer: true, min, max: 100_000, aliases });
const factor = (description: string, value: number) => field.number({ description, default: value, min: 0, max: 10 });

/** "-1, 0, 1" or "[-10000, reference_0, 0]" → its entries (the job checks them). */
export function patternEntries(text: string): string[] {
  return text.replace(/^\s*\[|\]\s*$/g, "").split(/[\s,]+/).filter(Boolean);
}

const schema = defineSchema({
  prompt: key.prompt(d.prompt, "what every frame should look like"),
  negative_prompt: key.negative_prompt(d.negativePrompt),
  seed: key.seed(d.seed, "seeds the ONE noise every frame starts from (seed_of_noise)"),
  steps: key.steps(d.steps, "DDIM steps"),
  guidance: key.guidance(d.guidance),
  strength: field.number({ description: "img2img strength: 1 = from the shared noise alone, less = from the noised input", default: d.strength, min: 0.01, max: 1, aliases: ["img2img_strength"] }),
  size: key.sizeOrInput(null),
  frame_interval: count("keep every k-th input frame", d.frameInterval),
  frame_maximum_count: field.number({ description: "frames kept after subsampling (none: all)", default: d.frameMaximumCount, nullable: true, integer: true, min: 1 }),
  chunk: count("frames denoised together; memory is bounded by it, not by the video", d.chunk),
  chunk_carry: field.boolean({ description: "each chunk sees the previous chunk's last frame (attention, smoother): no seams", default: d.chunkCarry }),
  combine_pattern: field.string({
    description: "frames each frame attends over: offsets (clamped to the chunk) and reference_k, must hold 0, e.g. \"-1, 0, 1\"",
    default: d.combinePattern.join(", "),
  }),
  frames_reference: field.strings({ description: "images addressable as reference_k in combine_pattern", default: [] }),
  controlnet_processor: field.strings({ description: "one ControlNet condition per entry", default: d.controls.map((c) => c.processor), choices: CONTROL_PROCESSORS }),
  controlnet_scale: field.numbers({ description: "residual scale per entry of controlnet_processor (0 = inert)", default: d.controls.map((c) => c.scale), min: 0, max: 10 }),
  controlnet_model: field.strings({ description: "ControlNet ONNX file per entry (none: the model folder's controlnet/)", default: [], aliases: ["controlnet_model_id"] }),
  style_image: field.string({ description: "the shuffle processor's picture", default: null, nullable: true }),
  depth_model: field.string({ description: "ONNX depth model for controlnet_processor depth", default: d.depthModel, nullable: true }),
  smoother: field.boolean({ description: "in-loop deflicker: x̂0 → decode → patch-match smoother (guide = input) → encode", default: d.smoother }),
  smoother_interval: count("smooth at steps where step % interval = 0", d.smootherInterval),
  ignore_smoother_steps: count("no smoothing in the last k steps", d.ignoreSmootherSteps, 0),
  post_smoother: field.boolean({ description: "smooth the decoded output once more", default: d.postSmoother }),
  smoother_mode: field.enum(IN_LOOP_MODES, { description: "FastBlend mode of the smoother (fast, balanced, accurate) or ebsynth", default: m.mode as (typeof IN_LOOP_MODES)[number] }),
  smoother_window: count("smoother frames each side (past the chunk: the whole chunk)", m.window, 1, ["window_size"]),
  contrast: factor("post-processing contrast after each smoothing (1 leaves it)", m.contrast),
  sharpness: factor("post-processing sharpness after each smoothing (1 leaves it)", m.sharpness),
  patch_size: field.number({ description: "smoother patch side, odd", default: m.patchSize, integer: true, min: 1, max: 31 }),
  iterations: count("patch-match iterations per pyramid level", m.iterations, 1, ["num_iter"]),
  guide_weight: field.number({ description: "weight of the guide (input video) against the style when matching", default: m.guideWeight, min: 0, max: 1000 }),
  frames: count("length of the built-in flickering clip", STYLIZE_CLIP.frames),
  model: key.model("tiny-controlnet"),
  device: key.device(),
  input: key.optionalInput("video, y4m, PNG folder, or - for stdin (none: stdin if piped, else a built-in flickering clip)"),
  out: key.out("out/stylize.mp4"),
});

type Config = InferConfig<typeof schema>;

/** Everything but the images, which the recipe reads from the paths in the config. */
export type StylizeCliOptions = Omit<StylizeOptions, "references" | "styleImage" | "onStart" | "onStep">;

function controls(c: Config): ControlEntry[] {
  const n = c.controlnet_processor.length;
  if (c.controlnet_scale.length !== n) {
    throw new UsageError(`controlnet_scale has ${c.controlnet_scale.length} entries but controlnet_processor has ${n}: give one scale per processor`);
  }
  if (c.controlnet_model.length !== 0 && c.controlnet_model.length !== n) {
    throw new UsageError(`controlnet_model has ${c.controlnet_model.length} entries but controlnet_processor has ${n}: give one per processor, or none`);
  }
  return c.controlnet_processor.map((processor, k) => ({ processor, scale: c.controlnet_scale[k]!, model: c.controlnet_model[k] ?? null }));
}

export const stylize = defineRecipe({
  recipe: "stylize",
  description: "Video stylisation (DiffSynth): cross-frame attention, one shared noise and an in-loop patch-match deflicker.",
  schema,
  options: (c): StylizeCliOptions => ({
    prompt: c.prompt, negativePrompt: c.negative_prompt, seed: c.seed, steps: c.steps, guidance: c.guidance, strength: c.strength,
    size: c.size, frameInterval: c.frame_interval, frameMaximumCount: c.frame_maximum_count, chunk: c.chunk, chunkCarry: c.chunk_carry,
    combinePattern: patternEntries(c.combine_pattern), controls: controls(c), depthModel: c.depth_model,
    smoother: c.smoother, smootherInterval: c.smoother_interval, ignoreSmootherSteps: c.ignore_smoother_steps, postSmoother: c.post_smoother,
    smoothing: {
      mode: c.smoother_mode, window: c.smoother_window, contrast: c.contrast, sharpness: c.sharpness,
      patchSize: c.patch_size, iterations: c.iterations, guideWeight: c.guide_weight,
    },
  }),
});

