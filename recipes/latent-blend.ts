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
 * Keys and defaults: pipelines/cli/recipes/latent-blend.ts (and `--help`).
 */
import { runRecipe } from "../pipelines/cli/index.ts";
import { latentBlend } from "../pipelines/cli/recipes/latent-blend.ts";
import { openFrameSink } from "../pipelines/io/frame-sink.ts";
import { LatentBlending } from "../pipelines/latent-blending/index.ts";

await runRecipe(latentBlend, async ({ config: c, options, output, log, progress, interrupted }) => {
  const { keyframes, load, transition } = options;
  using lb = await LatentBlending.load({ ...load, log });
  const { width, height } = c.size;
  log(`latent-blend: ${c.model} on ${lb.sd.backend.description}, ${keyframes.length} keyframes, ${c.tree} tree, ` +
    `${c.steps} ${c.scheduler} steps at ${width}x${height}, distance ${lb.distance.name}`);

  await using out = openFrameSink(c.out, lb.meta(transition), output);
  const steps = progress({ label: "latent-blend steps" });
  let frames = 0;
  const video = lb.transition(keyframes, {
    ...transition,
    onStep: () => steps.tick(),
    onTransition: (i, t) => {
      const fractions = t.fractions.map((f) => +f.toFixed(3)).join(" ");
      log(`transition ${i + 1}: ${t.images.length} diffused images at fractions ${fractions}`);
    },
  });
  for await (const frame of video) {
    if (interrupted()) break;
    await out.write(frame);
    frames++;
  }
  steps.done();
  const s = lb.stats;
  log(`${frames} frames; ${s.keyframes} keyframes, ${s.inbetweens} in-betweens, ` +
    `${s.unetCalls} UNet steps, ${s.vaeDecodes} decodes`);
  if (c.out !== "-") log(`wrote ${c.out}`);
});
