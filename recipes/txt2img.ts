/**
 * Images from a prompt. Several `--images` use consecutive seeds.
 *
 *   bun run recipes/txt2img.ts --prompt "a red fox in the snow" --seed 7 --out fox.png
 *   bun run recipes/txt2img.ts --images 4 --out out/frames/     # a folder of PNGs
 */
import { runRecipe } from "../pipelines/cli/index.ts";
import { txt2img } from "../pipelines/cli/recipes/txt2img.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { StableDiffusion } from "../pipelines/sd/stable-diffusion.ts";

await runRecipe(txt2img, async ({ config, options, output, log, progress, interrupted }) => {
  const { width, height } = config.size;
  using sd = await StableDiffusion.load(config.model, { device: config.device, log });
  const { model, steps, scheduler } = config;
  log(`txt2img: ${model} on ${sd.backend.description}, ${steps} ${scheduler} steps at ${width}x${height}`);

  await using out = openFrameSink(config.out, { width, height, fps: { num: 1, den: 1 } }, output);
  const bar = progress({ total: config.steps * config.images, label: "txt2img" });
  for (let i = 0; i < config.images && !interrupted(); i++) {
    await out.write(sd.generate({ ...options, seed: config.seed + i, onStep: () => bar.tick() }));
  }
  bar.done();
  if (config.out !== "-") log(`wrote ${config.out}`);
});
