/**
 * Smooth transition videos between prompts: a branching diffusion tree (latent blending).
 *
 *   bun run recipes/latent-blend.ts                                    # tiny model → out/latent-blend.mp4
 *   bun run recipes/latent-blend.ts --prompts "a forest" --prompts "a desert" --prompts "the sea"
 *   bun run recipes/latent-blend.ts --image1 start.png --out - | ffplay -
 *   bun run recipes/latent-blend.ts --mask keep-left.png            # inpainting: black region stays
 *   bun run recipes/latent-blend.ts --size 64x64 --upscale          # ×4 second stage → 256×256
 *
 * A prompt that is a path ending in .png/.jpg/.jpeg/.webp is an image keyframe (its text is empty).
 */
import { defineSchema, field, runRecipe } from "../pipelines/cli/index.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { createProgress } from "../pipelines/io/progress.ts";
import { LatentBlending, QUALITIES, type KeyframeInput } from "../pipelines/latent-blending/index.ts";
import { SCHEDULER_KINDS } from "../pipelines/sd/schedulers/index.ts";

const unit = (description: string, d: number) => field.number({ description, default: d, min: 0, max: 1 });
const schema = defineSchema({
  prompts: field.strings({ description: "keyframe prompts (or image paths), in order", default: ["a lighthouse on a cliff at sunset, oil painting", "a quiet harbour at night, oil painting"], minItems: 2 }),
  negative_prompt: field.string({ description: "what to steer away from (used when guidance > 1)", default: "" }),
  seed: field.number({ description: "keyframe i uses seed + i", default: 0, integer: true, min: 0 }),
  seeds: field.numbers({ description: "one seed per keyframe instead", default: null, nullable: true, integer: true, min: 0 }),
  num_inference_steps: field.number({ description: "denoising steps", default: 12, integer: true, min: 2, max: 1000 }),
  scheduler: field.enum(SCHEDULER_KINDS, { description: "sampler", default: "ddim" }),
  guidance_scale: field.number({ description: "keyframe guidance; ≤ 1 turns it off", default: 4, min: 0, max: 100 }),
  guidance_scale_mid_damper: unit("guidance mid-transition = g·damper + 1", 0.5),
  depth_strength: unit("first injection ≈ depth × steps: low = inventive, high = alpha blend", 0.5),
  tree: field.enum(["adaptive", "fixed"], { description: "branching tree", default: "adaptive" }),
  quality: field.enum(QUALITIES, { description: "fixed tree preset (sets the steps)", default: null, nullable: true }),
  branching_injection: field.numbers({ description: "fixed tree: injection steps", default: null, nullable: true, integer: true, min: 0 }),
  branching_branches: field.numbers({ description: "fixed tree: images per block", default: null, nullable: true, integer: true, min: 2 }),
  max_branches: field.number({ description: "diffused images per transition", default: 12, nullable: true, integer: true, min: 2 }),
  time_budget: field.number({ description: "seconds of compute per transition", default: null, nullable: true, min: 0 }),
  parental_crossfeed_power: unit("pull of each in-between toward its parents", 0.3),
  parental_crossfeed_range: unit("share of steps the pull lasts", 0.6),
  parental_crossfeed_decay: unit("pull at the end of the range, relative", 0.9),
  branch1_crossfeed_power: unit("pull of keyframe 2 toward keyframe 1", 0),
  branch1_crossfeed_range: unit("share of steps that pull lasts", 0),
  branch1_crossfeed_decay: unit("that pull at the end, relative", 0),
  image1: field.string({ description: "image for the first keyframe", default: null, nullable: true }),
  image2: field.string({ description: "image for the last keyframe", default: null, nullable: true }),
  image_strength: field.number({ description: "share of the schedule run on image keyframes", default: 0.7, min: 0.01, max: 1 }),
  size: field.size({ description: "frame size, width x height", default: "256x256", step: 8 }),
  fps: field.number({ description: "frames per second", default: 24, integer: true, min: 1 }),
  duration: field.number({ description: "seconds per transition", default: 3, min: 0 }),
  perceptual_model: field.string({ description: "ONNX image-distance model (default: built-in SSIM)", default: null, nullable: true }),
  mask: field.string({ description: "inpainting mask picture: white = regenerate, black = keep (from the first keyframe)", default: null, nullable: true }),
  upscale: field.boolean({ description: "second stage: upscale the transition ×4 with an x4 upscaler", default: false }),
  upscale_model: field.string({ description: "`tiny-upscaler` or an SD x4 upscaler export folder", default: "tiny-upscaler" }),
  upscale_steps: field.number({ description: "upscaler denoising steps", default: 12, integer: true, min: 2, max: 1000 }),
  upscale_noise_level: field.number({ description: "noise augmentation of the low-res pictures", default: 20, integer: true, min: 0, max: 350 }),
  model: field.string({ description: "`tiny` (built in, untrained) or a Stable Diffusion ONNX export folder", default: "tiny" }),
  device: field.string({ description: "cpu, cuda, cuda:N or auto", default: "cpu" }),
  out: field.string({ description: "file (.mp4 .y4m …), folder/, or - for y4m on stdout", default: "out/latent-blend.mp4" }),
});

