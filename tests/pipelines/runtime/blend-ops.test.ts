import { describe, expect, test } from "bun:test";
import { blend } from "../../../kernels/blend.ts";
import { add, axpbypcz, clamp, fill, lerp, scale } from "../../../pipelines/runtime/blend-ops.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";

const cpu = new CpuBackend();
const f = Math.fround;

const half = (values: number[]) => Tensor.from(cpu, "f16", [values.length], new Uint16Array(Float16Array.from(values).buffer));
const values = (t: Tensor) => Array.from(t.readF32());
/** What an f16 kernel computing in float gives: the f32 result rounded to f16 once. */
const toF16 = (xs: number[]) => xs.map((v) => Math.f16round(v));

const xs = [0.1, -2.5, 3.75, 1000.3, -0.0004];
const ys = [1.9, 0.25, -3.5, 7.1, 0.3];
const zs = [-1, 2, 0.5, 3, -0.125];
const x16 = () => half(xs);
// the inputs as the f16 tensors hold them
const [hx, hy, hz] = [xs, ys, zs].map(toF16) as [number[], number[], number[]];

describe("f32-only blend ops on f16 tensors", () => {
  test("have no f16 kernel on the CPU backend, so they take the f32 route", () => {
    for (const op of ["scale", "add", "clamp", "axpbypcz", "fill"]) expect(cpu.supports(blend, op, "f16")).toBe(false);
  });

  test("scale matches α·x in f32 rounded to f16", () => {
    const out = scale(x16(), 0.3);
    expect(out.dtype).toBe("f16");
    expect(values(out)).toEqual(toF16(hx.map((v) => f(f(0.3) * v))));
  });

  test("add writes into an output that aliases an input", () => {
    const x = x16();
    expect(add(x, half(ys), x)).toBe(x);
    expect(values(x)).toEqual(toF16(hx.map((v, i) => f(v + hy[i]!))));
  });

  test("clamp and axpbypcz match their f32 formulas", () => {
    expect(values(clamp(x16(), -1, 2))).toEqual(toF16(hx.map((v) => Math.min(2, Math.max(-1, v)))));
    const got = values(axpbypcz(0.5, x16(), -2, half(ys), 0.25, half(zs)));
    expect(got).toEqual(toF16(hx.map((v, i) => f(f(f(0.5 * v) + f(-2 * hy[i]!)) + f(0.25 * hz[i]!)))));
  });

  test("fill sets every element to the value rounded to f16", () => {
    const out = half([0, 0, 0]);
    expect(values(fill(out, 1 / 3))).toEqual(toF16([1 / 3, 1 / 3, 1 / 3]));
  });

  test("ops with an f16 kernel still use it (lerp)", () => {
    expect(cpu.supports(blend, "lerp", "f16")).toBe(true);
    expect(values(lerp(x16(), half(ys), 0.25))).toEqual(toF16(hx.map((v, i) => f(v + f(0.25 * f(hy[i]! - v))))));
  });

  test("a non-float tensor is a TypeError naming the op", () => {
    expect(() => scale(Tensor.from(cpu, "i32", [2], [1, 2]), 2)).toThrow("scale needs f32 or f16 tensors, got i32");
  });
});
