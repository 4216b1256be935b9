/**
 * Diffusion schedulers behind one interface (DDIM, Euler, Euler ancestral, DPM-Solver++ 2M with or
 * without Karras sigmas, LCM), with pluggable tensor math.
 *
 *   const scheduler = createScheduler(JSON.parse(readFileSync(`${dir}/scheduler/scheduler_config.json`, "utf8")), "euler");
 *   const { timesteps } = scheduler.setTimesteps(20);
 *   const rng = new Rng(seed);
 *   let x = float32Ops.combine([[scheduler.initNoiseSigma, rng.normal(new Float32Array(size))]]);
 *   for (let i = 0; i < timesteps.length; i++) {
 *     const m = unet(scheduler.scaleModelInput(float32Ops, x, i), timesteps[i]);
 *     x = scheduler.step(float32Ops, m, i, x, () => rng.normal(new Float32Array(size)));
 *   }
 */
export { createScheduler, type CreateSchedulerOptions } from "./create-scheduler.ts";
export { DdimScheduler } from "./ddim.ts";
export { DpmSolverScheduler } from "./dpm-solver.ts";
export { EulerAncestralScheduler, EulerScheduler } from "./euler.ts";
export { LcmScheduler } from "./lcm.ts";
export { PndmScheduler } from "./pndm.ts";
export { float32Ops, type LatentOps, type LinearTerm } from "./latent-ops.ts";
export type { NoiseSource, Scheduler, SetTimestepsOptions } from "./scheduler.ts";
export {
  SCHEDULER_KINDS,
  type PredictionType,
  type ResolvedSchedulerConfig,
  type SchedulerConfig,
  type SchedulerKind,
} from "./scheduler-config.ts";
