/**
 * Cost of one Run through our bun:ffi binding vs onnxruntime-node's JavaScript API, on the same
 * model bytes, the same library file (onnxruntime-node's own libonnxruntime), one intra-op
 * thread, sequential execution, in one process. Each loop feeds one prepared input, runs, and
 * touches the output's data (run_into_*: both write into a preallocated output instead); rounds alternate between the two, and the figure is the median of
 * the per-round means.
 *
 *   bun run bench/ort-overhead.ts            JSON lines on stdout, a table on stderr
 */
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";
import { ortLibraryPath, ortVersion, Session, Value } from "../ffi/ort/index.ts";
import { GraphBuilder } from "../pipelines/onnx/model-builder.ts";

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

console.error(`ORT ${ortVersion()} (${ortLibraryPath()}), intra-op threads 1, sequential; ${availableParallelism()} CPUs`);
console.error(`median of ${ROUNDS} rounds x ${RUNS_PER_ROUND} runs, after ${WARMUP} warm-up runs`);
console.error(`${"model".padEnd(24)} ${"ours µs".padStart(9)} ${"ort-node µs".padStart(12)} ${"ratio".padStart(7)}`);
for (const row of rows) console.error(row);

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
