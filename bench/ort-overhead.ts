/**
 * Cost of one Run through our bun:ffi binding vs onnxruntime-node's JavaScript API, on the same
 * model bytes, the same library file (onnxruntime-node's own libonnxruntime), one intra-op
 * thread, sequential execution, in one process. Each loop feeds one prepared input, runs, and
 * touches the output's data (run_into_*: both write into a preallocated output instead); rounds
 * alternate between the two, and the figure is the median of the per-round means.
 *
 * Then the path the pipelines take, OrtModel.run (Tensors in, preallocated Tensors out, bindings
 * kept between runs), on the same Add and on one segment of the tiny UNet cut at attention
 * interpolation's hook sites, against onnxruntime-node writing into preallocated outputs, and
 * against OrtModel's former way of binding (new OrtValues and bindings for every tensor on every
 * run, rebuilt here from the same ffi/ort pieces) so before and after come from one run.
 *
 *   bun run bench/ort-overhead.ts            JSON lines on stdout, a table on stderr
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { IoBinding, ortLibraryPath, ortVersion, Session, Value } from "../ffi/ort/index.ts";
import { cachedSegments } from "../pipelines/onnx/graph-cut.ts";
import { GraphBuilder } from "../pipelines/onnx/model-builder.ts";
import { readModel } from "../pipelines/onnx/model-reader.ts";
import { CpuBackend } from "../pipelines/runtime/cpu-backend.ts";
import { OrtModel } from "../pipelines/runtime/ort-model.ts";
import { Tensor } from "../pipelines/runtime/tensor.ts";
import { Rng } from "../pipelines/sd/random.ts";
import { ensureTinyModel } from "../pipelines/sd/tiny/index.ts";
import { Unet } from "../pipelines/sd/unet.ts";

const WARMUP = 2_000;
const ROUNDS = 9;
const RUNS_PER_ROUND = 5_000;

interface Case {
  readonly metric: string;
  readonly label: string;
  readonly model: Uint8Array;
  readonly shape: number[];
  /** Write into a preallocated output (our runInto, their fetches) instead of a new one per run. */
  readonly into?: boolean;
}

function addModel(): Uint8Array {
  const g = new GraphBuilder("add_1x64");
  const x = g.input("x", "f32", [1, 64]);
  g.output(g.node("Add", [x, x]), "f32", [1, 64], "y");
  return g.toModel({ opset: 17 });
}

function matmulModel(): Uint8Array {
  const g = new GraphBuilder("matmul_64x64");
  const x = g.input("x", "f32", [64, 64]);
  const w = g.initializer("w", Float32Array.from({ length: 64 * 64 }, (_, i) => ((i * 7919) % 101) / 101 - 0.5), [64, 64]);
  g.output(g.node("MatMul", [x, w]), "f32", [64, 64], "y");
  return g.toModel({ opset: 17 });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function measure(c: Case): Promise<{ ours: number; theirs: number }> {
  const input = Float32Array.from({ length: c.shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 13) - 6);

  using session = Session.create(c.model, { intraOpThreads: 1, interOpThreads: 1, executionMode: "sequential" });
  using x = Value.fromTypedArray("f32", c.shape, input);
  const feeds = { x };
  let sink = 0;
  const outData = new Float32Array(input.length);
  using out = Value.fromTypedArray("f32", c.shape, outData);
  const outputs = { y: out };
  const oursLoop = c.into
    ? (n: number) => {
        for (let i = 0; i < n; i++) {
          session.runInto(feeds, outputs);
          sink += outData[0] as number;
        }
      }
    : (n: number) => {
        for (let i = 0; i < n; i++) {
          const { y } = session.run(feeds);
          sink += (y as Value<"f32">).data[0] as number;
          (y as Value).dispose();
        }
      };

  const theirSession = await ort.InferenceSession.create(c.model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
  });
  const theirFeeds = { x: new ort.Tensor("float32", input, c.shape) };
  const theirOut = new ort.Tensor("float32", new Float32Array(input.length), c.shape);
  const fetches = { y: theirOut };
  const theirsLoop = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const { y } = c.into ? await theirSession.run(theirFeeds, fetches) : await theirSession.run(theirFeeds);
      sink += (y as ort.Tensor).data[0] as number;
    }
  };

  oursLoop(WARMUP);
  await theirsLoop(WARMUP);
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    oursLoop(RUNS_PER_ROUND);
    ours.push(((performance.now() - t) * 1000) / RUNS_PER_ROUND);
    t = performance.now();
    await theirsLoop(RUNS_PER_ROUND);
    theirs.push(((performance.now() - t) * 1000) / RUNS_PER_ROUND);
  }
  await theirSession.release();
  if (!Number.isFinite(sink)) throw new Error("unexpected non-finite output");
  return { ours: median(ours), theirs: median(theirs) };
}

const cases: Case[] = [
  { metric: "run_add_1x64", label: "Add 1x64", model: addModel(), shape: [1, 64] },
  { metric: "run_matmul_64x64", label: "MatMul 64x64 @ 64x64", model: matmulModel(), shape: [64, 64] },
  { metric: "run_into_add_1x64", label: "Add 1x64, preallocated", model: addModel(), shape: [1, 64], into: true },
];

