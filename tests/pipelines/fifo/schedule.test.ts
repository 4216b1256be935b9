/**
 * FIFO's schedule against the spec's own numbers and rules (shared/specs/fifo-diffusion.md):
 * timesteps, queue length, per-slot indices, windows and write ranges, the DDIM coefficients
 * (from the formula written out here), the initial frame map, and a symbolic run of the queue
 * in which every frame meets every DDIM index exactly once, in order.
 */
import { describe, expect, test } from "bun:test";
import { UsageError } from "../../../pipelines/errors.ts";
import { ddimTimesteps, fifoSchedule, initFrame, outputIndexAt, stepCoefficients } from "../../../pipelines/fifo/schedule.ts";
import { fifoPlan as plan } from "../../../pipelines/fifo/index.ts";
import { sdAlphasCumprod } from "../../../pipelines/sd/tiny/unet.ts";

const alphas = sdAlphasCumprod();

describe("the spec's worked cases", () => {
  test("n = 1, no lookahead, f = 4: a queue of 4 at timesteps 0, 333, 666, 999 and one window", () => {
    const s = fifoSchedule({ videoLength: 4, partitions: 1, lookahead: false });
    expect({ length: s.length, steps: s.steps, timesteps: s.timesteps, windows: s.windows, outSlot: s.outSlot, warmup: s.warmup }).toEqual({
      length: 4,
      steps: 4,
      timesteps: [0, 333, 666, 999],
      windows: [{ start: 0, end: 4, writeFrom: 0 }],
      outSlot: 0,
      warmup: 0,
    });
  });

  test("f = 16, n = 4 has the reference's 64 timesteps 0, 16, 32, 48, 63 … 983, 999", () => {
    const tau = ddimTimesteps(64);
    expect(tau.slice(0, 5)).toEqual([0, 16, 32, 48, 63]);
    expect(tau.slice(-2)).toEqual([983, 999]);
    expect(fifoSchedule({ videoLength: 16, partitions: 4, lookahead: true }).length).toBe(64 + 8);
  });

  test("lookahead adds f/2 slots at t = 0 in front, doubles the windows and writes only their later half", () => {
    const s = fifoSchedule({ videoLength: 4, partitions: 2, lookahead: true });
    expect(s.length).toBe(2 * 4 + 2);
    expect(s.indices).toEqual([0, 0, 0, 1, 2, 3, 4, 5, 6, 7]);
    expect(s.outSlot).toBe(2);
    expect(s.windows).toEqual([
      { start: 6, end: 10, writeFrom: 8 },
      { start: 4, end: 8, writeFrom: 6 },
      { start: 2, end: 6, writeFrom: 4 },
      { start: 0, end: 4, writeFrom: 2 },
    ]);
  });

  test("without lookahead the n windows tile the queue and write all of it", () => {
    const s = fifoSchedule({ videoLength: 4, partitions: 3, lookahead: false });
    expect(s.windows).toEqual([
      { start: 8, end: 12, writeFrom: 8 },
      { start: 4, end: 8, writeFrom: 4 },
      { start: 0, end: 4, writeFrom: 0 },
    ]);
  });

  test("an odd video length with lookahead, or a queue longer than the frames asked for, is a UsageError", () => {
    expect(() => fifoSchedule({ videoLength: 5, partitions: 2, lookahead: true })).toThrow(UsageError);
    expect(() => fifoSchedule({ videoLength: 5, partitions: 2, lookahead: false })).not.toThrow();
    expect(() => plan({ videoLength: 8, partitions: 2, lookahead: true, frames: 19 })).toThrow(/--frames 19 is fewer than the FIFO queue holds: 20 latents \(2 partitions × 8 frames \+ 4 lookahead\)/);
    expect(plan({ videoLength: 8, partitions: 2, lookahead: true, frames: 20 }).iterations).toBe(20 + 8);
  });

  test("model calls per output frame: one batched call, or R with one window each", () => {
    expect(plan({ videoLength: 4, partitions: 2, lookahead: true, frames: 40 })).toMatchObject({ callsPerFrame: 1, windowsPerFrame: 4 });
    expect(plan({ videoLength: 4, partitions: 2, lookahead: true, frames: 40, windowBatch: 1 })).toMatchObject({ callsPerFrame: 4, windowsPerFrame: 4 });
    expect(plan({ videoLength: 4, partitions: 3, lookahead: false, frames: 40, windowBatch: 2 })).toMatchObject({ callsPerFrame: 2, windowsPerFrame: 3 });
  });
});

