/**
 * Latent blending on `tiny` with the recipe's defaults (256×256, 12 DDIM steps, 12 diffused
 * images, 24 fps × 3 s): how even the movie is, and where the time goes.
 *
 * Smoothness = largest consecutive-frame distance ÷ the mean over the 72 movie frames (1.0 =
 * perfectly even), in two metrics: mean absolute pixel difference (MAD, 0–255) and our device
 * multi-scale SSIM distance. Compared: the adaptive tree, the fixed tree at (as near as its
 * presets allow) the same number of UNet evaluations, and a plain pixel crossfade between the two
 * keyframes (2·n evaluations). The tiny model is untrained, so images are texture, not scenes:
 * the ratios say how the trees behave, not how a real model's transitions look.
 */
import type { Frame } from "../pipelines/io/frame.ts";
import { fillGaps, allocateInbetweens } from "../pipelines/latent-blending/frame-fill.ts";
import {
  autosetupBranching,
  LatentBlending,
  meanAbsoluteDifference,
  type BlendOptions,
  type TransitionImages,
} from "../pipelines/latent-blending/index.ts";
import { timing } from "../pipelines/runtime/timing.ts";
import { machine, printTable, report } from "./report.ts";

const prompts = ["a lighthouse on a cliff at sunset, oil painting", "a quiet harbour at night, oil painting"];
const base: BlendOptions = {};
using lb = await LatentBlending.load({ model: "tiny" });
const steps = 12;

async function movie(options: BlendOptions) {
  const before = { ...lb.stats };
  let images: TransitionImages | undefined;
  const frames: Frame[] = [];
  timing.reset();
  timing.enabled = true;
  const t0 = Bun.nanoseconds();
  for await (const f of lb.transition(prompts, { ...base, ...options, onTransition: (_, t) => (images = t) })) frames.push(f);
  const wall = Bun.nanoseconds() - t0;
  timing.enabled = false;
  const d = (k: keyof typeof before) => lb.stats[k] - before[k];
  return { frames, images: images!, wall, ort: timing.ortNs, kernels: timing.kernelNs, unet: d("unetCalls"), d };
}

function smoothness(frames: Frame[], metric: (a: Frame, b: Frame) => number): number {
  const gaps = frames.slice(1).map((f, i) => metric(frames[i]!, f));
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  return Math.max(...gaps) / mean;
}
const ssim = (a: Frame, b: Frame) => lb.distance.distance(a, b);

// warm-up: model build/load, kernel compiles
await movie({ maxBranches: 3 });

const adaptive = await movie({});
// the fixed tree whose UNet evaluations come closest to the adaptive tree's
const calls = (n: number) => {
  const b = autosetupBranching(0.5, steps, n);
  return 2 * steps + b.branches.reduce((s, nb, t) => s + (t === 0 ? 0 : (nb - 2) * ((b.injection[t + 1] ?? steps) - b.injection[t]!)), 0);
};
let best = 3;
for (let n = 3; n <= 60; n++) if (Math.abs(calls(n) - adaptive.unet) < Math.abs(calls(best) - adaptive.unet)) best = n;
const fixed = await movie({ tree: "fixed", maxBranches: best });
const keys = [adaptive.images.images[0]!, adaptive.images.images.at(-1)!];
const plain = [...fillGaps(keys, allocateInbetweens([1], 72 - 2))];

for (const [name, run] of [["adaptive", adaptive], ["fixed", fixed]] as const) {
  report({ bench: "latent-blend", metric: `${name}_unet_evaluations`, value: run.unet, unit: "steps" });
  report({ bench: "latent-blend", metric: `${name}_diffused_images`, value: run.images.images.length, unit: "images" });
}
report({ bench: "latent-blend", metric: "crossfade_unet_evaluations", value: 2 * steps, unit: "steps" });
for (const [metricName, metric] of [["mad", meanAbsoluteDifference], ["ssim", ssim]] as const) {
  const a = smoothness(adaptive.frames, metric);
  report({ bench: "latent-blend", metric: `smoothness_${metricName}_adaptive`, value: a, unit: "max/mean" });
  const f = smoothness(fixed.frames, metric);
  report({ bench: "latent-blend", metric: `smoothness_${metricName}_fixed_same_compute`, value: f, unit: "max/mean", vs: "adaptive", ratio: f / a });
  const c = smoothness(plain, metric);
  report({ bench: "latent-blend", metric: `smoothness_${metricName}_crossfade`, value: c, unit: "max/mean", vs: "adaptive", ratio: c / a });
}

const s = adaptive.d;
const perKeyframeMs = s("keyframeNs") / 1e6 / s("keyframes");
const perInbetweenMs = (s("inbetweenNs") + (s("decodeNs") * s("inbetweens")) / s("vaeDecodes")) / 1e6 / s("inbetweens");
report({ bench: "latent-blend", metric: "unet_evals_per_keyframe", value: s("keyframeSteps") / s("keyframes"), unit: "steps" });
report({ bench: "latent-blend", metric: "unet_evals_per_inbetween", value: s("inbetweenSteps") / s("inbetweens"), unit: "steps" });
report({ bench: "latent-blend", metric: "ms_per_keyframe", value: perKeyframeMs + s("decodeNs") / 1e6 / s("vaeDecodes"), unit: "ms" });
report({ bench: "latent-blend", metric: "ms_per_inbetween", value: perInbetweenMs, unit: "ms", vs: "keyframe", ratio: perInbetweenMs / (perKeyframeMs + s("decodeNs") / 1e6 / s("vaeDecodes")) });
report({ bench: "latent-blend", metric: "transition_wall", value: adaptive.wall / 1e6, unit: "ms" });
report({ bench: "latent-blend", metric: "ort_run_share", value: (100 * adaptive.ort) / adaptive.wall, unit: "%" });
report({ bench: "latent-blend", metric: "kernel_share", value: (100 * adaptive.kernels) / adaptive.wall, unit: "%" });
report({ bench: "latent-blend", metric: "outside_ort_and_kernels_share", value: (100 * (adaptive.wall - adaptive.ort - adaptive.kernels)) / adaptive.wall, unit: "%" });
printTable(`latent blending on tiny, 256x256, ${steps} steps, fixed tree final branches ${best} (${lb.sd.backend.description}; ${machine()})`);
