/**
 * The two ways of growing in-betweens between two keyframes (spec §B and §C). Both return the
 * transition's diffused images in order of fraction, with the image distance of each consecutive
 * pair (which the movie assembly weights its crossfade frames by).
 *
 * Each in-between starts from the slerp of its parents' latents at the injection step, with the
 * text conditioning lerped ([uncond; cond] together) and guidance damped toward the middle.
 */
import type { Frame } from "../io/frame.ts";
import { lerp } from "../runtime/blend-ops.ts";
import type { SchedulerKind } from "../sd/schedulers/index.ts";
import type { Conditioning } from "../sd/stable-diffusion.ts";
import type { ImageDistance } from "./distance.ts";
import {
  checkInjection,
  dampedGuidance,
  linspace,
  parentalCrossfeedArray,
  type AdaptiveBranching,
  type Crossfeed,
  type FixedBranching,
} from "./schedules.ts";
import {
  decodeLast,
  disposeLatents,
  inbetweenNoise,
  mixLatents,
  runTrajectory,
  type BlendEngine,
  type TreeNode,
} from "./trajectory.ts";

export interface TreeContext {
  engine: BlendEngine;
  distance: ImageDistance;
  steps: number;
  scheduler: SchedulerKind;
  /** Keyframe conditionings (same guidance g0). */
  left: Conditioning;
  right: Conditioning;
  guidanceMidDamper: number;
  /** Seed of the left keyframe: in-between step noise streams fork from it. */
  seed: number;
  onStep?: () => void;
}

export interface TransitionImages {
  images: Frame[];
  fractions: number[];
  /** distances[j] between images j and j + 1. */
  distances: number[];
}

/** E(f) = lerp of both contexts, g(f) damped; guidance stays off when the keyframes have no uncond rows. */
export function blendConditioning(left: Conditioning, right: Conditioning, f: number, damper: number): Conditioning {
  const damped = dampedGuidance(left.guidance, damper, f);
  const guidance = left.context.shape[0] === 2 ? damped : Math.min(damped, 1);
  return { context: lerp(left.context, right.context, f), guidance };
}

/** Runs one in-between of fraction f from parents p1, p2, injected at `injection`. */
function growChild(ctx: TreeContext, f: number, p1: TreeNode, p2: TreeNode, injection: number, end: number, crossfeed?: Crossfeed): TreeNode {
  checkInjection(injection, ctx.steps);
  const local = (f - p1.fraction) / (p2.fraction - p1.fraction);
  const reach = crossfeed && crossfeed.power > 0 ? Math.max(injection, Math.round(ctx.steps * crossfeed.range)) : injection;
  const mix = mixLatents(p1.latents, p2.latents, local, injection - 1, reach);
  const start = mix[injection - 1];
  if (!start) throw new Error(`parents of fraction ${f} have no latent at step ${injection - 1}`);
  const conditioning = blendConditioning(ctx.left, ctx.right, f, ctx.guidanceMidDamper);
  try {
    const latents = runTrajectory(ctx.engine, {
      conditioning,
      start,
      startIndex: injection,
      endIndex: end,
      scheduler: ctx.engine.sd.scheduler(ctx.scheduler, ctx.steps),
      noise: inbetweenNoise(ctx.seed, f),
      mix,
      crossfeed: crossfeed ? parentalCrossfeedArray(ctx.steps, injection, crossfeed) : undefined,
      kind: "inbetween",
      onStep: ctx.onStep,
    });
    return { fraction: f, injection, latents };
  } finally {
    conditioning.context.dispose();
    disposeLatents(mix);
  }
}

/**
 * §C: each level adds its stems one by one, each splitting the neighbouring pair with the largest
 * image distance; parents are the nearest nodes on either side that branched strictly earlier.
 * Keyframe nodes are not disposed; in-between latents are, before returning.
 */
export function adaptiveTree(ctx: TreeContext, a: TreeNode, b: TreeNode, branching: AdaptiveBranching, crossfeed: Crossfeed): TransitionImages {
  const nodes = [a, b];
  const distances = [ctx.distance.distance(a.image!, b.image!)];
  try {
    branching.injection.forEach((injection, level) => {
      checkInjection(injection, ctx.steps);
      for (let s = 0; s < branching.stems[level]!; s++) {
        const j = distances.indexOf(Math.max(...distances));
        const f = (nodes[j]!.fraction + nodes[j + 1]!.fraction) / 2;
        let p1 = j;
        while (nodes[p1]!.injection >= injection) p1--;
        let p2 = j + 1;
        while (nodes[p2]!.injection >= injection) p2++;
        const child = growChild(ctx, f, nodes[p1]!, nodes[p2]!, injection, ctx.steps, crossfeed);
        child.image = decodeLast(ctx.engine, child.latents);
        ctx.engine.stats.inbetweens++;
        nodes.splice(j + 1, 0, child);
        distances.splice(j, 1, ctx.distance.distance(nodes[j]!.image!, child.image), ctx.distance.distance(child.image, nodes[j + 2]!.image!));
      }
    });
    return { images: nodes.map((n) => n.image!), fractions: nodes.map((n) => n.fraction), distances };
  } finally {
    for (const n of nodes) if (n !== a && n !== b) disposeLatents(n.latents);
  }
}

/**
 * §B: block t runs steps [inj_t, inj_{t+1}) for linspace(0, 1, nb_t) fractions, each from the
 * slerp of the nearest fractions of block t − 1 around it. Endpoints are the keyframes, whose
 * full runs already cover every block, so they are reused rather than recomputed.
 */
export function fixedTree(ctx: TreeContext, a: TreeNode, b: TreeNode, branching: FixedBranching): TransitionImages {
  const { injection, branches } = branching;
  let previous: TreeNode[] = [a, b];
  const owned = new Set<TreeNode>();
  try {
    for (let t = 1; t < injection.length; t++) {
      const end = injection[t + 1] ?? ctx.steps;
      const current: TreeNode[] = [];
      for (const f of linspace(0, 1, branches[t]!)) {
        if (f === 0 || f === 1) {
          current.push(f === 0 ? a : b);
          continue;
        }
        let k = previous.findLastIndex((n) => n.fraction <= f);
        if (k === previous.length - 1) k--;
        const child = growChild(ctx, f, previous[k]!, previous[k + 1]!, injection[t]!, end);
        owned.add(child);
        current.push(child);
      }
      for (const n of previous) if (owned.has(n)) disposeLatents(n.latents);
      previous = current;
    }
    for (const n of previous) {
      if (n.image) continue;
      n.image = decodeLast(ctx.engine, n.latents);
      ctx.engine.stats.inbetweens++;
    }
    const images = previous.map((n) => n.image!);
    const distances = images.slice(1).map((img, j) => ctx.distance.distance(images[j]!, img));
    return { images, fractions: previous.map((n) => n.fraction), distances };
  } finally {
    for (const n of owned) disposeLatents(n.latents);
  }
}
