/**
 * The run primitive and the latent mixing it is fed with: slerp through blend-ops (endpoints,
 * norms, anti-parallel inputs) and crossfeed at each step's input.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { Rng } from "../../../pipelines/sd/random.ts";
import { StableDiffusion } from "../../../pipelines/sd/stable-diffusion.ts";
import { tensorOps } from "../../../pipelines/sd/tensor-ops.ts";
import { emptyStats, mixLatents, runTrajectory, type BlendEngine } from "../../../pipelines/latent-blending/trajectory.ts";

const cpu = new CpuBackend();
const t = (values: number[]) => Tensor.from(cpu, "f32", [values.length], values);
const norm = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0));

/** Float64 slerp of whole vectors, straight from spec §A1 (clamped dot, no fallback). */
function slerpRef(a: number[], b: number[], s: number): number[] {
  const dot = a.reduce((acc, v, i) => acc + v * b[i]!, 0) / (Math.hypot(...a) * Math.hypot(...b));
  const theta = Math.acos(Math.min(1 - 1e-7, Math.max(-1 + 1e-7, dot)));
  return a.map((v, i) => (Math.sin((1 - s) * theta) / Math.sin(theta)) * v + (Math.sin(s * theta) / Math.sin(theta)) * b[i]!);
}

describe("mixing parent latents (slerp of the whole tensor)", () => {
  const a = [3, 0, 0, 0], b = [0, 3, 0, 0];
  test("t = 0 and t = 1 give the parents", () => {
    const m = mixLatents([t(a)], [t(b)], 0, 0, 1);
    expect(Array.from(m[0]!.readF32())).toEqual(a);
    const m1 = mixLatents([t(a)], [t(b)], 1, 0, 1);
    expect(Array.from(m1[0]!.readF32())).toEqual(b);
    const mid = mixLatents([t(a)], [t(b)], 0.3, 0, 1);
    Array.from(mid[0]!.readF32()).forEach((v, i) => expect(v).toBeCloseTo(slerpRef(a, b, 0.3)[i]!, 6));
  });

  test("equal-norm orthogonal inputs keep their norm at t = 0.5", () => {
    const m = mixLatents([t(a)], [t(b)], 0.5, 0, 1);
    expect(norm(m[0]!.readF32())).toBeCloseTo(3, 5);
  });

  test("slerp(p, p, t) = p, and near-parallel inputs match the float64 reference", () => {
    const p = [1, 2, -3, 0.5];
    expect(Array.from(mixLatents([t(p)], [t(p)], 0.4, 0, 1)[0]!.readF32())).toEqual(p);
    const rng = new Rng(4).normal(new Float32Array(512));
    const q = Array.from(rng);
    const r = q.map((v, i) => v + 0.004 * Math.sin(i)); // cosine ≈ 0.99999
    const got = mixLatents([t(q)], [t(r)], 0.5, 0, 1)[0]!.readF32();
    const want = slerpRef(q, r, 0.5);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
  });

  test("anti-parallel inputs stay finite", () => {
    const m = mixLatents([t(a)], [t(a.map((v) => -v))], 0.5, 0, 1)[0]!.readF32();
    expect(Array.from(m).every(Number.isFinite)).toBe(true);
  });

  test("only steps where both parents have a latent are mixed", () => {
    const m = mixLatents([t(a), undefined, t(a)], [t(b), t(b), undefined], 0.5, 0, 3);
    expect(m.map((x) => x !== undefined)).toEqual([true, false, false]);
  });
});

describe("runTrajectory", () => {
  let sd: StableDiffusion;
  beforeAll(async () => {
    sd = await StableDiffusion.load("tiny");
  });
  afterAll(() => sd.dispose());

  function engine(inputs: Float32Array[][]): BlendEngine {
    return {
      sd,
      stats: emptyStats(),
      denoiser: (c) => {
        const d = sd.guidedDenoiser(c);
        return (x, timestep, i) => {
          (inputs[i] ??= []).push(x.readF32());
          return d(x, timestep, i);
        };
      },
    };
  }

  test("a keyframe run equals txt2img's latents with the same seed", () => {
    const scheduler = sd.scheduler("ddim", 4);
    const conditioning = sd.condition("a forest", "", 4);
    using noise = sd.noise(11, 64, 64);
    using start = tensorOps.combine([[scheduler.initNoiseSigma, noise]]);
    const e = engine([]);
    const latents = runTrajectory(e, { conditioning, start, startIndex: 0, scheduler, noise: new Rng(11).fork(1), kind: "keyframe" });
    using reference = sd.generateLatents({ prompt: "a forest", seed: 11, steps: 4, guidance: 4, width: 64, height: 64 });
    expect(Buffer.compare(Buffer.from(latents[3]!.readF32().buffer), Buffer.from(reference.readF32().buffer))).toBe(0);
    expect(e.stats.unetCalls).toBe(4);
  });

  test("crossfeed 1/1/1 makes every step input after the injection the mix latent M[i − 1]", () => {
    const n = 6;
    const conditioning = sd.condition("a desert", "", 4);
    const make = (seed: number) => {
      const scheduler = sd.scheduler("ddim", n);
      using noise = sd.noise(seed, 64, 64);
      using start = tensorOps.combine([[scheduler.initNoiseSigma, noise]]);
      return runTrajectory(engine([]), { conditioning, start, startIndex: 0, scheduler, noise: new Rng(seed).fork(1), kind: "keyframe" });
    };
    const mix = make(1);
    const other = make(2);
    const inputs: Float32Array[][] = [];
    const injection = 2;
    runTrajectory(engine(inputs), {
      conditioning,
      start: other[injection - 1]!,
      startIndex: injection,
      scheduler: sd.scheduler("ddim", n),
      noise: new Rng(3),
      mix,
      crossfeed: new Array(n).fill(1),
      kind: "inbetween",
    });
    for (let i = injection + 1; i < n; i++) {
      // DDIM's model input is the latent itself; CFG batches it twice
      const input = inputs[i]![0]!;
      const want = mix[i - 1]!.readF32();
      let worst = 0;
      for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(input[k]! - want[k]!));
      expect(worst).toBeLessThan(1e-5);
    }
    // and at the injection step itself, the start is used as given
    const first = inputs[injection]![0]!, start = other[injection - 1]!.readF32();
    expect(Buffer.compare(Buffer.from(first.buffer, first.byteOffset, start.byteLength), Buffer.from(start.buffer, start.byteOffset, start.byteLength))).toBe(0);
  });
});
