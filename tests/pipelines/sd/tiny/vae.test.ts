import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Session, Value } from "../../../../ffi/ort/index.ts";
import { ensureTinyModel, VAE_SCALING_FACTOR } from "../../../../pipelines/sd/tiny/index.ts";
import { Rng } from "../../../../pipelines/sd/random.ts";

let encoder: Session;
let decoder: Session;

beforeAll(async () => {
  const dir = await ensureTinyModel();
  encoder = Session.create(join(dir, "vae_encoder", "model.onnx"), { intraOpThreads: 2 });
  decoder = Session.create(join(dir, "vae_decoder", "model.onnx"), { intraOpThreads: 2 });
});

const f32 = (shape: number[], data: Float32Array) => Value.fromTypedArray("f32", shape, data);

/** A smooth latent (sum of a few seeded sinusoids per channel) of unit size, in scaled units. */
function smoothLatent(seed: number, batch: number, h: number, w: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(batch * 4 * h * w);
  for (let bc = 0; bc < batch * 4; bc++) {
    const waves = Array.from({ length: 3 }, () => [rng.uniform() * 6, rng.uniform() * 6, rng.uniform() * 6, 0.4 + 0.6 * rng.uniform()]);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = 0;
        for (const [fy, fx, phase, amp] of waves) v += amp! * Math.sin((fy! * y) / h + (fx! * x) / w + phase!);
        out[(bc * h + y) * w + x] = v;
      }
    }
  }
  return out;
}

function decode(latent: Float32Array, batch: number, h: number, w: number): Float32Array {
  const out = decoder.run({ latent_sample: f32([batch, 4, h, w], latent.map((v) => v / VAE_SCALING_FACTOR)) }).sample!;
  expect(out.shape).toEqual([batch, 3, 8 * h, 8 * w]);
  return out.data as Float32Array;
}

/** Mean HSV saturation (max − min over max) of [-1, 1] RGB planes mapped to [0, 1]. */
function meanSaturation(rgb: Float32Array, pixels: number): number {
  let sum = 0;
  for (let i = 0; i < pixels; i++) {
    const c = [0, 1, 2].map((k) => Math.min(1, Math.max(0, rgb[k * pixels + i]! / 2 + 0.5)));
    const max = Math.max(...c);
    sum += max > 0 ? (max - Math.min(...c)) / max : 0;
  }
  return sum / pixels;
}

describe("the tiny VAE", () => {
  test("decoder has optimum's I/O: latent_sample [batch_size,4,h,w] → sample [batch_size,3,H,W]", () => {
    expect(decoder.inputs.map((i) => [i.name, i.dtype, i.dims])).toEqual([["latent_sample", "f32", [-1, 4, -1, -1]]]);
    expect(decoder.outputs.map((o) => [o.name, o.dtype, o.dims])).toEqual([["sample", "f32", [-1, 3, -1, -1]]]);
    expect(decoder.inputs[0]!.dimNames[0]).toBe("batch_size");
  });

  test("encoder has optimum ≥ 1.23's I/O: sample [batch_size,3,H,W] → latent_parameters [batch_size,8,h,w]", () => {
    expect(encoder.inputs.map((i) => [i.name, i.dtype, i.dims])).toEqual([["sample", "f32", [-1, 3, -1, -1]]]);
    expect(encoder.outputs.map((o) => [o.name, o.dtype, o.dims])).toEqual([["latent_parameters", "f32", [-1, 8, -1, -1]]]);
  });

  describe.each([
    [1, 32, 32],
    [2, 24, 40],
  ])("for batch %d of %dx%d latents", (batch, h, w) => {
    test("decodes ×8 to finite values inside (−1, 1)", () => {
      const image = decode(smoothLatent(1, batch, h, w), batch, h, w);
      expect(image.every((v) => Number.isFinite(v) && v > -1 && v < 1)).toBe(true);
    });

    test("encodes ÷8 to finite means and a logvar near −10", () => {
      const image = decode(smoothLatent(2, batch, h, w), batch, h, w);
      const params = encoder.run({ sample: f32([batch, 3, 8 * h, 8 * w], image) }).latent_parameters!;
      expect(params.shape).toEqual([batch, 8, h, w]);
      const data = params.data as Float32Array;
      expect(data.every(Number.isFinite)).toBe(true);
      const logvar = data[4 * h * w]!;
      expect(logvar).toBeGreaterThan(-12);
      expect(logvar).toBeLessThan(-8);
    });
  });

  test("decodes a smooth latent to saturated colour (mean HSV saturation above 0.5)", () => {
    const image = decode(smoothLatent(3, 1, 32, 32), 1, 32, 32);
    expect(meanSaturation(image, 256 * 256)).toBeGreaterThan(0.5);
  });

  test("decodes a smooth latent to a smooth image (neighbouring pixels differ by under 2% of the range)", () => {
    const image = decode(smoothLatent(4, 1, 32, 32), 1, 32, 32);
    let sum = 0;
    for (let c = 0; c < 3; c++) for (let y = 0; y < 256; y++) for (let x = 0; x + 1 < 256; x++) sum += Math.abs(image[(c * 256 + y) * 256 + x + 1]! - image[(c * 256 + y) * 256 + x]!);
    expect(sum / (3 * 256 * 255) / 2).toBeLessThan(0.02);
  });

  test("roughly inverts the decoder: decode(encode(decode(z))) stays close to decode(z)", () => {
    const image = decode(smoothLatent(5, 1, 32, 32), 1, 32, 32);
    const params = encoder.run({ sample: f32([1, 3, 256, 256], image) }).latent_parameters!.data as Float32Array;
    const mean = params.slice(0, 4 * 32 * 32).map((v) => v * VAE_SCALING_FACTOR);
    const again = decode(mean, 1, 32, 32);
    const rms = Math.sqrt(again.reduce((s, v, i) => s + (v - image[i]!) ** 2, 0) / again.length);
    expect(rms).toBeLessThan(0.1);
  });
});
