/**
 * Images from a prompt. Several `--images` use consecutive seeds.
 *
 *   bun run recipes/txt2img.ts --prompt "a red fox in the snow" --seed 7 --out fox.png
 *   bun run recipes/txt2img.ts --images 4 --out out/frames/     # a folder of PNGs
 */
import { defineSchema, field, runRecipe } from "../pipelines/cli/index.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { createProgress } from "../pipelines/io/progress.ts";
import { diffusionFields } from "../pipelines/sd/cli-fields.ts";
import { StableDiffusion } from "../pipelines/sd/stable-diffusion.ts";

const schema = defineSchema({
  ...diffusionFields,
  images: field.number({ description: "how many images (seeds seed, seed+1, …)", default: 1, integer: true, min: 1 }),
  out: field.string({ description: "file (.png .y4m .mp4 …), folder/, or - for y4m on stdout", default: "out/txt2img.png" }),
});

await runRecipe({ recipe: "txt2img", schema, description: "Images from a prompt." }, async ({ config, log, quiet, interrupted }) => {
  const { width, height } = config.size;
  using sd = await StableDiffusion.load(config.model, { device: config.device, log });
  log(`txt2img: ${config.model} on ${sd.backend.description}, ${config.steps} ${config.scheduler} steps at ${width}x${height}`);

  await using out = openFrameSink(config.out, { width, height, fps: { num: 1, den: 1 } });
  const progress = createProgress({ total: config.steps * config.images, label: "txt2img", quiet });
  for (let i = 0; i < config.images && !interrupted(); i++) {
    const frame = sd.generate({
      prompt: config.prompt,
      negativePrompt: config.negative_prompt,
      steps: config.steps,
      guidance: config.guidance,
      seed: config.seed + i,
      width,
      height,
      scheduler: config.scheduler,
      onStep: () => progress.tick(),
    });
    await out.write(frame);
  }
  progress.done();
  if (config.out !== "-") log(`wrote ${config.out}`);
});
