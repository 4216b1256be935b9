import { describe, expect, test } from "bun:test";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";

const cpu = new CpuBackend();

describe("Tensor.concat", () => {
  test("stacks along axis 0, in order, including slices of a larger tensor", () => {
    using a = Tensor.from(cpu, "f32", [1, 2, 2], [1, 2, 3, 4]);
    using big = Tensor.from(cpu, "f32", [3, 2, 2], Array.from({ length: 12 }, (_, i) => 10 + i));
    using b = big.slice(1, 3);
    using out = Tensor.concat([a, b, a]);
    expect(out.shape).toEqual([4, 2, 2]);
    expect(Array.from(out.readF32())).toEqual([1, 2, 3, 4, 14, 15, 16, 17, 18, 19, 20, 21, 1, 2, 3, 4]);
  });

  test("refuses parts whose trailing shape or dtype differ, and an empty list", () => {
    using a = Tensor.from(cpu, "f32", [1, 2], [1, 2]);
    using b = Tensor.from(cpu, "f32", [1, 3], [1, 2, 3]);
    using c = Tensor.from(cpu, "i32", [1, 2], [1, 2]);
    expect(() => Tensor.concat([a, b])).toThrow(/does not stack/);
    expect(() => Tensor.concat([a, c])).toThrow(/does not stack/);
    expect(() => Tensor.concat([])).toThrow(/at least one/);
  });
});
