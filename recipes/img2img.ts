/**
 * Repaints pictures after a prompt: one image, a folder, a video, or frames on stdin, each frame
 * in turn with the same seed (so a still scene stays still).
 *
 *   bun run recipes/img2img.ts --input photo.png --prompt "a watercolour" --strength 0.5 --out paint.png
 *   ffmpeg -i in.mp4 -f yuv4mpegpipe - | bun run recipes/img2img.ts --input - --out - | ffmpeg -i - out.mp4
 */
import { runRecipe } from "../pipelines/cli/index.ts";
import { img2img } from "../pipelines/cli/recipes/txt2img.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { openFrameSource } from "../pipelines/io/frame-source.ts";
import { StableDiffusion } from "../pipelines/sd/stable-diffusion.ts";

await runRecipe(img2img, async ({ config, options, output, log, progress, interrupted }) => {
  const source = await openFrameSource(config.input);
  using sd = await StableDiffusion.load(config.model, { device: config.device, log });
  const { width, height } = source.meta;
  log(`img2img: ${config.model} on ${sd.backend.description}, strength ${config.strength}, ${width}x${height}`);

  await using out = openFrameSink(config.out, source.meta, output);
  const bar = progress({ label: "img2img frames" });
  for await (const image of source.frames) {
    if (interrupted()) break;
    await out.write(sd.generate({ ...options, image }));
    bar.tick();
  }
  bar.done();
  if (config.out !== "-") log(`wrote ${config.out}`);
});
