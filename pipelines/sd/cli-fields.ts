import { field } from "../cli/index.ts";
import { SCHEDULER_KINDS } from "./schedulers/index.ts";

/** Config keys every diffusion recipe shares; recipes spread them into their own schema. */
export const diffusionFields = {
  prompt: field.string({ description: "what to draw", default: "a lighthouse on a cliff at sunset, oil painting" }),
  negative_prompt: field.string({ description: "what to steer away from (used when guidance > 1)", default: "" }),
  steps: field.number({ description: "denoising steps", default: 8, integer: true, min: 1, max: 1000 }),
  guidance: field.number({ description: "classifier-free guidance scale; ≤ 1 turns it off", default: 7.5, min: 0, max: 100 }),
  seed: field.number({ description: "noise seed (the same seed gives the same bytes)", default: 0, integer: true, min: 0 }),
  size: field.size({ description: "image size, width x height", default: "256x256", step: 8 }),
  scheduler: field.enum(SCHEDULER_KINDS, { description: "sampler", default: "ddim" }),
  model: field.string({ description: "`tiny` (built in, untrained) or a Stable Diffusion ONNX export folder", default: "tiny" }),
  device: field.string({ description: "cpu, cuda, cuda:N or auto", default: "cpu" }),
};
