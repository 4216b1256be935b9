/**
 * SegmentedModel on the backend's buffer pool, with each segment's OrtModel keeping its
 * bindings: later runs must read this run's inputs (not a buffer bound in an earlier step) and
 * must take every intermediate from the pool.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findAttentionBlocks } from "../../../pipelines/onnx/attention-sites.ts";
import { cachedSegments, type SegmentFiles } from "../../../pipelines/onnx/graph-cut.ts";
import { readModel } from "../../../pipelines/onnx/model-reader.ts";
import { SegmentedModel } from "../../../pipelines/onnx/segmented-model.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { OrtModel } from "../../../pipelines/runtime/ort-model.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { Rng } from "../../../pipelines/sd/random.ts";
import { ensureTinyModel } from "../../../pipelines/sd/tiny/index.ts";

let files: SegmentFiles;
let path: string;
beforeAll(async () => {
  path = join(await ensureTinyModel(), "unet", "model.onnx");
  const bytes = new Uint8Array(readFileSync(path));
  const model = readModel(bytes);
  const cuts = findAttentionBlocks(model).filter((b) => b.self).flatMap((b) => [b.tensors.probs!, b.tensors.out!]);
  files = cachedSegments(path, bytes, model, cuts);
});

const SHAPE = [2, 4, 16, 16];

function feedsFor(cpu: CpuBackend, round: number) {
  const rng = new Rng(100 + round);
  return {
    sample: Tensor.from(cpu, "f32", SHAPE, rng.normal(new Float32Array(2 * 4 * 256))),
    timestep: Tensor.from(cpu, "f32", [], Float32Array.of(900 - 150 * round)),
    encoder_hidden_states: Tensor.from(cpu, "f32", [2, 77, 64], rng.normal(new Float32Array(2 * 77 * 64))),
  };
}

/** The bytes of one run of a freshly loaded model (its first run: ORT allocates, nothing is kept). */
function freshRun(round: number): Uint8Array {
  const cpu = new CpuBackend();
  using seg = SegmentedModel.load(files, cpu);
  const feeds = feedsFor(cpu, round);
  using out = Tensor.empty(cpu, "f32", SHAPE);
  seg.run(feeds, { out_sample: out }, () => undefined);
  for (const t of Object.values(feeds)) t.dispose();
  return new Uint8Array(out.read().buffer);
}

describe("SegmentedModel run after run", () => {
  test("gives the uncut model's bytes (its segments are optimised as the whole model is)", () => {
    const cpu = new CpuBackend();
    using whole = OrtModel.load(path, cpu);
    using seg = SegmentedModel.load(files, cpu);
    const feeds = feedsFor(cpu, 2);
    using expected = Tensor.empty(cpu, "f32", SHAPE);
    whole.run(feeds, { out_sample: expected });
    for (let round = 0; round < 2; round++) {
      using out = Tensor.empty(cpu, "f32", SHAPE);
      seg.run(feeds, { out_sample: out }, () => undefined);
      expect(new Uint8Array(out.read().buffer)).toEqual(new Uint8Array(expected.read().buffer));
    }
    for (const t of Object.values(feeds)) t.dispose();
  });

  test("gives each run's bytes as a fresh model would, as inputs change in place and anew", () => {
    const cpu = new CpuBackend();
    using seg = SegmentedModel.load(files, cpu);
    const first = feedsFor(cpu, 0);
    using sample = first.sample;
    using context = first.encoder_hidden_states;
    first.timestep.dispose();
    for (let round = 0; round < 3; round++) {
      // The sample tensor is rewritten in place; the timestep is a new tensor every round.
      const want = feedsFor(cpu, round);
      (sample.hostView() as Float32Array).set(want.sample.readF32());
      (context.hostView() as Float32Array).set(want.encoder_hidden_states.readF32());
      want.sample.dispose();
      want.encoder_hidden_states.dispose();
      using out = Tensor.empty(cpu, "f32", SHAPE);
      seg.run({ sample, timestep: want.timestep, encoder_hidden_states: context }, { out_sample: out }, () => undefined);
      want.timestep.dispose();
      expect(new Uint8Array(out.read().buffer)).toEqual(freshRun(round));
    }
  });

  test("takes every intermediate from the backend's pool once warm, and gives them back", () => {
    const cpu = new CpuBackend();
    using seg = SegmentedModel.load(files, cpu);
    const feeds = feedsFor(cpu, 0);
    using out = Tensor.empty(cpu, "f32", SHAPE);
    const run = () => seg.run(feeds, { out_sample: out }, () => undefined);
    run(); // learns the shapes
    run();
    const warm = cpu.poolStats;
    expect(warm.heldBytes).toBeGreaterThan(0);
    run();
    const after = cpu.poolStats;
    expect(after.allocated).toBe(warm.allocated);
    expect(after.reused).toBeGreaterThan(warm.reused + seg.segmentCount);
    expect([after.held, after.heldBytes]).toEqual([warm.held, warm.heldBytes]);
    for (const t of Object.values(feeds)) t.dispose();
  });

  test("a hook's replacement is read by later segments, and without one the plain output comes back bit for bit", () => {
    const cpu = new CpuBackend();
    using seg = SegmentedModel.load(files, cpu);
    const feeds = feedsFor(cpu, 1);
    using plain = Tensor.empty(cpu, "f32", SHAPE);
    using zeroedFirst = Tensor.empty(cpu, "f32", SHAPE);
    seg.run(feeds, { out_sample: plain }, () => undefined);
    const replacements: Tensor[] = [];
    const zeroFirstCut = (cut: number, t: Tensor) => {
      if (cut !== 0) return undefined;
      const z = Tensor.empty(cpu, t.dtype, t.shape);
      replacements.push(z);
      return z;
    };
    for (let round = 0; round < 2; round++) seg.run(feeds, { out_sample: zeroedFirst }, zeroFirstCut);
    expect(new Uint8Array(zeroedFirst.read().buffer)).not.toEqual(new Uint8Array(plain.read().buffer));
    // And back to no replacement: the plain output again, bit for bit.
    using again = Tensor.empty(cpu, "f32", SHAPE);
    seg.run(feeds, { out_sample: again }, () => undefined);
    expect(new Uint8Array(again.read().buffer)).toEqual(new Uint8Array(plain.read().buffer));
    for (const t of [...replacements, ...Object.values(feeds)]) t.dispose();
  });
});
