/**
 * Video stylisation (DiffSynth): every frame is denoised from ONE shared noise, its self-attention
 * sees its neighbours' keys and values (combine_pattern), and at chosen steps the predicted clean
 * frames are deflickered by patch-match blending guided by the input video.
 *
 *   bun run recipes/stylize.ts                                  # built-in flickering clip → out/stylize.mp4
 *   bun run recipes/stylize.ts --input in.mp4 --prompt "an ink drawing" --combine-pattern "-10000, -1, 0, 1"
 *   ffmpeg -i in.mp4 -f yuv4mpegpipe - | bun run recipes/stylize.ts --out - | ffmpeg -i - out.mp4
 *
 * With no --input, frames come from stdin when it is a pipe or a file, else from a built-in clip.
 * Keys and defaults: pipelines/cli/recipes/stylize.ts (and `--help`). Method: docs/diffsynth.md.
 */
import { runRecipe } from "../pipelines/cli/index.ts";
import { stylize } from "../pipelines/cli/recipes/stylize.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { openFrameSource, readImage, stdinHasFrames } from "../pipelines/io/frame-source.ts";
import { DiffSynth, smootherSteps, STYLIZE_CLIP } from "../pipelines/stylize/diffsynth/index.ts";
import { flickerClip, flickerClipMeta } from "../pipelines/stylize/index.ts";

const MiB = (bytes: number) => (bytes / 2 ** 20).toFixed(2);

await runRecipe(stylize, async ({ config: c, options, output, log, progress, interrupted }) => {
  const input = c.input ?? (stdinHasFrames() ? "-" : null);
  const clip = { ...STYLIZE_CLIP, frames: c.frames };
  const video = input === null
    ? { meta: flickerClipMeta(clip), frames: flickerClip(clip) }
    : await openFrameSource(input);
  if (input === null) log(`no input: a built-in ${c.frames}-frame flickering clip, ${clip.width}x${clip.height}`);
  const references = await Promise.all(c.frames_reference.map((path) => readImage(path)));
  const styleImage = c.style_image === null ? null : await readImage(c.style_image);

  using job = await DiffSynth.load({ model: c.model, device: c.device, log });
  const settings = { ...options, references, styleImage };
  job.check(settings); // a bad pattern or schedule fails before the output is opened
  const size = job.size(video.meta, c.size);
  const steps = job.scheduler(c.steps, c.strength).timesteps.length;
  const smoothed = c.smoother ? smootherSteps(steps, c.smoother_interval, c.ignore_smoother_steps) : [];
  log(`stylize: ${c.model} on ${job.sd.backend.description}, ${steps} DDIM steps at ${size.width}x${size.height}, ` +
    `pattern [${options.combinePattern.join(", ")}], ControlNet ${c.controlnet_processor.join("+") || "none"}, ` +
    `smoother at steps [${smoothed.join(", ")}]${c.post_smoother ? " and after" : ""}, chunks of ${c.chunk} frames`);
  const memory = job.memory(settings, size);
  log(`holds ${memory.frames} frames at a time and at most ${MiB(memory.smootherBytes)} MiB per smoothing, ` +
    "however long the video");

  await using out = openFrameSink(c.out, { ...video.meta, ...size }, output);
  const ticks = progress({ label: "stylize steps" });
  const frames = job.run(video.frames, { ...settings, onStep: () => ticks.tick() });
  for await (const frame of frames) {
    await out.write(frame);
    if (interrupted()) break;
  }
  ticks.done();
  const { stats } = job;
  const kv = job.crossFrame?.stats;
  log(`${stats.frames} frames in ${stats.chunks} chunk${stats.chunks === 1 ? "" : "s"}; ${stats.attendPasses} kept + ` +
    `${stats.recordPasses} K/V-only model passes, ${stats.smootherCalls} in-loop smoothings; ` +
    `K/V cache at most ${MiB(kv?.peakBytes ?? 0)} MiB`);
  if (c.out !== "-") log(`wrote ${c.out}`);
});
