import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelError } from "../../../pipelines/errors.ts";
import { GraphBuilder, type OnnxDtype } from "../../../pipelines/onnx/model-builder.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { Unet } from "../../../pipelines/sd/unet.ts";

const dir = mkdtempSync(join(tmpdir(), "latentloom-unet-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cpu = new CpuBackend();

/**
 * A stand-in UNet with real I/O conventions: out_sample = 2·sample + timestep + mean(context),
 * so each input's handling (dtype, rank, truncation) shows in the output.
 */
function fakeUnet(name: string, opts: { dtype: "f32" | "f16"; timestep: OnnxDtype; timestepRank: 0 | 1; output?: string }): string {
  const g = new GraphBuilder(name);
  const sample = g.input("sample", opts.dtype, ["batch", 4, "h", "w"]);
  const t = g.input("timestep", opts.timestep, opts.timestepRank ? [1] : []);
  const ctx = g.input("encoder_hidden_states", opts.dtype, ["batch", 77, 8]);
  const tf = g.node("Cast", [t], { attrs: { to: opts.dtype === "f16" ? 10 : 1 } });
  const two = g.initializer("two", opts.dtype === "f16" ? new Uint16Array(Float16Array.of(2).buffer) : Float32Array.of(2), [], opts.dtype);
  const doubled = g.node("Mul", [sample, two]);
  const mean = g.node("ReduceMean", [ctx], { attrs: { keepdims: 0 } });
  const out = g.node("Add", [g.node("Add", [doubled, tf]), mean]);
  g.output(out, opts.dtype, ["batch", 4, "h", "w"], opts.output ?? "out_sample");
  const path = join(dir, `${name}.onnx`);
  g.save(path, { opset: 17 });
  return path;
}

function run(path: string, t: number) {
  using unet = Unet.load(path, cpu);
  const x = Float32Array.from({ length: 2 * 4 * 2 * 3 }, (_, i) => i / 8 - 1);
  using sample = Tensor.from(cpu, "f32", [2, 4, 2, 3], x);
  using ctx = Tensor.from(cpu, "f32", [2, 77, 8], new Float32Array(2 * 77 * 8).fill(0.25));
  using out = unet.predict(sample, t, ctx);
  return { x, out: out.readF32(), shape: out.shape };
}

describe("Unet.predict", () => {
  test("feeds a rank-0 f32 timestep and reads out_sample", () => {
    const { x, out, shape } = run(fakeUnet("f32-scalar", { dtype: "f32", timestep: "f32", timestepRank: 0 }), 499.5);
    expect(shape).toEqual([2, 4, 2, 3]);
    expect(Array.from(out)).toEqual(Array.from(x, (v) => Math.fround(2 * v + 499.5 + 0.25)));
  });

  test("truncates fractional timesteps for an int64 [1] timestep", () => {
    const { x, out } = run(fakeUnet("i64-vector", { dtype: "f32", timestep: "i64", timestepRank: 1 }), 999.9);
    expect(Array.from(out)).toEqual(Array.from(x, (v) => Math.fround(2 * v + 999 + 0.25)));
  });

  test("an f16 export gets f16 inputs and returns f32 latents", () => {
    const { x, out } = run(fakeUnet("f16", { dtype: "f16", timestep: "f16", timestepRank: 1 }), 21);
    const expected = Array.from(x, (v) => Math.f16round(Math.f16round(2 * Math.f16round(v)) + 21) + 0.25);
    out.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(0.04));
  });

  test("accepts noise_pred as the output name (fused ControlNet exports)", () => {
    const { out } = run(fakeUnet("noise-pred", { dtype: "f32", timestep: "f32", timestepRank: 0, output: "noise_pred" }), 0);
    expect(out.length).toBe(48);
  });

  test("a model without the UNet inputs is a ModelError naming the file and what was found", () => {
    const g = new GraphBuilder("not-a-unet");
    g.output(g.node("Relu", [g.input("x", "f32", [1])]), "f32", [1], "y");
    const path = join(dir, "not-a-unet.onnx");
    g.save(path);
    expect(() => Unet.load(path, cpu)).toThrow(ModelError);
    expect(() => Unet.load(path, cpu)).toThrow(/not-a-unet\.onnx: expected inputs sample, timestep, encoder_hidden_states .*found inputs x/);
  });
});

describe("Unet.sizeMultiple", () => {
  test("on tiny is the smallest side step the UNet runs at: multiples of it run, the sizes halfway between fail", async () => {
    const { ensureTinyModel } = await import("../../../pipelines/sd/tiny/index.ts");
    using unet = Unet.load(join(await ensureTinyModel("tiny"), "unet", "model.onnx"), cpu);
    const m = unet.sizeMultiple;
    expect(m).toBe(32);
    const runs = (px: number) => {
      using sample = Tensor.from(cpu, "f32", [1, 4, px / 8, px / 8], new Float32Array(4 * (px / 8) ** 2));
      using ctx = Tensor.from(cpu, "f32", [1, 77, unet.contextWidth], new Float32Array(77 * unet.contextWidth));
      try {
        unet.predict(sample, 500, ctx).dispose();
        return true;
      } catch {
        return false;
      }
    };
    expect([m, 2 * m, 3 * m].map(runs)).toEqual([true, true, true]);
    expect([1.5 * m, 2.5 * m].map(runs)).toEqual([false, false]);
  });
});