const rows: string[] = [];
for (const c of cases) {
  const { ours, theirs } = await measure(c);
  const ratio = ours / theirs;
  const line = { bench: "ort-overhead", metric: c.metric, value: round(ours), unit: "us", vs: "onnxruntime-node", ratio: round(ratio, 3) };
  console.log(JSON.stringify(line));
  rows.push(`${c.label.padEnd(24)} ${ours.toFixed(2).padStart(9)} ${theirs.toFixed(2).padStart(12)} ${ratio.toFixed(3).padStart(7)}`);
}

// ---- The pipelines' path: OrtModel.run ----

type Feeds = Record<string, Tensor>;

/** OrtModel.run as it was: a new OrtValue and binding for every tensor on every run. */
function rebindingRun(session: Session, binding: IoBinding, feeds: Feeds, outputs: Feeds): void {
  const values: Value[] = [];
  const wrap = (t: Tensor) => {
    const v = Value.fromTypedArray(t.dtype, t.shape, t.hostView() as never);
    values.push(v);
    return v;
  };
  try {
    for (const [name, t] of Object.entries(feeds)) binding.bindInput(name, wrap(t));
    for (const [name, t] of Object.entries(outputs)) binding.bindOutput(name, wrap(t));
    binding.run();
  } finally {
    binding.clear();
    for (const v of values) v.dispose();
  }
  void session;
}

interface PipelineCase {
  readonly metric: string;
  readonly label: string;
  readonly path: string;
  /** Bytes and external-data folder for onnxruntime-node. */
  readonly bytes: Uint8Array;
  readonly externalDataDir?: string;
  readonly feeds: Feeds;
  readonly outputs: Feeds;
  readonly runs: number;
}

const cpu = new CpuBackend();
const ortNodeType = { f32: "float32", f16: "float16", i32: "int32", i64: "int64", u8: "uint8" } as const;
const toOrtNode = (t: Tensor) => new ort.Tensor(ortNodeType[t.dtype], t.read() as never, [...t.shape]);

async function measurePipeline(c: PipelineCase): Promise<{ ours: number; before: number; theirs: number }> {
  const options = { threads: 1, externalDataDir: c.externalDataDir, config: { "session.intra_op.allow_spinning": "0" } };
  const model = OrtModel.load(c.path, cpu, options);
  // The former path on its own session of the same model, so neither sees the other's bindings.
  const oldModel = OrtModel.load(c.path, cpu, options);
  const oldBinding = new IoBinding(oldModel.session);
  const theirSession = await ort.InferenceSession.create(c.bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
    extra: {
      session: {
        "intra_op.allow_spinning": "0",
        ...(c.externalDataDir ? { model_external_initializers_file_folder_path: c.externalDataDir } : {}),
      },
    },
  } as ort.InferenceSession.SessionOptions);
  const theirFeeds = Object.fromEntries(Object.entries(c.feeds).map(([n, t]) => [n, toOrtNode(t)]));
  const fetches = Object.fromEntries(Object.entries(c.outputs).map(([n, t]) => [n, toOrtNode(t)]));
  const firstOut = Object.values(c.outputs)[0]!;
  const firstFetch = Object.values(fetches)[0]!;
  let sink = 0;
  const oursLoop = (n: number) => {
    for (let i = 0; i < n; i++) {
      model.run(c.feeds, c.outputs);
      sink += (firstOut.hostView() as Float32Array)[0]!;
    }
  };
  const beforeLoop = (n: number) => {
    for (let i = 0; i < n; i++) {
      rebindingRun(oldModel.session, oldBinding, c.feeds, c.outputs);
      sink += (firstOut.hostView() as Float32Array)[0]!;
    }
  };
  const theirsLoop = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await theirSession.run(theirFeeds, fetches);
      sink += (firstFetch.data as Float32Array)[0]!;
    }
  };
  const warmup = Math.max(20, Math.round(c.runs / 2));
  oursLoop(warmup);
  beforeLoop(warmup);
  await theirsLoop(warmup);
  const ours: number[] = [];
  const before: number[] = [];
  const theirs: number[] = [];
  const time = async (loop: (n: number) => void | Promise<void>, into: number[]) => {
    const t = performance.now();
    await loop(c.runs);
    into.push(((performance.now() - t) * 1000) / c.runs);
  };
  for (let r = 0; r < ROUNDS; r++) {
    await time(oursLoop, ours);
    await time(beforeLoop, before);
    await time(theirsLoop, theirs);
  }
  await theirSession.release();
  oldBinding.dispose();
  oldModel.dispose();
  model.dispose();
  if (!Number.isFinite(sink)) throw new Error("unexpected non-finite output");
  return { ours: median(ours), before: median(before), theirs: median(theirs) };
}

/**
 * Segments of the tiny UNet (256×256, batch 2) cut where attention interpolation hooks it
 * (self-attention probs at 32² keys and below, self-attention out), with inputs of the shapes a
 * real run hands them: the segments are run once, in order, to make them.
 */