const IMAGE = /\.(png|jpe?g|webp)$/i;

await runRecipe({ recipe: "latent-blend", schema, description: "Smooth transition videos between prompts." }, async ({ config: c, log, quiet, interrupted }) => {
  // Keyframes: prompts, image paths among them, and --image1/--image2 on the ends.
  const keys: KeyframeInput[] = c.prompts.map((p) => (IMAGE.test(p) ? { image: p } : p));
  const last = keys.length - 1;
  if (c.image1) keys[0] = { prompt: typeof keys[0] === "string" ? keys[0] : "", image: c.image1 };
  if (c.image2) keys[last] = { prompt: typeof keys[last] === "string" ? keys[last] : "", image: c.image2 };

  using lb = await LatentBlending.load({ model: c.model, device: c.device, log, perceptualModel: c.perceptual_model, upscaler: c.upscale ? c.upscale_model : null });
  const options = {
    seed: c.seed,
    seeds: c.seeds,
    negativePrompt: c.negative_prompt,
    steps: c.num_inference_steps,
    scheduler: c.scheduler,
    guidance: c.guidance_scale,
    guidanceMidDamper: c.guidance_scale_mid_damper,
    depthStrength: c.depth_strength,
    tree: c.tree,
    quality: c.quality,
    branching: c.branching_injection && c.branching_branches ? { injection: c.branching_injection, branches: c.branching_branches } : null,
    maxBranches: c.max_branches,
    timeBudget: c.time_budget,
    parentalCrossfeed: { power: c.parental_crossfeed_power, range: c.parental_crossfeed_range, decay: c.parental_crossfeed_decay },
    branch1Crossfeed: { power: c.branch1_crossfeed_power, range: c.branch1_crossfeed_range, decay: c.branch1_crossfeed_decay },
    imageStrength: c.image_strength,
    width: c.size.width,
    height: c.size.height,
    fps: c.fps,
    duration: c.duration,
    mask: c.mask,
    upscale: c.upscale ? { steps: c.upscale_steps, noiseLevel: c.upscale_noise_level, guidance: c.guidance_scale, scheduler: c.scheduler } : null,
  };
  log(`latent-blend: ${c.model} on ${lb.sd.backend.description}, ${keys.length} keyframes, ${c.tree} tree, ${c.num_inference_steps} ${c.scheduler} steps at ${c.size.width}x${c.size.height}, distance ${lb.distance.name}`);

  await using out = openFrameSink(c.out, lb.meta(options));
  const steps = createProgress({ label: "latent-blend steps", quiet });
  let frames = 0;
  const transition = lb.transition(keys, {
    ...options,
    onStep: () => steps.tick(),
    onTransition: (i, t) => log(`transition ${i + 1}: ${t.images.length} diffused images at fractions ${t.fractions.map((f) => +f.toFixed(3)).join(" ")}`),
  });
  for await (const frame of transition) {
    if (interrupted()) break;
    await out.write(frame);
    frames++;
  }
  steps.done();
  const s = lb.stats;
  log(`${frames} frames; ${s.keyframes} keyframes, ${s.inbetweens} in-betweens, ${s.unetCalls} UNet steps, ${s.vaeDecodes} decodes`);
  if (c.out !== "-") log(`wrote ${c.out}`);
});
