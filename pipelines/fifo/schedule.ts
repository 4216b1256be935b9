/**
 * FIFO-Diffusion's schedule, as pure arithmetic (shared/specs/fifo-diffusion.md, "Algorithm"):
 * the DDIM timesteps, the queue layout (length, per-slot DDIM index, windows, the slot that
 * leaves), the per-frame DDIM step coefficients and the queue's initial frame map.
 *
 *   const s = fifoSchedule({ videoLength: 4, partitions: 1, lookahead: false });
 *   s.timesteps   // [0, 333, 666, 999]: slot 0 (the head) is the cleanest
 */
import { UsageError } from "../errors.ts";

export interface QueueShape {
  /** f: frames the UNet sees at once (its window). */
  readonly videoLength: number;
  /** n: partitions; the queue holds n windows of f frames, and the schedule has S = f·n steps. */
  readonly partitions: number;
  /** Lookahead denoising: windows overlap by f/2 and only their later half is written. */
  readonly lookahead: boolean;
}

export interface Window {
  /** Slots [start, end) go into the UNet. */
  readonly start: number;
  readonly end: number;
  /** Slots [writeFrom, end) take the step's result (the whole window without lookahead, its later half with). */
  readonly writeFrom: number;
}

export interface FifoSchedule extends QueueShape {
  /** S = f·n DDIM steps (the spec forces num_inference_steps to f·n). */
  readonly steps: number;
  /** L = n·f (+ f/2 with lookahead) latents in the queue. */
  readonly length: number;
  /** The slot whose latent leaves the queue after each iteration (f/2 with lookahead, else 0). */
  readonly outSlot: number;
  /** τ: the S DDIM timesteps, ascending, round(linspace(0, T−1, S)). */
  readonly tau: readonly number[];
  /** K: the DDIM index each slot is at (the lookahead slots [0, f/2) say 0 and are never stepped). */
  readonly indices: readonly number[];
  /** τ[K]: the timestep of each slot. */
  readonly timesteps: readonly number[];
  /** Windows in the order the reference runs them (r = R−1 … 0, the noisiest first). */
  readonly windows: readonly Window[];
  /** Emitted frames that are warm-up, not output: S − f. */
  readonly warmup: number;
}

/** τ_k = round(k·(T−1)/(S−1)), k = 0 … S−1 (includes 0 and T−1). */
export function ddimTimesteps(steps: number, trainSteps = 1000): number[] {
  if (steps === 1) return [trainSteps - 1];
  return Array.from({ length: steps }, (_, k) => Math.round((k * (trainSteps - 1)) / (steps - 1)));
}

/** Checks a queue shape: f ≥ 2 (even with lookahead, whose windows step by f/2), n ≥ 1. */
export function checkQueueShape(shape: QueueShape): void {
  const { videoLength: f, partitions: n } = shape;
  if (!Number.isInteger(f) || f < 2) throw new UsageError(`video_length ${f} must be an integer of at least 2`);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`partitions ${n} must be an integer of at least 1`);
  if (shape.lookahead && f % 2 !== 0) {
    throw new UsageError(`video_length ${f} is odd: lookahead denoising steps its windows by f/2`, "use an even video_length, or --no-lookahead");
  }
}

export function fifoSchedule(shape: QueueShape, trainSteps = 1000): FifoSchedule {
  checkQueueShape(shape);
  const { videoLength: f, partitions: n, lookahead } = shape;
  const steps = f * n;
  if (steps > trainSteps) throw new UsageError(`video_length × partitions = ${steps} steps is more than the ${trainSteps} training timesteps`);
  const half = f / 2;
  const length = n * f + (lookahead ? half : 0);
  const tau = ddimTimesteps(steps, trainSteps);
  const indices = [...(lookahead ? Array<number>(half).fill(0) : []), ...Array.from({ length: steps }, (_, k) => k)];
  const count = lookahead ? 2 * n : n;
  const stride = lookahead ? half : f;
  const windows: Window[] = [];
  for (let r = count - 1; r >= 0; r--) {
    const start = r * stride;
    windows.push({ start, end: start + f, writeFrom: lookahead ? start + half : start });
  }
  return {
    ...shape,
    steps,
    length,
    outSlot: lookahead ? half : 0,
    tau,
    indices,
    timesteps: indices.map((k) => tau[k]!),
    windows,
    warmup: steps - f,
  };
}

/** One DDIM step from index k as x' = x·x + eps·ε + noise·z. */
export interface StepCoefficients {
  readonly x: number;
  readonly eps: number;
  readonly noise: number;
}

/**
 * DDIM with η (spec: a_k = ᾱ[τ_k], a'_k = ᾱ[τ_{k−1}], a'_0 = ᾱ[0], σ_k = η·√((1−a')/(1−a)·(1−a/a'))):
 * x₀ = (x − √(1−a)·ε)/√a, x' = √a'·x₀ + √(1−a'−σ²)·ε + σ·z, written as coefficients on x, ε, z.
 */
export function stepCoefficients(alphasCumprod: ArrayLike<number>, tau: readonly number[], k: number, eta: number): StepCoefficients {
  const a = alphasCumprod[tau[k]!]!;
  const ap = k === 0 ? alphasCumprod[0]! : alphasCumprod[tau[k - 1]!]!;
  const sigma = eta * Math.sqrt(Math.max(((1 - ap) / (1 - a)) * (1 - a / ap), 0));
  const toOriginal = Math.sqrt(ap) / Math.sqrt(a);
  const direction = Math.sqrt(Math.max(1 - ap - sigma * sigma, 0));
  return { x: toOriginal, eps: direction - toOriginal * Math.sqrt(1 - a), noise: sigma };
}

/**
 * Which base-clip frame initialises queue slot `outSlot + i` (i = 0 … S−1): the original keeps
 * frame 0 for the first S − f slots and then frames 0 … f−1; `uniform` (the fork's unilatent)
 * gives each base frame n consecutive slots, floor(i / n).
 */
export function initFrame(i: number, schedule: Pick<FifoSchedule, "steps" | "videoLength" | "partitions">, uniform: boolean): number {
  return uniform ? Math.floor(i / schedule.partitions) : Math.max(0, i - (schedule.steps - schedule.videoLength));
}

/**
 * The output index of the frame at `slot` during iteration `iteration` (negative: warm-up): it
 * leaves the queue at iteration + (slot − outSlot).
 */
export function outputIndexAt(schedule: FifoSchedule, iteration: number, slot: number): number {
  return iteration + (slot - schedule.outSlot) - schedule.warmup;
}
