/**
 * The video UNet wrapper on the tiny video UNet: per-frame timesteps read from the session (and
 * a clear refusal where there are none), the layouts agreeing with each other, frames that see
 * each other only through the temporal path, the image branch, batching, and hooks on temporal
 * attention.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session, Value } from "../../../ffi/ort/index.ts";
import { ModelError } from "../../../pipelines/errors.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { Rng } from "../../../pipelines/sd/random.ts";
import { ensureTinyModel } from "../../../pipelines/sd/tiny/index.ts";
import { buildTinyVideoUnet } from "../../../pipelines/sd/tiny/video/folder.ts";
import type { TinyVideoUnetOptions } from "../../../pipelines/sd/tiny/video/unet3d.ts";
import { VideoUnet } from "../../../pipelines/sd/video-unet.ts";

const dir = mkdtempSync(join(tmpdir(), "latentloom-video-unet-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cpu = new CpuBackend();
const SEED = 1234;

const paths = new Map<string, string>();
function unetFile(options: TinyVideoUnetOptions = {}): string {
  const key = JSON.stringify(options);
  let path = paths.get(key);
  if (!path) {
    path = join(dir, `unet-${paths.size}.onnx`);
    writeFileSync(path, buildTinyVideoUnet(SEED, options));
    paths.set(key, path);
  }
  return path;
}

const [B, T, H, W] = [1, 4, 8, 8];
const latents = (batch = B, seed = 3) => new Rng(seed).normal(new Float32Array(batch * 4 * T * H * W));
const context = (batch = B, seed = 5) => new Rng(seed).normal(new Float32Array(batch * 77 * 64));
const TIMESTEPS = [999, 666, 333, 0];

function predict(unet: VideoUnet, x: Float32Array, ts: readonly number[], options: { batch?: number; image?: Float32Array; fps?: number; ctx?: Float32Array } = {}): Float32Array {
  const batch = options.batch ?? B;
  using sample = Tensor.from(cpu, "f32", [batch, 4, T, H, W], x);
  using ctx = Tensor.from(cpu, "f32", [batch, 77, 64], options.ctx ?? context(batch));
  using image = options.image ? Tensor.from(cpu, "f32", [batch, 16, 64], options.image) : undefined;
  using out = unet.predict(sample, ts, ctx, { fps: options.fps, imageEmbeds: image });
  return out.readF32();
}

/** Elements of frame `t` of clip 0 in [1, 4, T, H, W]. */
function frame(x: Float32Array, t: number): Float32Array {
  const out = new Float32Array(4 * H * W);
  for (let c = 0; c < 4; c++) out.set(x.subarray((c * T + t) * H * W, (c * T + t + 1) * H * W), c * H * W);
  return out;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe("VideoUnet.load", () => {
  test("reads per-frame timesteps as [batch·frames] or [batch, frames], and the fps and image inputs", () => {
    using flat = VideoUnet.load(unetFile(), cpu);
    using grid = VideoUnet.load(unetFile({ timesteps: "grid" }), cpu);
    using bare = VideoUnet.load(unetFile({ fps: false, imageEmbeds: false }), cpu);
    expect({ layout: flat.timestepLayout, fps: flat.hasFps, image: flat.hasImageEmbeds, width: flat.contextWidth }).toEqual({ layout: "frames", fps: true, image: true, width: 64 });
    expect(grid.timestepLayout).toBe("grid");
    expect([bare.hasFps, bare.hasImageEmbeds]).toEqual([false, false]);
  });

  test("refuses a UNet with one timestep per clip, naming the timestep input it would need", () => {
    expect(() => VideoUnet.load(unetFile({ timesteps: "batch" }), cpu)).toThrow(ModelError);
    expect(() => VideoUnet.load(unetFile({ timesteps: "batch" }), cpu)).toThrow(
      /has no per-frame timestep input: timestep i64 \[batch_size\] has one timestep per clip .*needs timestep \[batch·frames\] or \[batch, frames\]/,
    );
  });

  test("refuses the tiny image UNet, whose timestep is one scalar", async () => {
    const tiny = join(await ensureTinyModel("tiny"), "unet", "model.onnx");
    expect(() => VideoUnet.load(tiny, cpu)).toThrow(/has no per-frame timestep input: timestep f32 \[\] is one scalar for the whole call/);
  });
});

describe("VideoUnet.predict on the tiny video UNet", () => {
  test("the [batch, frames] layout gives the [batch·frames] layout's ε", () => {
    using flat = VideoUnet.load(unetFile(), cpu);
    using grid = VideoUnet.load(unetFile({ timesteps: "grid" }), cpu);
    const x = latents();
    expect(maxDiff(predict(flat, x, TIMESTEPS), predict(grid, x, TIMESTEPS))).toBe(0);
  });

  test("equal per-frame timesteps give what a one-per-clip UNet gives at that timestep", () => {
    using flat = VideoUnet.load(unetFile(), cpu);
    // The per-clip variant cannot be a VideoUnet; its session is run directly.
    const session = Session.create(unetFile({ timesteps: "batch" }), { intraOpThreads: 2 });
    const x = latents();
    const ours = predict(flat, x, [500, 500, 500, 500], { fps: 8 });
    const theirs = session.run({
      sample: Value.fromTypedArray("f32", [B, 4, T, H, W], x),
      timestep: Value.fromTypedArray("i64", [B], BigInt64Array.of(500n)),
      encoder_hidden_states: Value.fromTypedArray("f32", [B, 77, 64], context()),
      fps: Value.fromTypedArray("i64", [B], BigInt64Array.of(8n)),
      image_embeds: Value.fromTypedArray("f32", [B, 16, 64], new Float32Array(B * 16 * 64)),
    }).out_sample!.data as Float32Array;
    expect(maxDiff(ours, theirs)).toBe(0);
  });

  test("each frame's ε follows its own timestep", () => {
    using unet = VideoUnet.load(unetFile({ temporalGain: 0 }), cpu);
    const x = latents();
    const a = predict(unet, x, [999, 666, 333, 0]);
    const b = predict(unet, x, [999, 666, 333, 10]);
    expect(maxDiff(frame(a, 0), frame(b, 0))).toBe(0);
    expect(maxDiff(frame(a, 3), frame(b, 3))).toBeGreaterThan(1e-3);
  });

  describe("frames see each other only through the temporal path", () => {
    const x = latents();
    const changed = Float32Array.from(x);
    for (let c = 0; c < 4; c++) for (let i = 0; i < H * W; i++) changed[(c * T + 2) * H * W + i]! += 1;

    test("with temporalGain 0, changing frame 2 leaves the other frames' ε bit for bit", () => {
      using unet = VideoUnet.load(unetFile({ temporalGain: 0 }), cpu);
      const a = predict(unet, x, TIMESTEPS);
      const b = predict(unet, changed, TIMESTEPS);
      for (const t of [0, 1, 3]) expect({ t, diff: maxDiff(frame(a, t), frame(b, t)) }).toEqual({ t, diff: 0 });
      expect(maxDiff(frame(a, 2), frame(b, 2))).toBeGreaterThan(1e-3);
    });

    test("with the temporal path, its neighbours' ε change too", () => {
      using unet = VideoUnet.load(unetFile(), cpu);
      const a = predict(unet, x, TIMESTEPS);
      const b = predict(unet, changed, TIMESTEPS);
      for (const t of [1, 3]) expect(maxDiff(frame(a, t), frame(b, t))).toBeGreaterThan(1e-4);
    });
  });

  test("zero image embeddings add exactly nothing, others change ε", () => {
    using withImage = VideoUnet.load(unetFile(), cpu);
    using without = VideoUnet.load(unetFile({ imageEmbeds: false }), cpu);
    const x = latents();
    const zero = predict(withImage, x, TIMESTEPS);
    expect(maxDiff(zero, predict(without, x, TIMESTEPS))).toBe(0);
    const image = new Rng(9).normal(new Float32Array(16 * 64));
    expect(maxDiff(zero, predict(withImage, x, TIMESTEPS, { image }))).toBeGreaterThan(1e-4);
  });

  test("fps conditions every frame", () => {
    using unet = VideoUnet.load(unetFile(), cpu);
    const x = latents();
    expect(maxDiff(predict(unet, x, TIMESTEPS, { fps: 8 }), predict(unet, x, TIMESTEPS, { fps: 24 }))).toBeGreaterThan(1e-5);
  });

  test("two clips in one call give what two one-clip calls give", () => {
    using unet = VideoUnet.load(unetFile(), cpu);
    const [x0, x1] = [latents(1, 3), latents(1, 4)];
    const [c0, c1] = [context(1, 5), context(1, 6)];
    const both = predict(unet, Float32Array.of(...x0, ...x1), [...TIMESTEPS, 10, 20, 30, 40], { batch: 2, ctx: Float32Array.of(...c0, ...c1) });
    const a = predict(unet, x0, TIMESTEPS, { ctx: c0 });
    const b = predict(unet, x1, [10, 20, 30, 40], { ctx: c1 });
    expect(maxDiff(both, Float32Array.of(...a, ...b))).toBeLessThan(1e-5);
  });
});

describe("hooks on the tiny video UNet", () => {
  test("temporal attention sites are found as temporal self-attention, with frames as their tokens", () => {
    using unet = VideoUnet.load(unetFile(), cpu);
    const temporal = unet.sites.filter((s) => s.block.place.temporal && s.kind === "q");
    expect(temporal.map((s) => s.block.name)).toContain("down_blocks.0/temp_attentions.0/transformer_blocks.0/attn1");
    expect(temporal).toHaveLength(14);
    expect(temporal.every((s) => s.block.self)).toBe(true);
    const shapes: number[][] = [];
    unet.hook({ site: "q", where: (s) => s.block.name === "down_blocks.0/temp_attentions.0/transformer_blocks.0/attn1" }, (q) => void shapes.push([...q.shape]));
    predict(unet, latents(), TIMESTEPS);
    // [B·H·W·heads, T, d]: every pixel's frames, per head
    expect(shapes).toEqual([[B * H * W * 2, T, 8]]);
  });

  test("an identity hook on every temporal q leaves ε as the uncut UNet makes it", () => {
    using unet = VideoUnet.load(unetFile(), cpu);
    const x = latents();
    const plain = predict(unet, x, TIMESTEPS);
    let calls = 0;
    const handle = unet.hook({ site: "q", where: (s) => s.block.place.temporal }, () => void calls++);
    const hooked = predict(unet, x, TIMESTEPS);
    handle.remove();
    expect(calls).toBe(14);
    expect(maxDiff(plain, hooked)).toBeLessThan(1e-5);
  });
});
