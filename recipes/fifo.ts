/**
 * Video of any length from a video UNet that sees only a few frames at once (FIFO-Diffusion): a
 * queue of latents at rising noise levels is denoised diagonally; each step a clean frame leaves
 * the head and fresh noise joins the tail, so memory stays flat however long the video.
 *
 *   bun run recipes/fifo.ts                                             # 48 frames on tiny-video → out/fifo.mp4
 *   bun run recipes/fifo.ts --prompts "a calm sea" --prompts "a storm at sea" --prompt-frames 40 --frames 100
 *   bun run recipes/fifo.ts --frames 10000 --out - | ffmpeg -i - long.mp4
 *   bun run recipes/fifo.ts --frames 2000 --out long/ --resume          # after a stop: the rest of long/
 *
 * The queue is saved every --checkpoint-every frames (beside --out); --resume picks it up and makes
 * the remaining frames exactly as the whole run would have. Keys: pipelines/cli/recipes/fifo.ts.
 */
import { existsSync, rmSync } from "node:fs";
import { runRecipe } from "../pipelines/cli/index.ts";
import { checkResumeTarget } from "../pipelines/cli/resume.ts";
import { fifo as spec } from "../pipelines/cli/recipes/fifo.ts";
import { checkpointProgress, FifoDiffusion, fifoPlan } from "../pipelines/fifo/index.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { readImage } from "../pipelines/io/frame-source.ts";

await runRecipe(spec, async ({ config: c, options, output, log, progress, interrupted }) => {
  const plan = fifoPlan(options);
  const s = plan.schedule;
  if (options.resume) checkResumeTarget(options.checkpoint, c.out);
  const startAt = options.resume ? checkpointProgress(options.checkpoint!) : 0;
  const image = c.image === null ? null : await readImage(c.image);

  using job = await FifoDiffusion.load({ model: c.model, device: c.device, log });
  job.check({ ...options, image }); // a size or model mismatch fails before the output is opened
  log(`fifo: ${c.model} on ${job.vd.backend.description}, queue of ${s.length} ` +
    `(${s.partitions} × ${s.videoLength}${s.lookahead ? " + lookahead" : ""}), ${s.steps} steps, ` +
    `${plan.windowsPerFrame} windows in ${plan.callsPerFrame} UNet call(s) per frame`);
  if (startAt > 0) log(`resuming at frame ${startAt} of ${c.frames} from ${options.checkpoint}`);

  const meta = job.meta({ width: c.size.width, height: c.size.height, outputFps: c.fps });
  await using out = openFrameSink(c.out, meta, { ...output, firstIndex: startAt });
  const bar = progress({ label: "fifo frames", total: c.frames - startAt });
  let finished = true;
  for await (const frame of job.run({ ...options, image })) {
    await out.write(frame);
    bar.tick();
    if (interrupted()) {
      finished = job.stats.emitted >= c.frames;
      break;
    }
  }
  bar.done();
  const { unetCalls, emitted, startedAt } = job.stats;
  log(`${emitted - startedAt} frames, ${unetCalls} UNet calls ` +
    `(${plan.callsPerFrame} per frame after ${s.warmup} warm-up frames)`);
  if (!finished && options.checkpoint) log(`stopped at frame ${emitted}: --resume continues from the last checkpoint`);
  if (finished && options.checkpoint && existsSync(options.checkpoint)) rmSync(options.checkpoint);
  if (c.out !== "-") log(`wrote ${c.out}`);
});
