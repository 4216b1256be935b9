import { describe, expect, test } from "bun:test";
import { BlendState } from "../../../pipelines/attention-interpolation/blend-state.ts";
import { openDevice } from "../../../pipelines/runtime/device.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";
import { Rng } from "../../../pipelines/sd/random.ts";

const { backend } = openDevice("cpu");
const randn = (seed: number, n: number) => new Rng(seed).normal(new Float32Array(n));
const tensor = (data: Float32Array, shape: number[]) => Tensor.from(backend, "f32", shape, data);

/** The spec's slerp_rows(t, a, b) as a plain loop in f64, for reference. */
function slerpRows(t: number, a: Float32Array, b: Float32Array, cols: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let r = 0; r < a.length / cols; r++) {
    let ab = 0, aa = 0, bb = 0;
    for (let c = 0; c < cols; c++) {
      const x = a[r * cols + c]!, y = b[r * cols + c]!;
      ab += x * y; aa += x * x; bb += y * y;
    }
    const dot = ab / Math.sqrt(aa) / Math.sqrt(bb);
    let ca = 1 - t, cb = t;
    if (Math.abs(dot) <= 0.9995) {
      const th = Math.acos(dot);
      ca = Math.sin((1 - t) * th) / Math.sin(th);
      cb = Math.sin(t * th) / Math.sin(th);
    }
    for (let c = 0; c < cols; c++) out[r * cols + c] = ca * a[r * cols + c]! + cb * b[r * cols + c]!;
  }
  return out;
}

describe("a blend state", () => {
  const shape = [2, 6, 8];
  const f0 = randn(1, 96);
  const f1 = randn(2, 96);
  const f2 = randn(3, 96);

  test("stores the first frame and passes it through unchanged", () => {
    using s = new BlendState();
    using x = tensor(f0, shape);
    expect(s.blend("probs@3", x, 0.6, 8)).toBeUndefined();
    expect(s.peek("probs@3")).toEqual(f0);
  });

  test("then outputs slerp_rows(ema, current, stored) per row and stores it: a recursive EMA of the past", () => {
    using s = new BlendState();
    using x0 = tensor(f0, shape);
    using x1 = tensor(f1, shape);
    using x2 = tensor(f2, shape);
    s.blend("k", x0, 0.6, 8);
    using y1 = s.blend("k", x1, 0.6, 8)!;
    const want1 = slerpRows(0.6, f1, f0, 8);
    const got1 = y1.readF32();
    for (let i = 0; i < 96; i++) expect(got1[i]!).toBeCloseTo(want1[i]!, 5);
    expect(s.peek("k")).toEqual(got1);
    using y2 = s.blend("k", x2, 0.3, 8)!;
    const want2 = slerpRows(0.3, f2, got1, 8);
    const got2 = y2.readF32();
    for (let i = 0; i < 96; i++) expect(got2[i]!).toBeCloseTo(want2[i]!, 5);
  });

  test("ema weighs the past: 0 keeps the current frame exactly, 1 returns the stored one exactly", () => {
    using s = new BlendState();
    using x0 = tensor(f0, shape);
    using x1 = tensor(f1, shape);
    s.blend("a", x0, 0.5, 8);
    expect(s.blend("a", x1, 0, 8)).toBeUndefined();
    expect(s.peek("a")).toEqual(f1); // the state is still written
    using x2 = tensor(f2, shape);
    using y = s.blend("a", x2, 1, 8)!;
    expect(y.readF32()).toEqual(f1);
  });

  test("rows are independent: changing one row of the input changes only that row", () => {
    using s = new BlendState();
    using x0 = tensor(f0, shape);
    s.blend("r", x0, 0.5, 8);
    const base = s.blend("r", tensor(f1, shape), 0.5, 8)!.readF32();
    using t = new BlendState();
    t.blend("r", x0, 0.5, 8);
    const bumped = f1.slice();
    for (let c = 0; c < 8; c++) bumped[5 * 8 + c] = bumped[5 * 8 + c]! * 3 + 1;
    const other = t.blend("r", tensor(bumped, shape), 0.5, 8)!.readF32();
    for (let r = 0; r < 12; r++) {
      const same = base.slice(r * 8, r * 8 + 8).every((v, c) => v === other[r * 8 + c]);
      expect(same).toBe(r !== 5);
    }
  });

  test("zero rows take the lerp path and stay finite", () => {
    using s = new BlendState();
    s.blend("z", tensor(new Float32Array(96), shape), 0.5, 8);
    const y = s.blend("z", tensor(f1, shape), 0.5, 8)!.readF32();
    expect(y.every(Number.isFinite)).toBe(true);
    for (let i = 0; i < 96; i++) expect(y[i]!).toBeCloseTo(f1[i]! * 0.5, 6);
  });

  test("holds Σ tensor bytes, half of it in f16", () => {
    using s32 = new BlendState("f32");
    using s16 = new BlendState("f16");
    for (const s of [s32, s16]) {
      s.blend("a@1", tensor(f0, shape), 0.5, 8);
      s.blend("b@1", tensor(f0.subarray(0, 48), [48]), 0.5, 8);
    }
    expect([s32.count, s32.bytes, s16.bytes]).toEqual([2, 144 * 4, 144 * 2]);
  });

  test("f16 state stays within f16 rounding of f32 state over a chain of frames", () => {
    using s32 = new BlendState("f32");
    using s16 = new BlendState("f16");
    let y32: Float32Array = new Float32Array(0);
    let y16: Float32Array = new Float32Array(0);
    for (let f = 0; f < 6; f++) {
      const x = randn(10 + f, 96);
      y32 = s32.blend("c", tensor(x, shape), 0.6, 8)?.readF32() ?? x;
      y16 = s16.blend("c", tensor(x, shape), 0.6, 8)?.readF32() ?? x;
    }
    const err = Math.max(...y32.map((v, i) => Math.abs(v - y16[i]!)));
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(5e-3);
  });

  test("a site whose size changed is an error naming the key and the fix", () => {
    using s = new BlendState();
    s.blend("out@2", tensor(f0, shape), 0.5, 8);
    expect(() => s.blend("out@2", tensor(f0.subarray(0, 48), [6, 8]), 0.5, 8)).toThrow(/out@2 .*reset\(\)/);
  });
});
