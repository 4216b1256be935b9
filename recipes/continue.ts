/**
 * Video that goes on and on (ContinuitySeq): clip after clip, each conditioned on the clean latents
 * of the last few frames before it, so every clip picks up where the previous one stopped.
 *
 *   bun run recipes/continue.ts                                          # txt2img start + 3 clips → out/continue.mp4
 *   bun run recipes/continue.ts --image boat.png --times 10 --prompt "a boat drifting at sea"
 *   ffmpeg -i in.mp4 -f yuv4mpegpipe - | bun run recipes/continue.ts --out - | ffmpeg -i - more.mp4
 *   bun run recipes/continue.ts --prompts "a calm sea" --prompts "a storm at sea" --times 6
 *
 * Memory holds one clip and its conditioning, however many clips. Keys: pipelines/cli/recipes/continue.ts.
 */
import { existsSync, rmSync } from "node:fs";
import { runRecipe } from "../pipelines/cli/index.ts";
import { checkResumeTarget } from "../pipelines/cli/resume.ts";
import { continueSpec } from "../pipelines/cli/recipes/continue.ts";
import {
  CONTINUE_DEFAULTS, ContinuitySeq, checkContinuePlan, checkpointClip, checkStart, lastFrames,
} from "../pipelines/continuation/index.ts";
import { UsageError } from "../pipelines/errors.ts";
import type { Frame } from "../pipelines/io/frame.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { openFrameSource, readImage, stdinHasFrames } from "../pipelines/io/frame-source.ts";

const fmt = (v: number | null) => (v === null ? "–" : v.toFixed(2));

await runRecipe(continueSpec, async ({ config: c, options, output, log, progress, interrupted }) => {
  checkContinuePlan(options);
  if (options.resume) checkResumeTarget(options.checkpoint, c.out, "clips");
  const firstIndex = options.resume ? checkpointClip(options.checkpoint!) * c.frames : 0;
  using job = await ContinuitySeq.load({ model: c.model, device: c.device, log });
  const input = c.input ?? (c.image === null && stdinHasFrames() ? "-" : null);
  if (input !== null && c.image !== null) throw new UsageError("give --input (a video) or --image, not both");
  let start: Frame[];
  if (input !== null) {
    // only the frames that can condition the first clip are kept, however long the video
    start = await lastFrames((await openFrameSource(input)).frames, Math.max(1, c.max_conditioning_frames));
    log(`continuing ${input === "-" ? "stdin" : input}: its last ${start.length} frame(s) condition the first clip`);
  } else if (c.image !== null) {
    start = [await readImage(c.image)];
    log(`continuing the picture ${c.image}`);
  } else {
    const { width, height } = c.size ?? { width: CONTINUE_DEFAULTS.width, height: CONTINUE_DEFAULTS.height };
    log(`no input: the start image is txt2img on ${c.image_model} at ${width}x${height}`);
    start = [await ContinuitySeq.startImage({
      prompt: c.prompts?.[0] ?? c.prompt, negativePrompt: c.negative_prompt, width, height, seed: c.seed,
      model: c.image_model, steps: c.image_steps, guidance: c.image_guidance, device: c.device,
    })];
  }
  const first = checkStart(start);
  const given = input !== null || c.image !== null;
  if (c.size && given && (c.size.width !== first.width || c.size.height !== first.height)) {
    const size = `${c.size.width}x${c.size.height}`;
    throw new UsageError(`--size ${size} does not match the input's ${first.width}x${first.height}`,
      "the video follows its input's size: leave --size out, or resize the input");
  }

  const [w, h] = [first.width, first.height];
  log(`continue: ${c.model} on ${job.backend.description}, ${c.times} clips of ${c.frames} frames at ${w}x${h}, ` +
    `${c.steps} steps, carrying ${c.min_conditioning_frames}–${c.max_conditioning_frames} frames`);
  log(`holds one clip: ${c.frames} + ${c.max_conditioning_frames} latents of ${w / 8}x${h / 8}, never the whole video`);

  if (options.resume) log(`resuming at clip ${firstIndex / c.frames} of ${c.times} from ${options.checkpoint}`);
  await using out = openFrameSink(c.out, job.meta(first, c.fps), { ...output, firstIndex });
  const bar = progress({ label: "continue frames", total: c.times * c.frames - firstIndex });
  let finished = true;
  for (const { frame } of job.run(options, start)) {
    await out.write(frame);
    bar.tick();
    if (interrupted()) {
      finished = false;
      break;
    }
  }
  bar.done();
  const r = job.differences.report();
  log(`${job.stats.clips} clips, ${job.stats.unetCalls} UNet calls, carried ${job.stats.carried.join(", ")} frames`);
  log(`consecutive-frame difference (mean |Δ| of rgb bytes): at joins ${fmt(r.join)} (${r.pairs.join} pairs), ` +
    `inside clips ${fmt(r.inside)} (${r.pairs.inside}), start → first frame ${fmt(r.start)}`);
  const done = job.stats.startedAt + job.stats.clips;
  if (!finished && options.checkpoint) log(`stopped after clip ${done}: --resume continues from ${options.checkpoint}`);
  if (finished && options.checkpoint && existsSync(options.checkpoint)) rmSync(options.checkpoint);
  if (c.out !== "-") log(`wrote ${c.out}`);
});
