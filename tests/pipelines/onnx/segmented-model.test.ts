/**
 * SegmentedModel with its planned arena, and each segment's OrtModel keeping its bindings:
 * later runs must read this run's inputs (not a buffer bound in an earlier step), must not touch
 * the backend's pool once warm, and values sharing an arena buffer must not clobber each other.
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

  test("once warm takes nothing from the backend's pool, and gives its arena back on dispose", () => {
    const cpu = new CpuBackend();
    const feeds = feedsFor(cpu, 0);
    using out = Tensor.empty(cpu, "f32", SHAPE);
    const seg = SegmentedModel.load(files, cpu);
    const run = () => seg.run(feeds, { out_sample: out }, () => undefined);
    run(); // learns the shapes
    run(); // reserves the arena
    const warm = cpu.poolStats;
    run();
    run();
    expect(cpu.poolStats).toEqual(warm);
    seg.dispose();
    const disposed = cpu.poolStats;
    expect(disposed.heldBytes).toBeGreaterThan(warm.heldBytes);
    // A second model's arena is the first one's memory, taken back from the pool.
    using again = SegmentedModel.load(files, cpu);
    for (let i = 0; i < 2; i++) again.run(feeds, { out_sample: out }, () => undefined);
    expect(cpu.poolStats.allocated).toBe(disposed.allocated);
    expect(cpu.poolStats.reused).toBeGreaterThan(disposed.reused);
    for (const t of Object.values(feeds)) t.dispose();
  });

  test("moving between input shapes gives each shape's bytes as a fresh model would", () => {
    const cpu = new CpuBackend();
    using seg = SegmentedModel.load(files, cpu);
    const rng = new Rng(7);
    const single = {
      sample: Tensor.from(cpu, "f32", [1, 4, 16, 16], rng.normal(new Float32Array(4 * 256))),
      timestep: Tensor.from(cpu, "f32", [], Float32Array.of(600)),
      encoder_hidden_states: Tensor.from(cpu, "f32", [1, 77, 64], rng.normal(new Float32Array(77 * 64))),
    };
    const pair = feedsFor(cpu, 1);
    const runOnce = (model: SegmentedModel, feeds: typeof pair) => {
      using out = Tensor.empty(cpu, "f32", feeds.sample.shape);
      model.run(feeds, { out_sample: out }, () => undefined);
      return new Uint8Array(out.read().buffer);
    };
    const fresh = (feeds: typeof pair) => {
      using model = SegmentedModel.load(files, cpu);
      return runOnce(model, feeds);
    };
    const want = { single: fresh(single), pair: fresh(pair) };
    expect(want.single.length).toBe(want.pair.length / 2);
    for (const [name, feeds] of [["pair", pair], ["single", single], ["single", single], ["pair", pair], ["pair", pair], ["single", single]] as const) {
      expect(runOnce(seg, feeds)).toEqual(want[name]);
    }
    for (const t of [...Object.values(single), ...Object.values(pair)]) t.dispose();
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
