/**
 * Cross-frame attention: the joint attention against numbers worked by hand, and through the
 * tiny UNet's and ControlNet's hooks: over identical frames it is plain attention (every pattern
 * frame's K/V equal the frame's own, and duplicated keys leave a softmax average unchanged, spec
 * test idea 2), on a moving clip it changes the output, and a reference image's K/V are recorded
 * once per step, not once per frame.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Frame } from "../../../../pipelines/io/frame.ts";
import { DiffSynth, jointAttention } from "../../../../pipelines/stylize/diffsynth/index.ts";
import { cleanFrame, flickerClip, meanAbsDiff } from "../../../../pipelines/stylize/index.ts";

describe("jointAttention", () => {
  test("one query over two frames' keys: scores 0 and ln 3 → weights ¼, ¾ → [7, 3]", () => {
    // d = 2, scale 1/√2: q·k_b·scale = √2·ln 3/√2 = ln 3
    const q = new Float32Array([Math.SQRT2, 0]);
    const out = jointAttention(q, [new Float32Array([0, 0]), new Float32Array([Math.log(3), 5])], [new Float32Array([4, 0]), new Float32Array([8, 4])], 1, 2);
    expect(out[0]).toBeCloseTo(7, 5);
    expect(out[1]).toBeCloseTo(3, 5);
  });

  test("a frame's keys given twice change nothing; rows attend only within themselves", () => {
    // 2 rows, 2 queries, 3 keys a frame, d = 2
    const r = (n: number, s: number) => new Float32Array(n).map((_, i) => Math.sin(1.3 * i + s));
    const q = r(8, 0), k = r(12, 1), v = r(12, 2);
    const once = jointAttention(q, [k], [v], 2, 2);
    const twice = jointAttention(q, [k, k], [v, v], 2, 2);
    for (let i = 0; i < 8; i++) expect(twice[i]).toBeCloseTo(once[i]!, 6);
    // row 1 alone gives row 1's answer
    const row1 = jointAttention(q.subarray(4), [k.subarray(6)], [v.subarray(6)], 1, 2);
    for (let i = 0; i < 4; i++) expect(once[4 + i]).toBeCloseTo(row1[i]!, 6);
  });
});

describe("cross-frame attention in the tiny UNet and ControlNet", () => {
  let job: DiffSynth;
  beforeAll(async () => {
    job = await DiffSynth.load();
  });
  afterAll(() => job.dispose());
  const size = { width: 64, height: 64 };
  const base = { steps: 4, strength: 1, smoother: false, size };
  async function run(frames: Frame[], options: Parameters<DiffSynth["run"]>[1]) {
    const out: Frame[] = [];
    async function* src() {
      yield* frames;
    }
    for await (const f of job.run(src(), { ...base, ...options })) out.push(f);
    return out;
  }
  const maxDiff = (a: Frame[], b: Frame[]) => Math.max(...a.map((f, i) => Math.max(...f.data.map((v, k) => Math.abs(v - b[i]!.data[k]!)))));

  test("over identical frames, [-1, 0, 1] gives what plain attention [0] gives", async () => {
    const still = Array.from({ length: 3 }, () => cleanFrame(0, size));
    const plain = await run(still, { combinePattern: [0] });
    expect(job.crossFrame!.stats.attended).toBe(0);
    const cross = await run(still, { combinePattern: [-1, 0, 1] });
    const stats = job.crossFrame!.stats;
    const selfAttentions = [job.sd.unet.hooks, job.sd.controlnet!.hooks].flatMap((m) => m.blocks.filter((b) => b.self)).length;
    // every self-attention of both models, for 3 frames at 4 steps
    expect(stats.attended).toBe(selfAttentions * 3 * 4);
    expect(maxDiff(cross, plain)).toBeLessThanOrEqual(1);
  });

  test("on a moving clip, attending over the neighbours changes the frames", async () => {
    const clip: Frame[] = [];
    for await (const f of flickerClip({ frames: 3, ...size })) clip.push(f);
    // from the noised frames (strength 0.6), where the frames differ most
    const plain = await run(clip, { combinePattern: [0], strength: 0.6 });
    const cross = await run(clip, { combinePattern: [-1, 0, 1], strength: 0.6 });
    const change = cross.reduce((s, f, i) => s + meanAbsDiff(f, plain[i]!), 0) / 3;
    console.log(`cross-frame [-1, 0, 1] vs [0]: mean |Δ| ${change.toFixed(2)} per byte`);
    expect(change).toBeGreaterThan(0.5);
  });

  test("a reference image's K/V are recorded once per step and change the result", async () => {
    const clip: Frame[] = [];
    for await (const f of flickerClip({ frames: 3, ...size })) clip.push(f);
    const reference = cleanFrame(20, { ...size, seed: 9 });
    const before = { ...job.stats };
    const plain = await run(clip, { combinePattern: [0] });
    const mid = { ...job.stats };
    const withRef = await run(clip, { combinePattern: ["reference_0", 0], references: [reference] });
    expect(mid.recordPasses - before.recordPasses).toBe(0);
    // DiffSynth runs the reference in every frame's batch (3 × 4 times); we record it once a step
    expect(job.stats.recordPasses - mid.recordPasses).toBe(4);
    expect(withRef.reduce((s, f, i) => s + meanAbsDiff(f, plain[i]!), 0) / 3).toBeGreaterThan(0.5);
  });
});
