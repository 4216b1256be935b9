/** The command-line face of recipes/latent-blend.ts: keys (the latentblending API's, flattened), defaults, typed options. */
import { BLEND_DEFAULTS, type BlendOptions, type KeyframeInput, type LoadOptions, QUALITIES, UPSCALE_STAGE_DEFAULTS } from "../../latent-blending/index.ts";
import { defineRecipe } from "../run-recipe.ts";
import { defineSchema, field } from "../schema.ts";
import { DEFAULT_PROMPT, key } from "../vocabulary.ts";

const d = BLEND_DEFAULTS;
const unit = (description: string, value: number, aliases?: string[]) => field.number({ description, default: value, min: 0, max: 1, aliases });
const optional = <T>(make: (o: { description: string; default: null; nullable: true }) => T, description: string) =>
  make({ description, default: null, nullable: true });
const IMAGE = /\.(png|jpe?g|webp)$/i;

const schema = defineSchema({
  prompts: field.strings({ description: "keyframe prompts (or image paths), in order", default: [DEFAULT_PROMPT, "a quiet harbour at night, oil painting"], minItems: 2 }),
  negative_prompt: key.negative_prompt(d.negativePrompt),
  seed: key.seed(d.seed, "keyframe i uses seed + i"),
  seeds: field.numbers({ description: "one seed per keyframe instead", default: null, nullable: true, integer: true, min: 0 }),
  steps: key.steps(d.steps, "denoising steps", 2),
  scheduler: key.scheduler(d.scheduler),
  guidance: key.guidance(d.guidance, "keyframe guidance; ≤ 1 turns it off"),
  guidance_mid_damper: unit("guidance mid-transition = g·damper + 1", d.guidanceMidDamper, ["guidance_scale_mid_damper"]),
  depth_strength: unit("first injection ≈ depth × steps: low = inventive, high = alpha blend", d.depthStrength),
  tree: field.enum(["adaptive", "fixed"], { description: "branching tree", default: d.tree }),
  quality: optional((o) => field.enum(QUALITIES, o), "fixed tree preset (sets the steps)"),
  branching_injection: field.numbers({ description: "fixed tree: injection steps", default: null, nullable: true, integer: true, min: 0 }),
  branching_branches: field.numbers({ description: "fixed tree: images per block", default: null, nullable: true, integer: true, min: 2 }),
  max_branches: field.number({ description: "diffused images per transition", default: d.maxBranches, nullable: true, integer: true, min: 2 }),
  time_budget: field.number({ description: "seconds of compute per transition", default: null, nullable: true, min: 0 }),
  parental_crossfeed_power: unit("pull of each in-between toward its parents", d.parentalCrossfeed.power),
  parental_crossfeed_range: unit("share of steps the pull lasts", d.parentalCrossfeed.range),
  parental_crossfeed_decay: unit("pull at the end of the range, relative", d.parentalCrossfeed.decay),
  branch1_crossfeed_power: unit("pull of keyframe 2 toward keyframe 1", d.branch1Crossfeed.power),
  branch1_crossfeed_range: unit("share of steps that pull lasts", d.branch1Crossfeed.range),
  branch1_crossfeed_decay: unit("that pull at the end, relative", d.branch1Crossfeed.decay),
  image1: optional(field.string, "image for the first keyframe"),
  image2: optional(field.string, "image for the last keyframe"),
  image_strength: field.number({ description: "share of the schedule run on image keyframes", default: d.imageStrength, min: 0.01, max: 1 }),
  size: key.size(`${d.width}x${d.height}`, "frame size, width x height"),
  fps: field.number({ description: "frames per second", default: d.fps, integer: true, min: 1 }),
  duration: field.number({ description: "seconds per transition", default: d.duration, min: 0 }),
  perceptual_model: optional(field.string, "ONNX image-distance model (default: built-in SSIM)"),
  mask: optional(field.string, "inpainting mask picture: white = regenerate, black = keep (from the first keyframe)"),
  upscale: field.boolean({ description: "second stage: upscale the transition ×4 with an x4 upscaler" }),
  upscale_model: field.string({ description: "`tiny-upscaler` or an SD x4 upscaler export folder", default: "tiny-upscaler" }),
  upscale_steps: field.number({ description: "upscaler denoising steps", default: UPSCALE_STAGE_DEFAULTS.steps, integer: true, min: 2, max: 1000 }),
  upscale_noise_level: field.number({ description: "noise augmentation of the low-res pictures", default: UPSCALE_STAGE_DEFAULTS.noiseLevel, integer: true, min: 0, max: 350 }),
  model: key.model("tiny"),
  device: key.device(),
  out: key.out("out/latent-blend.mp4"),
});

export const latentBlend = defineRecipe({
  recipe: "latent-blend",
  description: "Smooth transition videos between prompts.",
  schema,
  options: (c) => {
    // A prompt that is an image path is an image keyframe; --image1/--image2 give the ends a picture.
    const keyframes: KeyframeInput[] = c.prompts.map((p) => (IMAGE.test(p) ? { image: p } : p));
    const withImage = (i: number, image: string | null) => {
      const k = keyframes[i]!;
      if (image) keyframes[i] = { prompt: typeof k === "string" ? k : "", image };
    };
    withImage(0, c.image1);
    withImage(keyframes.length - 1, c.image2);
    const load: LoadOptions = { model: c.model, device: c.device, perceptualModel: c.perceptual_model, upscaler: c.upscale ? c.upscale_model : null };
    const transition: BlendOptions = {
      seed: c.seed,
      seeds: c.seeds,
      negativePrompt: c.negative_prompt,
      steps: c.steps,
      scheduler: c.scheduler,
      guidance: c.guidance,
      guidanceMidDamper: c.guidance_mid_damper,
      depthStrength: c.depth_strength,
      tree: c.tree,
      quality: c.quality,
      branching: c.branching_injection && c.branching_branches ? { injection: c.branching_injection, branches: c.branching_branches } : null,
      maxBranches: c.max_branches,
      timeBudget: c.time_budget,
      parentalCrossfeed: { power: c.parental_crossfeed_power, range: c.parental_crossfeed_range, decay: c.parental_crossfeed_decay },
      branch1Crossfeed: { power: c.branch1_crossfeed_power, range: c.branch1_crossfeed_range, decay: c.branch1_crossfeed_decay },
      imageStrength: c.image_strength,
      ...c.size,
      fps: c.fps,
      duration: c.duration,
      mask: c.mask,
      upscale: c.upscale ? { steps: c.upscale_steps, noiseLevel: c.upscale_noise_level, guidance: c.guidance, scheduler: c.scheduler } : null,
    };
    return { keyframes, load, transition };
  },
});
