/**
 * The tiny-inpaint and tiny-upscaler variants: their I/O is the real exports' (9-channel
 * inpainting UNet; x4 upscaler UNet with class_labels, ×4 decoder, low-res scheduler), adding
 * them left the other variants' bytes alone, and the inpainting UNet uses its masked latents.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureTinyModel, tinyModelFolderName } from "../../../../pipelines/sd/tiny/index.ts";
import { OrtModel } from "../../../../pipelines/runtime/ort-model.ts";
import { CpuBackend } from "../../../../pipelines/runtime/cpu-backend.ts";
import { Tensor } from "../../../../pipelines/runtime/tensor.ts";
import { Rng } from "../../../../pipelines/sd/random.ts";

const cpu = new CpuBackend();
const io = (m: OrtModel) => ({ inputs: m.inputs.map((i) => [i.name, i.dtype, i.dims.length]), outputs: m.outputs.map((o) => [o.name, o.dtype]) });

describe("the tiny-inpaint variant", () => {
  let dir: string;
  let unet: OrtModel;
  beforeAll(async () => {
    dir = await ensureTinyModel("tiny-inpaint");
    unet = OrtModel.load(join(dir, "unet", "model.onnx"), cpu);
  });
  afterAll(() => unet.dispose());

  test("has its own cache folder and a 9-channel UNet named like the tiny one", () => {
    expect(dir.endsWith(tinyModelFolderName("tiny-inpaint"))).toBe(true);
    expect(unet.input("sample")!.dims[1]).toBe(9);
    expect(io(unet).outputs).toEqual([["out_sample", "f32"]]);
    expect(JSON.parse(readFileSync(join(dir, "unet", "config.json"), "utf8")).in_channels).toBe(9);
    expect(existsSync(join(dir, "vae_encoder", "model.onnx"))).toBe(true);
  });

  test("predicts x̂₀ = the masked-image latents where the mask is 0, and its own picture where it is 1", () => {
    const [h, w, t] = [8, 8, 500];
    const rng = new Rng(5);
    const x = rng.normal(new Float32Array(4 * h * w));
    const masked = rng.normal(new Float32Array(4 * h * w));
    const mask = Float32Array.from({ length: h * w }, (_, i) => (i % w >= w / 2 ? 1 : 0));
    const predict = (m: Float32Array) => {
      using sample = Tensor.from(cpu, "f32", [1, 9, h, w], Float32Array.from([...x, ...mask, ...m]));
      using timestep = Tensor.from(cpu, "f32", [], Float32Array.of(t));
      using context = Tensor.from(cpu, "f32", [1, 77, 64], new Float32Array(77 * 64));
      using out = Tensor.empty(cpu, "f32", [1, 4, h, w]);
      unet.run({ sample, timestep, encoder_hidden_states: context }, { out_sample: out });
      return out.readF32();
    };
    const eps = predict(masked);
    // SD 1.x ᾱ at t = 500, from the scaled_linear schedule
    let abar = 1;
    for (let i = 0; i <= t; i++) abar *= 1 - (Math.sqrt(0.00085) + ((Math.sqrt(0.012) - Math.sqrt(0.00085)) * i) / 999) ** 2;
    let far = 0;
    for (let i = 0; i < eps.length; i++) {
      const keepEps = (x[i]! - Math.sqrt(abar) * masked[i]!) / Math.sqrt(1 - abar);
      if (mask[i % (h * w)] === 0) expect(eps[i]!).toBeCloseTo(keepEps, 3);
      else if (Math.abs(eps[i]! - keepEps) > 0.1) far++;
    }
    expect(far).toBeGreaterThan(0.75 * (eps.length / 2));
  });
});

describe("the tiny-upscaler variant", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await ensureTinyModel("tiny-upscaler");
  });

  test("is laid out as an SD x4 upscaler: 7-channel UNet with class_labels, ×4 decoder, low-res scheduler", () => {
    using unet = OrtModel.load(join(dir, "unet", "model.onnx"), cpu);
    expect(io(unet).inputs).toEqual([["sample", "f32", 4], ["timestep", "f32", 1], ["encoder_hidden_states", "f32", 3], ["class_labels", "i64", 1]]);
    expect(unet.input("sample")!.dims[1]).toBe(7);
    const index = JSON.parse(readFileSync(join(dir, "model_index.json"), "utf8"));
    expect(index._class_name).toBe("StableDiffusionUpscalePipeline");
    expect(index.max_noise_level).toBe(350);
    expect(JSON.parse(readFileSync(join(dir, "vae_decoder", "config.json"), "utf8")).scaling_factor).toBe(0.08333);
    expect(JSON.parse(readFileSync(join(dir, "scheduler", "scheduler_config.json"), "utf8")).prediction_type).toBe("v_prediction");
    expect(JSON.parse(readFileSync(join(dir, "low_res_scheduler", "scheduler_config.json"), "utf8"))._class_name).toBe("DDPMScheduler");
    expect(existsSync(join(dir, "vae_encoder"))).toBe(false);
    using decoder = OrtModel.load(join(dir, "vae_decoder", "model.onnx"), cpu);
    using z = Tensor.from(cpu, "f32", [1, 4, 5, 6], new Float32Array(120));
    using image = Tensor.empty(cpu, "f32", [1, 3, 20, 24]);
    decoder.run({ latent_sample: z }, { sample: image });
    expect(image.readF32().every((v) => Math.abs(v) < 0.2)).toBe(true);
  });
});
