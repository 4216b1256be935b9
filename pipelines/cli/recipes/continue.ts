/**
 * The command-line face of recipes/continue.ts: ContinuitySeq's settings under the shared
 * vocabulary, with the reference's spellings (num_frames, min/max_conditioning_n_sample_frames,
 * model_2d, init_image, image_guidance_scale) as aliases.
 */
import { CONTINUE_DEFAULTS, type ContinueOptions } from "../../continuation/index.ts";
import { checkpointBeside } from "../resume.ts";
import { defineRecipe } from "../run-recipe.ts";
import { defineSchema, field } from "../schema.ts";
import { DEFAULT_PROMPT, key } from "../vocabulary.ts";

const d = CONTINUE_DEFAULTS;
const count = (description: string, value: number, aliases: string[] = [], min = 1, max = 10_000) =>
  field.number({ description, default: value, integer: true, min, max, aliases });

const schema = defineSchema({
  prompt: key.prompt(DEFAULT_PROMPT, "what the video shows"),
  prompts: field.strings({ description: "one prompt per clip instead (the last one repeats)", default: null, nullable: true, minItems: 1 }),
  negative_prompt: key.negative_prompt(d.negativePrompt),
  seed: key.seed(d.seed, "noise seed; also draws each clip's conditioning count"),
  steps: key.steps(d.steps, "DDIM steps per clip"),
  guidance: key.guidance(d.guidance),
  frames: count("new frames per clip", d.frames, ["num_frames"], 1, 1024),
  times: count("clips, each continuing the last", d.times, [], 1, 1_000_000),
  min_conditioning_frames: count("fewest frames a clip hands on to the next (k = random in [min, max])", d.minConditioningFrames, ["min_conditioning_n_sample_frames"], 0),
  max_conditioning_frames: count("most frames a clip hands on (at most --frames)", d.maxConditioningFrames, ["max_conditioning_n_sample_frames"], 0),
  size: field.size({
    description: `size of the txt2img start, WxH (none: ${d.width}x${d.height}; an input video or image sets its own)`,
    default: null, nullable: true, step: 8,
  }),
  image: field.string({ description: "continue this picture (PNG, or the first frame of any input)", default: null, nullable: true, aliases: ["init_image"] }),
  input: key.optionalInput("continue this video (file, y4m, PNG folder, or - for stdin); none: stdin if piped, else --image, else txt2img"),
  image_model: field.string({ description: "2-D model for the start image when there is no input", default: d.imageModel, aliases: ["model_2d"] }),
  image_steps: count("steps of that txt2img", d.imageSteps),
  image_guidance: field.number({ description: "guidance of that txt2img", default: d.imageGuidance, min: 0, max: 100, aliases: ["image_guidance_scale"] }),
  contrast: field.number({ description: "post-processing: Pillow's contrast factor on every frame (1 leaves it)", default: d.contrast, min: 0, max: 10 }),
  clahe: field.number({ description: "post-processing: CLAHE clip limit per channel, one tile (the reference's 1.2; none: off)", default: d.clahe, nullable: true, min: 0, max: 256 }),
  normalize: field.boolean({ description: "post-processing: level and spread of each clip pulled to the mean over the clips so far (the reference's step 6, streamed)", default: d.normalize }),
  fps: count("frames per second of the output", d.fps, [], 1, 240),
  checkpoint: field.string({ description: "save the carried latents after each clip here (none: beside --out as OUT.continue-state; never with --out -)", default: null, nullable: true }),
  resume: field.boolean({ description: "continue a stopped run from its checkpoint: the remaining clips, as the whole run makes them", default: false }),
  model: field.string({ description: "`tiny-continuation` (built-in, untrained) or a ContinuitySeq export folder (docs/continuation.md)", default: d.model }),
  device: key.device(),
  out: key.out("out/continue.mp4"),
});

export const continueSpec = defineRecipe({
  recipe: "continue",
  description: "Continues a video, an image or a txt2img start clip after clip, each conditioned on the last frames (ContinuitySeq).",
  schema,
  options: (c): ContinueOptions => ({
    prompt: c.prompt, prompts: c.prompts, negativePrompt: c.negative_prompt, seed: c.seed, steps: c.steps, guidance: c.guidance,
    frames: c.frames, times: c.times, minConditioningFrames: c.min_conditioning_frames, maxConditioningFrames: c.max_conditioning_frames,
    contrast: c.contrast, clahe: c.clahe, normalize: c.normalize, checkpoint: checkpointBeside(c, "continue-state"), resume: c.resume,
  }),
});
