import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Session, Value } from "../../../../ffi/ort/index.ts";
import { ensureTinyModel } from "../../../../pipelines/sd/tiny/index.ts";
import { Rng } from "../../../../pipelines/sd/random.ts";

const RESIDUALS = ["down_block_0", "down_block_1", "down_block_2", "down_block_3", "down_block_4", "down_block_5", "mid_block_additional_residual"];

let controlnet: Session;
let unet: Session;

beforeAll(async () => {
  const dir = await ensureTinyModel("tiny-controlnet");
  controlnet = Session.create(join(dir, "controlnet", "model.onnx"), { intraOpThreads: 2 });
  unet = Session.create(join(dir, "unet", "model.onnx"), { intraOpThreads: 2 });
});

const f32 = (shape: number[], data?: Float32Array) => Value.fromTypedArray("f32", shape, data ?? new Float32Array(shape.reduce((a, b) => a * b, 1)));

function runControlNet(batch: number, h: number, w: number, cond: (x: number, y: number) => number): Record<string, Value> {
  const image = new Float32Array(batch * 3 * 64 * h * w);
  for (let i = 0; i < image.length; i++) {
    const p = i % (64 * h * w);
    image[i] = cond(p % (8 * w), Math.floor(p / (8 * w)));
  }
  return controlnet.run({
    sample: f32([batch, 4, h, w], new Rng(1).normal(new Float32Array(batch * 4 * h * w))),
    timestep: f32([1], Float32Array.of(600)),
    encoder_hidden_states: f32([batch, 77, 64], new Rng(2).normal(new Float32Array(batch * 77 * 64))),
    controlnet_cond: f32([batch, 3, 8 * h, 8 * w], image),
  });
}

describe("the tiny ControlNet", () => {
  test("takes sample, a 1-D timestep, encoder_hidden_states and controlnet_cond [batch_size,3,H,W]", () => {
    expect(controlnet.inputs.map((i) => [i.name, i.dtype, i.dims.length])).toEqual([
      ["sample", "f32", 4],
      ["timestep", "f32", 1],
      ["encoder_hidden_states", "f32", 3],
      ["controlnet_cond", "f32", 4],
    ]);
  });

  test("returns the down residuals then the mid residual, named as the residual UNet's extra inputs", () => {
    expect(controlnet.outputs.map((o) => o.name)).toEqual(RESIDUALS);
    expect(unet.inputs.map((i) => i.name)).toEqual(["sample", "timestep", "encoder_hidden_states", ...RESIDUALS]);
    for (const [k, output] of controlnet.outputs.entries()) {
      const input = unet.inputs[3 + k]!;
      expect([output.dtype, output.dims, output.dimNames]).toEqual([input.dtype, input.dims, input.dimNames]);
    }
  });

  describe.each([
    [1, 32, 32],
    [2, 24, 40],
  ])("for batch %d at %dx%d latents", (batch, h, w) => {
    test("gives finite residuals shaped like the UNet's skips, which the residual UNet accepts", () => {
      const out = runControlNet(batch, h, w, (x) => (x < 4 * w ? 1 : 0));
      const expected = [[32, h, w], [32, h, w], [32, h / 2, w / 2], [64, h / 2, w / 2], [64, h / 4, w / 4], [64, h / 4, w / 4], [64, h / 4, w / 4]];
      RESIDUALS.forEach((name, i) => {
        expect(out[name]!.shape).toEqual([batch, ...expected[i]!]);
        expect((out[name]!.data as Float32Array).every(Number.isFinite)).toBe(true);
      });
      const result = unet.run({
        sample: f32([batch, 4, h, w]),
        timestep: f32([], Float32Array.of(600)),
        encoder_hidden_states: f32([batch, 77, 64]),
        ...out,
      });
      expect((result.out_sample!.data as Float32Array).every(Number.isFinite)).toBe(true);
    });
  });

  test("lets the control image matter: a white disc changes the residuals noticeably but not wildly", () => {
    const black = runControlNet(1, 32, 32, () => 0);
    const disc = runControlNet(1, 32, 32, (x, y) => (Math.hypot(x - 128, y - 128) < 70 ? 1 : 0));
    for (const name of RESIDUALS) {
      const a = black[name]!.data as Float32Array;
      const b = disc[name]!.data as Float32Array;
      const change = Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0) / a.length);
      const size = Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
      expect(change).toBeGreaterThan(0.05 * size);
      expect(change).toBeLessThan(5 * size);
    }
  });
});
