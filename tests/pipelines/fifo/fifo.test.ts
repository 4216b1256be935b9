/**
 * The FIFO queue on the tiny video UNet: every output frame meets every DDIM index once, in
 * order; batching the windows changes nothing but the number of calls; a run's first frames do
 * not depend on how long it is; its first frame is the base clip's (a plain DDIM loop written out
 * here); a Q-cache of weight 0 is no Q-cache; and a resumed run makes the uninterrupted run's frames.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FifoDiffusion, type FifoOptions, FifoNoise, fifoPlan, stepCoefficients } from "../../../pipelines/fifo/index.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";

const dir = mkdtempSync(join(tmpdir(), "latentloom-fifo-"));
let fifo: FifoDiffusion;
beforeAll(async () => {
  fifo = await FifoDiffusion.load({ model: "tiny-video" });
});
afterAll(() => {
  fifo?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

// f = 4, n = 2, lookahead: a queue of 10 latents, 8 steps, 4 warm-up frames, 4 windows a step
const SMALL: FifoOptions = { prompt: "a boat", width: 64, height: 32, videoLength: 4, partitions: 2, frames: 12, seed: 7 };

function latents(options: Partial<FifoOptions> = {}): Float32Array[] {
  const out: Float32Array[] = [];
  for (const { latent } of fifo.latents({ ...SMALL, ...options })) {
    out.push(latent.readF32());
    latent.dispose();
  }
  return out;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe("FIFO-Diffusion on tiny-video", () => {
  test("each output frame is stepped once an iteration through DDIM indices S−1 … 0, in order", () => {
    for (const lookahead of [true, false]) {
      const updates = new Map<number, { iteration: number; index: number }[]>();
      const emitted: number[] = [];
      const s = fifoPlan({ ...SMALL, lookahead }).schedule;
      const options = { ...SMALL, lookahead, guidance: 1 };
      for (const { latent } of fifo.latents({
        ...options,
        trace: (u) => {
          if (!updates.has(u.frame)) updates.set(u.frame, []);
          updates.get(u.frame)!.push(u);
          if (u.slot === s.outSlot) emitted.push(u.frame);
        },
      })) latent.dispose();

      const output = emitted.slice(s.warmup);
      expect(output.length).toBe(SMALL.frames!);
      for (const frame of output.filter((id) => id >= s.length)) {
        // a frame that joined the queue as noise: all S steps, one per iteration
        const seen = updates.get(frame)!;
        expect(seen.map((u) => u.index)).toEqual(Array.from({ length: s.steps }, (_, k) => s.steps - 1 - k));
        expect(seen.map((u) => u.iteration - seen[0]!.iteration)).toEqual(Array.from({ length: s.steps }, (_, k) => k));
      }
      for (const [, seen] of updates) {
        // every frame, including those the queue started with: no index twice, none skipped
        seen.forEach((u, i) => i > 0 && expect(u.index).toBe(seen[i - 1]!.index - 1));
      }
      expect(output.filter((id) => id >= s.length).length).toBeGreaterThan(0);
    }
  });

  test("all windows in one batched UNet call give what one call per window gives, in fewer calls", () => {
    const batched = latents();
    const batchedCalls = fifo.stats.unetCalls;
    const single = latents({ windowBatch: 1 });
    const singleCalls = fifo.stats.unetCalls;
    const plan = fifoPlan(SMALL);
    const steps = plan.schedule.steps;
    expect(batchedCalls).toBe(steps + plan.iterations);
    expect(singleCalls).toBe(steps + plan.iterations * plan.windowsPerFrame);
    expect(plan.windowsPerFrame).toBe(4);
    for (let i = 0; i < batched.length; i++) expect(maxDiff(batched[i]!, single[i]!)).toBeLessThan(1e-4);
  });

  test("a longer run starts with the shorter run's frames, byte for byte", () => {
    const short = latents({ frames: 10 });
    const long = latents({ frames: 14 });
    expect(long.length).toBe(14);
    for (let i = 0; i < short.length; i++) expect(Buffer.from(long[i]!.buffer).equals(Buffer.from(short[i]!.buffer))).toBe(true);
  });

  test("with n = 1 (no warm-up) the first frame is the base clip's frame 0 noised to t = 0: a plain DDIM loop, written out", () => {
    for (const lookahead of [false, true]) {
      const options: FifoOptions = { ...SMALL, partitions: 1, lookahead, guidance: 1, eta: 0, frames: 6 };
      const first = latents(options)[0]!;
      const s = fifoPlan(options).schedule;
      expect(s.warmup).toBe(0);

      const vd = fifo.vd;
      const [f, h, w] = [s.videoLength, 4, 8];
      const noise = new FifoNoise(SMALL.seed!, 4 * h * w);
      using text = vd.textEncoder.encode(["", SMALL.prompt]);
      using context = text.slice(1, 2);
      let x = noise.base(f);
      for (let k = s.steps - 1; k >= 0; k--) {
        using sample = Tensor.from(vd.backend, "f32", [1, 4, f, h, w], x);
        using eps = vd.unet.predict(sample, Array<number>(f).fill(s.tau[k]!), context, { fps: 8 });
        const e = eps.readF32();
        const a = vd.alphasCumprod[s.tau[k]!]!;
        const ap = k === 0 ? vd.alphasCumprod[0]! : vd.alphasCumprod[s.tau[k - 1]!]!;
        x = x.map((v, i) => {
          const x0 = (v - Math.sqrt(1 - a) * e[i]!) / Math.sqrt(a);
          return Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * e[i]!;
        });
      }
      // frame 0 of [1, 4, f, h, w], then noised to ᾱ₀ with the noise frame 0 joined the queue with
      const plane = h * w;
      const a0 = vd.alphasCumprod[0]!;
      const z = noise.initial(s.outSlot);
      const expected = new Float32Array(4 * plane).map((_, i) => {
        const [c, p] = [Math.floor(i / plane), i % plane];
        return Math.sqrt(a0) * x[c * f * plane + p]! + Math.sqrt(1 - a0) * z[i]!;
      });
      expect(maxDiff(first, expected)).toBeLessThan(1e-4);
      expect(Math.max(...first.map(Math.abs))).toBeGreaterThan(0.1);
    }
  });

  test("the step at DDIM index 0 leaves a latent where it is (σ₀ = 0, a' = a)", () => {
    const c = stepCoefficients(fifo.vd.alphasCumprod, fifoPlan(SMALL).schedule.tau, 0, 1);
    expect(c).toEqual({ x: 1, eps: 0, noise: 0 });
  });

  test("a Q-cache of weight 0 changes nothing; weight 1 changes the frames", () => {
    const plain = latents({ frames: 10 });
    const zero = latents({ frames: 10, qCache: 0 });
    const full = latents({ frames: 10, qCache: 1 });
    for (let i = 0; i < plain.length; i++) expect(maxDiff(zero[i]!, plain[i]!)).toBeLessThan(1e-5);
    expect(Math.max(...plain.map((p, i) => maxDiff(p, full[i]!)))).toBeGreaterThan(1e-3);
  });

  test("a run stopped after its checkpoint and resumed makes the uninterrupted run's remaining frames, byte for byte", () => {
    const whole = latents({ frames: 14 });
    const checkpoint = join(dir, "queue.ckpt");
    const options: FifoOptions = { ...SMALL, frames: 14, checkpoint, checkpointEvery: 4 };
    let made = 0;
    for (const { latent } of fifo.latents(options)) {
      latent.dispose();
      if (++made === 10) break; // killed between the checkpoints at 8 and 12
    }
    const rest: { index: number; data: Float32Array }[] = [];
    for (const { index, latent } of fifo.latents({ ...options, resume: true })) {
      rest.push({ index, data: latent.readF32() });
      latent.dispose();
    }
    expect(fifo.stats.startedAt).toBe(8);
    expect(rest.map((r) => r.index)).toEqual([8, 9, 10, 11, 12, 13]);
    for (const r of rest) expect(Buffer.from(r.data.buffer).equals(Buffer.from(whole[r.index]!.buffer))).toBe(true);
  });

  test("resuming under other settings names what differs", () => {
    const checkpoint = join(dir, "other.ckpt");
    const options: FifoOptions = { ...SMALL, checkpoint, checkpointEvery: 4 };
    for (const { latent } of fifo.latents(options)) latent.dispose();
    // the finished run's last save was at 8 of 12
    expect(() => [...fifo.latents({ ...options, resume: true, seed: 8 })]).toThrow(/other settings: seed 7 → 8/);
  });
});
