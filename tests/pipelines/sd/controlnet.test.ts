import { afterAll, describe, expect, test } from "bun:test";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { ControlGuidance, residualInputs } from "../../../pipelines/sd/control-guidance.ts";
import { guessModeScales, residualLayoutFromConfig } from "../../../pipelines/sd/controlnet.ts";
import { controlImageTensor } from "../../../pipelines/sd/preprocess/control-image.ts";
import { StableDiffusion } from "../../../pipelines/sd/stable-diffusion.ts";

const sd = await StableDiffusion.load("tiny-controlnet");
afterAll(() => sd.dispose());
const cn = sd.controlnet!;
const base = { prompt: "a red fox in the snow", steps: 4, width: 64, height: 64, seed: 3 };

/** Vertical stripes: a control picture with strong structure. */
const stripes: Frame = {
  width: 64,
  height: 64,
  data: Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (Math.floor((i / 3) % 64 / 8) % 2 ? 255 : 0)),
};
const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const readAll = (ts: Tensor[]) => ts.map((t) => {
  using owned = t;
  return owned.readF32();
});

describe("ControlNet", () => {
  test("guess-mode weights are logspace(−1, 0, N): 0.1 up to 1 in equal ratios", () => {
    const s = guessModeScales(13);
    expect(s[0]).toBeCloseTo(0.1, 12);
    expect(s[12]).toBe(1);
    for (let i = 1; i < 13; i++) expect(s[i]! / s[i - 1]!).toBeCloseTo(10 ** (1 / 12), 12);
  });

  test("an SD 1.5 config gives the 12 + 1 residual table of sd-onnx-layout.md §4", () => {
    const layout = residualLayoutFromConfig({ block_out_channels: [320, 640, 1280, 1280], layers_per_block: 2 });
    expect(layout).toEqual({
      channels: [320, 320, 320, 320, 640, 640, 640, 1280, 1280, 1280, 1280, 1280, 1280],
      factors: [1, 1, 1, 2, 2, 2, 4, 4, 4, 8, 8, 8, 8],
    });
  });

  test("tiny-controlnet: the folder's controlnet/ is loaded and its residuals map onto the UNet's inputs", () => {
    const names = residualInputs(sd.unet.model.inputs).map((i) => i.name);
    expect(names).toEqual(["down_block_0", "down_block_1", "down_block_2", "down_block_3", "down_block_4", "down_block_5", "mid_block_additional_residual"]);
    expect(cn.residualCount).toBe(names.length);
    expect(cn.residualShapes(2, 8, 8, residualInputs(sd.unet.model.inputs))).toEqual([
      [2, 32, 8, 8], [2, 32, 8, 8], [2, 32, 4, 4], [2, 64, 4, 4], [2, 64, 2, 2], [2, 64, 2, 2], [2, 64, 2, 2],
    ]);
  });

  describe("residuals", () => {
    const backend = sd.backend;
    // made here and freed after the tests (a `using` would free them before the tests run)
    const sample = Tensor.from(backend, "f32", [1, 4, 8, 8], Float32Array.from({ length: 256 }, (_, i) => Math.sin(i)));
    const context = sd.textEncoder.encode(["a red fox"]);
    const cond = controlImageTensor(stripes, backend, 64, 64);
    afterAll(() => [sample, context, cond].forEach((t) => t.dispose()));
    const one = readAll(cn.residuals(sample, 500, context, cond, 1));

    test("scale multiplies every residual", () => {
      const half = readAll(cn.residuals(sample, 500, context, cond, 0.5));
      half.forEach((r, i) => expect(maxAbsDiff(r, one[i]!.map((v) => v * 0.5))).toBeLessThan(1e-6));
    });

    test("per-residual scales weight each residual on its own", () => {
      const scales = guessModeScales(cn.residualCount);
      const weighted = readAll(cn.residuals(sample, 500, context, cond, scales));
      weighted.forEach((r, i) => expect(maxAbsDiff(r, one[i]!.map((v) => v * scales[i]!))).toBeLessThan(1e-6));
    });

    test("depend on the control image", () => {
      using flat = controlImageTensor({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(128) }, backend, 64, 64);
      const other = readAll(cn.residuals(sample, 500, context, flat, 1));
      expect(maxAbsDiff(other[0]!, one[0]!)).toBeGreaterThan(1e-3);
    });
  });
});

