/**
 * Soak: 2,000 predicts of the tiny UNet cut at its attention sites, with hooks that read and
 * replace tensors, the way attention interpolation drives it. Every output must equal the first
 * (a stale or moved binding would show), and RSS must stay flat after warm-up (a leak of
 * OrtValues, bindings or pooled buffers would show).
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { Rng } from "../../../pipelines/sd/random.ts";
import { ensureTinyModel } from "../../../pipelines/sd/tiny/index.ts";
import { Unet } from "../../../pipelines/sd/unet.ts";

const PREDICTS = 2_000;
const WARMUP = 200;

describe("the cut tiny UNet under a soak of 2,000 predicts with hooks", () => {
  test("gives the same output every time and does not keep growing RSS", async () => {
    const cpu = new CpuBackend();
    using unet = Unet.load(join(await ensureTinyModel(), "unet", "model.onnx"), cpu);
    const rng = new Rng(3);
    using sample = Tensor.from(cpu, "f32", [2, 4, 8, 8], rng.normal(new Float32Array(2 * 4 * 8 * 8)));
    using context = Tensor.from(cpu, "f32", [2, 77, 64], rng.normal(new Float32Array(2 * 77 * 64)));
    let calls = 0;
    // Reads probs; replaces out with a fresh copy (a new tensor per call, as a blend would make).
    const probs = unet.hook({ site: "probs", self: true }, (t) => void (calls += t.readF32()[0]! >= 0 ? 1 : 0));
    const out = unet.hook({ site: "out", self: true }, (t) => Tensor.from(cpu, "f32", [...t.shape], t.readF32()));
    try {
      let first: Float32Array | undefined;
      let different = 0;
      let rssAfterWarmup = 0;
      for (let i = 0; i < PREDICTS; i++) {
        using y = unet.predict(sample, 500 - (i % 3), context, {}, { index: i % 8 });
        const v = y.readF32();
        if (i < 3) first = i === 0 ? v : first;
        else if (i % 3 === 0 && v.some((x, j) => x !== first![j])) different++;
        if (i % 250 === 0) Bun.gc(true);
        if (i === WARMUP) rssAfterWarmup = process.memoryUsage().rss;
      }
      Bun.gc(true);
      const growthMiB = (process.memoryUsage().rss - rssAfterWarmup) / 2 ** 20;
      expect(calls).toBe(PREDICTS * 7);
      expect(different).toBe(0);
      expect(growthMiB).toBeLessThan(20);
    } finally {
      probs.remove();
      out.remove();
    }
  });
});
