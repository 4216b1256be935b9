/**
 * Repaints pictures after a prompt: one image, a folder, a video, or frames on stdin, each frame
 * in turn with the same seed (so a still scene stays still).
 *
 *   bun run recipes/img2img.ts --input photo.png --prompt "a watercolour" --strength 0.5 --out paint.png
 *   ffmpeg -i in.mp4 -f yuv4mpegpipe - | bun run recipes/img2img.ts --input - --out - | ffmpeg -i - out.mp4
 */
import { defineSchema, field, runRecipe } from "../pipelines/cli/index.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { openFrameSource } from "../pipelines/io/frame-source.ts";
import { createProgress } from "../pipelines/io/progress.ts";
import { diffusionFields } from "../pipelines/sd/cli-fields.ts";
import { StableDiffusion } from "../pipelines/sd/stable-diffusion.ts";

const { size: _keptFromInput, ...fields } = diffusionFields;
const schema = defineSchema({
  ...fields,
  input: field.string({ description: "image, PNG folder, video file, or - for frames on stdin (y4m/ppm)", default: "-" }),
  strength: field.number({ description: "how much of the schedule runs on the input (0 keeps it, 1 ignores it)", default: 0.6, min: 0.01, max: 1 }),
  out: field.string({ description: "file (.png .y4m .mp4 …), folder/, or - for y4m on stdout", default: "out/img2img.png" }),
});

await runRecipe({ recipe: "img2img", schema, description: "Repaints images or video frames after a prompt." }, async ({ config, log, quiet, interrupted }) => {
  const source = await openFrameSource(config.input);
  using sd = await StableDiffusion.load(config.model, { device: config.device, log });
  log(`img2img: ${config.model} on ${sd.backend.description}, strength ${config.strength}, ${source.meta.width}x${source.meta.height}`);

  await using out = openFrameSink(config.out, source.meta);
  const progress = createProgress({ label: "img2img frames", quiet });
  for await (const image of source.frames) {
    if (interrupted()) break;
    const frame = sd.generate({
      prompt: config.prompt,
      negativePrompt: config.negative_prompt,
      steps: config.steps,
      guidance: config.guidance,
      seed: config.seed,
      scheduler: config.scheduler,
      image,
      strength: config.strength,
    });
    await out.write(frame);
    progress.tick();
  }
  progress.done();
  if (config.out !== "-") log(`wrote ${config.out}`);
});