describe("StableDiffusion with ControlNet (tiny-controlnet)", () => {
  const plain = sd.generate(base);

  test("without control runs on zero residuals, the same as a zero-scale control", () => {
    const zero = sd.generate({ ...base, control: [{ image: stripes, scale: 0 }] });
    expect(Buffer.compare(zero.data, plain.data)).toBe(0);
  });

  test("a control image changes the output", () => {
    const controlled = sd.generate({ ...base, control: [{ image: stripes }] });
    const diff = controlled.data.reduce((s, v, i) => s + Math.abs(v - plain.data[i]!), 0) / plain.data.length;
    expect(diff).toBeGreaterThan(1);
  });

  test("the same ControlNet twice at scale 0.5 equals it once at 1.0", () => {
    using once = sd.generateLatents({ ...base, control: [{ image: stripes, scale: 1 }] });
    using twice = sd.generateLatents({ ...base, control: [{ image: stripes, scale: 0.5 }, { image: stripes, scale: 0.5, model: cn }] });
    expect(maxAbsDiff(once.readF32(), twice.readF32())).toBeLessThan(1e-5);
  });

  test("guess mode feeds zeros to the unconditional half and logspace-weighted residuals of a conditional-only run to the other", () => {
    using guidance = sd.controlGuidance([{ image: stripes, guessMode: true, scale: 0.8 }], 64, 64, 4);
    using x = Tensor.from(sd.backend, "f32", [1, 4, 8, 8], Float32Array.from({ length: 256 }, (_, i) => Math.cos(i)));
    using batch = Tensor.empty(sd.backend, "f32", [2, 4, 8, 8]);
    sd.backend.copy(batch.storage, 0, x.storage, 0, x.byteLength);
    sd.backend.copy(batch.storage, x.byteLength, x.storage, 0, x.byteLength);
    const { context } = sd.condition("a red fox", "", 7.5);
    using ctx = context;
    using condHalf = ctx.slice(1, 2);
    using cond = controlImageTensor(stripes, sd.backend, 64, 64);
    const manual = readAll(cn.residuals(x, 700, condHalf, cond, 1));
    using feeds = guidance.feeds(batch, 700, 1, ctx);
    const names = residualInputs(sd.unet.model.inputs).map((i) => i.name);
    const weights = guessModeScales(names.length);
    names.forEach((name, i) => {
      const got = feeds.inputs[name]!.readF32();
      const n = got.length / 2;
      expect(got.subarray(0, n).every((v) => v === 0)).toBe(true);
      expect(maxAbsDiff(got.subarray(n), manual[i]!.map((v) => v * 0.8 * weights[i]!))).toBeLessThan(1e-6);
    });
    expect(guidance.runs).toBe(1);
  });

  test("start/end: the ControlNet runs only inside the window, and residuals are zero outside it", () => {
    const steps = 8;
    using guidance = sd.controlGuidance([{ image: stripes, start: 0.25, end: 0.75 }], 64, 64, steps);
    const active = Array.from({ length: steps }, (_, i) => guidance.isActive(0, i));
    // diffusers' rule: i/n ≥ start and (i+1)/n ≤ end
    expect(active).toEqual([false, false, true, true, true, true, false, false]);
    const scheduler = sd.scheduler("ddim", steps);
    const conditioning = sd.condition(base.prompt, "", 7.5);
    using context = conditioning.context;
    using noise = sd.noise(1, 64, 64);
    using out = sd.denoise({ latents: noise, conditioning, scheduler, seed: 1, control: guidance });
    expect(guidance.runs).toBe(4);
    using x = Tensor.empty(sd.backend, "f32", [2, 4, 8, 8]);
    using outside = guidance.feeds(x, 900, 0, context);
    expect(Object.values(outside.inputs).every((t) => t.readF32().every((v) => v === 0))).toBe(true);
    expect(guidance.runs).toBe(4);
  });

  test("a window changes the picture less than control over the whole schedule", () => {
    const full = sd.generate({ ...base, control: [{ image: stripes }] });
    const late = sd.generate({ ...base, control: [{ image: stripes, start: 0.5 }] });
    const d = (a: Frame, b: Frame) => a.data.reduce((s, v, i) => s + Math.abs(v - b.data[i]!), 0);
    expect(d(late, plain)).toBeGreaterThan(0);
    expect(d(late, plain)).toBeLessThan(d(full, plain));
  });

  test("runs without guidance too (one batch, no CFG)", () => {
    const a = sd.generate({ ...base, guidance: 1 });
    const b = sd.generate({ ...base, guidance: 1, control: [{ image: stripes, guessMode: true }] });
    expect(Buffer.compare(a.data, b.data)).not.toBe(0);
  });

  test("a control image of another size is resized to the generation", () => {
    const small: Frame = { width: 32, height: 24, data: new Uint8Array(32 * 24 * 3).fill(200) };
    const frame = sd.generate({ ...base, control: [{ image: small }] });
    expect([frame.width, frame.height]).toEqual([64, 64]);
  });

  test("bad windows are refused with the rule", () => {
    expect(() => sd.generate({ ...base, control: [{ image: stripes, start: 0.8, end: 0.2 }] })).toThrow("control 0: start 0.8 and end 0.2 must satisfy 0 ≤ start ≤ end ≤ 1");
  });
});

describe("control on a UNet that takes no residuals", () => {
  test("is refused, naming what the UNet needs", async () => {
    using plainSd = await StableDiffusion.load("tiny");
    expect(plainSd.controlnet).toBeUndefined();
    expect(() => plainSd.generate({ ...base, control: [{ image: stripes, model: cn }] })).toThrow(/this UNet takes no ControlNet residuals/);
  });

  test("a guidance with no controls leaves a plain UNet's feeds empty", () => {
    using g = new ControlGuidance([], [], "f32", sd.backend, { width: 64, height: 64 }, 4);
    using x = Tensor.empty(sd.backend, "f32", [1, 4, 8, 8]);
    using feeds = g.feeds(x, 1, 0, x);
    expect(feeds.inputs).toEqual({});
  });
});