describe("a symbolic run of the queue", () => {
  for (const [f, n, lookahead] of [[2, 1, false], [4, 1, true], [4, 2, false], [4, 3, true], [6, 2, true], [8, 2, true]] as const) {
    test(`f=${f}, n=${n}, lookahead ${lookahead}: each slot from the out slot on is written once an iteration, and a new frame meets S−1 … 0 in order`, () => {
      const s = fifoSchedule({ videoLength: f, partitions: n, lookahead });
      // frame ids per slot; fresh ids join at the tail
      let slots = Array.from({ length: s.length }, (_, i) => i);
      let next = s.length;
      const seen = new Map<number, number[]>();
      for (let it = 0; it < 3 * s.length; it++) {
        const writes = new Array<number>(s.length).fill(0);
        for (const w of s.windows) for (let p = w.writeFrom; p < w.end; p++) writes[p]!++;
        expect(writes).toEqual(Array.from({ length: s.length }, (_, p) => (p >= s.outSlot ? 1 : 0)));
        for (let p = s.outSlot; p < s.length; p++) seen.set(slots[p]!, [...(seen.get(slots[p]!) ?? []), s.indices[p]!]);
        slots = [...slots.slice(1), next++];
      }
      const fresh = [...seen.entries()].filter(([id]) => id >= s.length && id < s.length + s.length);
      expect(fresh.length).toBeGreaterThan(0);
      for (const [, indices] of fresh) expect(indices).toEqual(Array.from({ length: s.steps }, (_, i) => s.steps - 1 - i));
    });
  }

  test("the frame at a slot leaves at iteration + (slot − out slot), after the S − f warm-up frames", () => {
    const s = fifoSchedule({ videoLength: 4, partitions: 2, lookahead: true });
    expect(outputIndexAt(s, s.warmup, s.outSlot)).toBe(0);
    expect(outputIndexAt(s, 0, s.length - 1)).toBe(s.length - 1 - s.outSlot - s.warmup);
  });
});

describe("DDIM step coefficients", () => {
  test("match the spec's formula, written out: x0 = (x − √(1−a)ε)/√a, x' = √a'·x0 + √(1−a'−σ²)·ε + σz", () => {
    const tau = ddimTimesteps(16);
    for (const [k, eta] of [[15, 1], [7, 1], [7, 0], [1, 0.5]] as const) {
      const a = alphas[tau[k]!]!;
      const ap = alphas[tau[k - 1]!]!;
      const sigma = eta * Math.sqrt(((1 - ap) / (1 - a)) * (1 - a / ap));
      const [x, e, z] = [0.7, -1.3, 0.4];
      const x0 = (x - Math.sqrt(1 - a) * e) / Math.sqrt(a);
      const expected = Math.sqrt(ap) * x0 + Math.sqrt(1 - ap - sigma * sigma) * e + sigma * z;
      const c = stepCoefficients(alphas, tau, k, eta);
      expect(c.x * x + c.eps * e + c.noise * z).toBeCloseTo(expected, 12);
      expect(c.noise).toBeCloseTo(sigma, 12);
    }
  });

  test("σ₀ = 0, and the last step (a' = ᾱ[0] = a) leaves the latent where it is", () => {
    const tau = ddimTimesteps(8);
    const c = stepCoefficients(alphas, tau, 0, 1);
    expect(c.noise).toBe(0);
    expect(c.x).toBeCloseTo(1, 12);
    expect(c.eps).toBeCloseTo(0, 12);
  });

  test("with an oracle ε for a clean latent c, a step at η = 0 keeps x₀ = c", () => {
    const tau = ddimTimesteps(8);
    const clean = 0.37;
    let x = Math.sqrt(alphas[tau[7]!]!) * clean + Math.sqrt(1 - alphas[tau[7]!]!) * 1.5;
    for (let k = 7; k >= 1; k--) {
      const a = alphas[tau[k]!]!;
      const eps = (x - Math.sqrt(a) * clean) / Math.sqrt(1 - a);
      const c = stepCoefficients(alphas, tau, k, 0);
      x = c.x * x + c.eps * eps;
    }
    expect(x / Math.sqrt(alphas[0]!)).toBeCloseTo(clean + (Math.sqrt(1 - alphas[0]!) * 1.5) / Math.sqrt(alphas[0]!), 9);
  });
});

describe("the initial frame map", () => {
  test("original: frame 0 for the first S − f slots, then frames 0 … f−1; uniform: floor(i / n)", () => {
    const s = fifoSchedule({ videoLength: 4, partitions: 3, lookahead: false });
    expect(Array.from({ length: s.steps }, (_, i) => initFrame(i, s, false))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    expect(Array.from({ length: s.steps }, (_, i) => initFrame(i, s, true))).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
  });
});
