/**
 * Temporally consistent video-to-video with ControlNet: each frame's self-attention and latents
 * are blended with the previous frame's at the same denoising step (attention interpolation).
 *
 *   bun run recipes/attention-interp.ts                       # synthetic clip → out/attention-interp.mp4
 *   bun run recipes/attention-interp.ts --input in.mp4 --prompt "an oil painting" --unet-ema 0.5
 *   ffmpeg -i in.mp4 -f yuv4mpegpipe - | bun run recipes/attention-interp.ts --out - | ffmpeg -i - out.mp4
 *
 * With no --input, frames come from stdin when it is a pipe or a file, else from a built-in clip.
 * Keys and defaults: pipelines/cli/recipes/attention-interp.ts (and `--help`).
 */
import {
  AttentionInterpolation, syntheticClip, syntheticClipMeta,
} from "../pipelines/attention-interpolation/index.ts";
import { runRecipe } from "../pipelines/cli/index.ts";
import { attentionInterp } from "../pipelines/cli/recipes/attention-interp.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { openFrameSource, stdinHasFrames } from "../pipelines/io/frame-source.ts";
import { countSites } from "../pipelines/sd/unet-hooks.ts";

const MiB = (bytes: number) => (bytes / 2 ** 20).toFixed(2);

await runRecipe(attentionInterp, async ({ config: c, options, output, log, debug, progress, interrupted }) => {
  const input = c.input ?? (stdinHasFrames() ? "-" : null);
  const builtIn = { meta: syntheticClipMeta({ frames: c.frames }), frames: syntheticClip({ frames: c.frames }) };
  const source = input === null ? builtIn : await openFrameSource(input);
  const { width, height } = c.size ?? source.meta;
  const { meta } = source;
  if (input === null) log(`no input: a built-in ${c.frames}-frame clip of moving shapes, ${meta.width}x${meta.height}`);

  using ai = await AttentionInterpolation.load({ model: c.model, device: c.device, log });
  const img2img = c.strength === null ? "" : `, img2img strength ${c.strength}`;
  log(`attention-interp: ${c.model} on ${ai.sd.backend.description}, ${c.controlnet_processor} ControlNet, ` +
    `${c.steps} DDIM steps at ${width}x${height}${img2img}`);

  const outMeta = c.original_output_size ? source.meta : { ...source.meta, width, height };
  await using out = openFrameSink(c.out, outMeta, output);
  const steps = progress({ label: "attention-interp steps" });
  const frames = ai.run(source.frames, {
    ...options,
    onStep: () => steps.tick(),
    onSites: (hooked) => {
      log(`hooked ${hooked.map((h) => `${h.model}: ${countSites(h.sites)}`).join("; ")}`);
      for (const { model, sites } of hooked) {
        for (const s of sites) debug(`  ${model} ${s.name} (${s.block.self ? "self" : "cross"})`);
      }
    },
    onEstimate: (e) => {
      const bySite = Object.entries(e.bySite).map(([k, v]) => `${k} ${MiB(v)}`).join(", ");
      log(`state memory estimate: ${MiB(e.bytes)} MiB (${c.state_dtype}; ${bySite}) ` +
        `over ${e.steps.unet} UNet / ${e.steps.latents} latent steps`);
    },
  });
  for await (const frame of frames) {
    await out.write(frame);
    if (interrupted()) break;
  }
  steps.done();
  const { stats, state } = ai;
  log(`${stats.frames} frames; ${stats.blends} of ${stats.hookCalls} hook calls blended; ` +
    `state ${MiB(state.bytes)} MiB in ${state.count} slots`);
  if (c.out !== "-") log(`wrote ${c.out}`);
});
