/** The command-line face of recipes/txt2img.ts and img2img.ts: keys, defaults and typed options. */
import { GENERATE_DEFAULTS, type GenerateOptions } from "../../sd/stable-diffusion.ts";
import { defineRecipe } from "../run-recipe.ts";
import { defineSchema, field, type InferConfig } from "../schema.ts";
import { DEFAULT_PROMPT, diffusionKeys, key } from "../vocabulary.ts";

const shared = diffusionKeys({ ...GENERATE_DEFAULTS, prompt: DEFAULT_PROMPT, model: "tiny" });

/** What `sd.generate` takes from the config (the seed and the picture are the recipe's). */
function generateOptions(c: InferConfig<Pick<typeof shared, Exclude<keyof typeof shared, "size">>>): GenerateOptions {
  return { prompt: c.prompt, negativePrompt: c.negative_prompt, steps: c.steps, guidance: c.guidance, seed: c.seed, scheduler: c.scheduler };
}

export const txt2img = defineRecipe({
  recipe: "txt2img",
  description: "Images from a prompt.",
  schema: defineSchema({
    ...shared,
    images: field.number({ description: "how many images (seeds seed, seed+1, …)", default: 1, integer: true, min: 1 }),
    out: key.out("out/txt2img.png"),
  }),
  options: (c) => ({ ...generateOptions(c), ...c.size }),
});

const { size: _keptFromInput, ...img2imgShared } = shared;
export const img2img = defineRecipe({
  recipe: "img2img",
  description: "Repaints images or video frames after a prompt.",
  schema: defineSchema({
    ...img2imgShared,
    input: key.input("-", "image, PNG folder, video file, or - for frames on stdin (y4m/ppm)"),
    strength: field.number({
      description: "how much of the schedule runs on the input (0 keeps it, 1 ignores it)",
      default: GENERATE_DEFAULTS.strength,
      min: 0.01,
      max: 1,
    }),
    out: key.out("out/img2img.png"),
  }),
  options: (c): GenerateOptions => ({ ...generateOptions(c), strength: c.strength }),
});
