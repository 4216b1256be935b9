/**
 * Deflicker any video with patch-match blending (FastBlend): each frame becomes the mean of its
 * neighbours' patches matched onto it, so flicker averages out while motion stays sharp.
 *
 *   bun run recipes/deflicker.ts                                   # built-in flickering clip → out/deflicker.mp4
 *   bun run recipes/deflicker.ts --input stylised.mp4 --guide original.mp4 --window 15 --out smooth.mp4
 *   ffmpeg -i in.mp4 -f yuv4mpegpipe - | bun run recipes/deflicker.ts --out - | ffmpeg -i - out.mp4
 *
 * The guide decides which patches match: the video itself, or (better, for a stylised video) the
 * footage it was made from. Keys and defaults: pipelines/cli/recipes/deflicker.ts (and `--help`).
 */
import { runRecipe } from "../pipelines/cli/index.ts";
import { deflicker } from "../pipelines/cli/recipes/deflicker.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { openFrameSource, stdinHasFrames } from "../pipelines/io/frame-source.ts";
import { checkGuide, Deflicker, flickerClip, flickerClipMeta } from "../pipelines/stylize/index.ts";

const MiB = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

await runRecipe(deflicker, async ({ config: c, options, output, log, progress, interrupted }) => {
  const input = c.input ?? (stdinHasFrames() ? "-" : null);
  const video = input === null
    ? { meta: flickerClipMeta(), frames: flickerClip({ frames: c.frames }) }
    : await openFrameSource(input);
  const { width, height } = video.meta;
  if (input === null) log(`no input: a built-in ${c.frames}-frame flickering clip, ${width}x${height}`);
  const guide = c.guide === null ? undefined : await openFrameSource(c.guide);
  if (guide) checkGuide(video.meta, guide.meta);

  using job = Deflicker.open(options);
  const memory = job.memory(video.meta, guide !== undefined);
  const window = c.mode === "interpolate" ? `keyframes every ${c.keyframe_interval}` : `window ${c.window}`;
  log(`deflicker: ${c.mode}, ${window}, patch ${c.patch_size}, ${c.iterations} iterations, ${job.backend.description}`);
  log(`holds at most ${MiB(memory.bytes)} MiB (${memory.frames} frames, ${memory.tables} tables, ` +
    `${MiB(memory.matcher)} MiB matching), however long the video`);

  await using out = openFrameSink(c.out, video.meta, output);
  const frames = progress({ label: "deflicker frames" });
  for await (const frame of job.frames(video.frames, guide?.frames)) {
    await out.write(frame);
    frames.tick();
    if (interrupted()) break;
  }
  frames.done();
  const { stats, held } = job.run;
  log(`${job.run.frames} frames; ${stats.remaps} remaps in ${stats.batches} batches; ` +
    `held at most ${MiB(held.peak)} MiB of frames`);
  if (c.out !== "-") log(`wrote ${c.out}`);
});
