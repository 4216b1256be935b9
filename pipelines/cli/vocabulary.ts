/**
 * One name per idea, in every recipe: `steps`, not `num_inference_steps` in one and `steps` in
 * another. Each key is a field maker with the shared description and aliases; a recipe passes
 * only its default (taken from the job's own defaults object, so a number lives in one place):
 *
 *   const schema = defineSchema({ steps: key.steps(BLEND_DEFAULTS.steps), prompt: key.prompt("a fox") });
 *
 * Aliases are the seed projects' spellings, accepted in YAML and as flags and listed by --help.
 */
import { SCHEDULER_KINDS, type SchedulerKind } from "../sd/schedulers/index.ts";
import { field } from "./schema.ts";

const OUT_FORMS = "file (.mp4 .y4m .png …), folder/, or - for y4m on stdout";

export const key = {
  prompt: (d: string, description = "what to draw") => field.string({ description, default: d }),
  negative_prompt: (d: string) =>
    field.string({ description: "what to steer away from (used when guidance > 1)", default: d, aliases: ["negative"] }),
  steps: (d: number, description = "denoising steps", min = 1) =>
    field.number({ description, default: d, integer: true, min, max: 1000, aliases: ["num_inference_steps", "ddim_steps"] }),
  guidance: (d: number, description = "classifier-free guidance scale; ≤ 1 turns it off") =>
    field.number({ description, default: d, min: 0, max: 100, aliases: ["guidance_scale", "cfg_scale"] }),
  seed: (d: number, description = "noise seed (the same seed gives the same bytes)") =>
    field.number({ description, default: d, integer: true, min: 0 }),
  size: (d: string, description = "image size, width x height") => field.size({ description, default: d, step: 8 }),
  /** A size that may be null: then the input's. */
  sizeOrInput: (d: string | null) =>
    field.size({ description: "generation size WxH (none: the input's)", default: d, nullable: true, step: 8 }),
  scheduler: (d: SchedulerKind) => field.enum(SCHEDULER_KINDS, { description: "sampler", default: d }),
  model: (d: string) =>
    field.string({ description: "a built-in `tiny*` model (untrained) or a Stable Diffusion ONNX export folder", default: d }),
  device: () => field.string({ description: "cpu, cuda, cuda:N or auto", default: "cpu" }),
  out: (d: string) => field.string({ description: OUT_FORMS, default: d, aliases: ["output"] }),
  input: (d: string, description: string) => field.string({ description, default: d, aliases: ["video"] }),
  /** An input that may be absent (none: the recipe's own source, such as stdin or a built-in clip). */
  optionalInput: (description: string) => field.string({ description, default: null, nullable: true, aliases: ["video"] }),
};

/** The picture every recipe draws until told otherwise. */
export const DEFAULT_PROMPT = "a lighthouse on a cliff at sunset, oil painting";

/** The keys every Stable Diffusion recipe shares; defaults come from the caller (a job's defaults object). */
export const diffusionKeys = (d: {
  prompt: string;
  negativePrompt: string;
  steps: number;
  guidance: number;
  seed: number;
  width: number;
  height: number;
  scheduler: SchedulerKind;
  model: string;
}) => ({
  prompt: key.prompt(d.prompt),
  negative_prompt: key.negative_prompt(d.negativePrompt),
  steps: key.steps(d.steps),
  guidance: key.guidance(d.guidance),
  seed: key.seed(d.seed),
  size: key.size(`${d.width}x${d.height}`),
  scheduler: key.scheduler(d.scheduler),
  model: key.model(d.model),
  device: key.device(),
});