async function unetSegmentCases(picks: readonly { index: number; runs: number }[]): Promise<PipelineCase[]> {
  const path = join(await ensureTinyModel(), "unet", "model.onnx");
  const bytes = new Uint8Array(readFileSync(path));
  // The cut set bench/hooks.ts times: self-attention probs where keys ≤ 32², self-attention out.
  const cuts = (() => {
    using unet = Unet.load(path, cpu);
    unet.hook({ site: "probs", self: true, maxRes: 32, blocks: ["down", "mid", "up"] }, () => undefined);
    unet.hook({ site: "out", self: true, blocks: ["down", "mid", "up"] }, () => undefined);
    return unet.hooks.selectedSites(32, 32).map((site) => site.tensor);
  })();
  const files = cachedSegments(path, bytes, readModel(bytes, path), cuts);
  const rng = new Rng(1);
  const live: Feeds = {
    sample: Tensor.from(cpu, "f32", [2, 4, 32, 32], rng.normal(new Float32Array(2 * 4 * 32 * 32))),
    timestep: Tensor.from(cpu, "f32", [], Float32Array.of(500)),
    encoder_hidden_states: Tensor.from(cpu, "f32", [2, 77, 64], rng.normal(new Float32Array(2 * 77 * 64))),
  };
  const last = Math.max(...picks.map((p) => p.index));
  const cases: PipelineCase[] = [];
  for (let k = 0; k <= last; k++) {
    const segment = files.plan.segments[k]!;
    const feeds = Object.fromEntries(segment.inputs.map((n) => [n, live[n]!]));
    using model = OrtModel.load(files.files[k]!, cpu, { threads: 1, externalDataDir: files.externalDataDir });
    const made = model.runAllocating(feeds, segment.outputs);
    const pick = picks.find((p) => p.index === k);
    if (pick) {
      // Its own output tensors, so the next segment's inputs stay what this one was fed.
      const outputs = Object.fromEntries(Object.entries(made).map(([n, t]) => [n, Tensor.empty(cpu, t.dtype, t.shape)]));
      cases.push({
        metric: `ortmodel_run_tiny_unet_segment_${k}`,
        label: `UNet seg ${k} (${segment.nodeCount} nodes)`,
        path: files.files[k]!,
        bytes: new Uint8Array(readFileSync(files.files[k]!)),
        externalDataDir: files.externalDataDir,
        feeds,
        outputs,
        runs: pick.runs,
      });
    }
    Object.assign(live, made);
  }
  return cases;
}

const dir = mkdtempSync(join(tmpdir(), "latentloom-bench-"));
const addPath = join(dir, "add_1x64.onnx");
writeFileSync(addPath, addModel());
const addInput = Tensor.from(cpu, "f32", [1, 64], Float32Array.from({ length: 64 }, (_, i) => (i % 13) - 6));
const pipelineCases: PipelineCase[] = [
  {
    metric: "ortmodel_run_add_1x64",
    label: "OrtModel Add 1x64",
    path: addPath,
    bytes: addModel(),
    feeds: { x: addInput },
    outputs: { y: Tensor.empty(cpu, "f32", [1, 64]) },
    runs: RUNS_PER_ROUND,
  },
  // Segment 1: the first block's probs → out (a [4, 1024, 1024] P·V, compute-bound);
  // segment 5: the mid block's (64 tokens), where the cost per run is mostly overhead.
  ...(await unetSegmentCases([
    { index: 1, runs: 200 },
    { index: 5, runs: 2_000 },
  ])),
];
for (const c of pipelineCases) {
  const { ours, before, theirs } = await measurePipeline(c);
  const emit = (metric: string, value: number, vs: string, ratio: number) =>
    console.log(JSON.stringify({ bench: "ort-overhead", metric, value: round(value), unit: "us", vs, ratio: round(ratio, 3) }));
  emit(c.metric, ours, "onnxruntime-node", ours / theirs);
  emit(`${c.metric}_before`, before, "onnxruntime-node", before / theirs);
  emit(`${c.metric}_vs_before`, ours, "OrtModel rebinding every run", ours / before);
  rows.push(`${c.label.padEnd(24)} ${ours.toFixed(2).padStart(9)} ${theirs.toFixed(2).padStart(12)} ${(ours / theirs).toFixed(3).padStart(7)}`);
  rows.push(`${"  (rebinding, before)".padEnd(24)} ${before.toFixed(2).padStart(9)} ${theirs.toFixed(2).padStart(12)} ${(before / theirs).toFixed(3).padStart(7)}`);
}
rmSync(dir, { recursive: true, force: true });

console.error(`ORT ${ortVersion()} (${ortLibraryPath()}), intra-op threads 1, sequential; ${availableParallelism()} CPUs`);
console.error(`median of ${ROUNDS} rounds x ${RUNS_PER_ROUND} runs (UNet segments: 200, 2,000), after warm-up runs`);
console.error(`${"model".padEnd(24)} ${"ours µs".padStart(9)} ${"ort-node µs".padStart(12)} ${"ratio".padStart(7)}`);
for (const row of rows) console.error(row);

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
