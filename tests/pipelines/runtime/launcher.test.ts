import { describe, expect, test } from "bun:test";
import { blend } from "../../../kernels/blend.ts";
import type { Backend, Storage } from "../../../pipelines/runtime/backend.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { KernelArgumentError, launch } from "../../../pipelines/runtime/launcher.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";

const cpu = new CpuBackend();

/** A backend that claims to be a GPU and records launches: the launcher must refuse before reaching it. */
function fakeGpu(): Backend & { launches: number } {
  const fake = {
    device: "cuda:0" as const,
    description: "fake",
    launches: 0,
    alloc: (bytes: number): Storage => ({ kind: "cuda", pointer: 0x1000, bytes }),
    free() {},
    write() {},
    read() {},
    copy() {},
    supports: () => true as const,
    launch() {
      fake.launches++;
    },
    synchronize() {},
    trimPool: () => 0,
    poolStats: { reused: 0, allocated: 0, retries: 0, held: 0, heldBytes: 0 },
    dispose() {},
  };
  return fake;
}

describe("given the lerp_f32 kernel", () => {
  const a = Tensor.from(cpu, "f32", [8], [0, 1, 2, 3, 4, 5, 6, 7]);
  const b = Tensor.from(cpu, "f32", [8], [8, 8, 8, 8, 8, 8, 8, 8]);

  test("a correct call runs and writes the output", () => {
    const out = Tensor.empty(cpu, "f32", [8]);
    launch(blend, "lerp_f32", { out, a, b, t: 0.5, n: 8 });
    expect(Array.from(out.readF32())).toEqual([4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5]);
  });

  const out = Tensor.empty(cpu, "f32", [8]);
  const cases: [string, Record<string, Tensor | number>, RegExp][] = [
    ["a too-short buffer", { out, a: Tensor.empty(cpu, "f32", [7]), b, t: 0.5, n: 8 }, /"a" has 7 elements, needs n = 8/],
    ["a wrong dtype", { out, a: Tensor.empty(cpu, "f16", [8]), b, t: 0.5, n: 8 }, /"a" is f16, expected f32/],
    ["a buffer on another device", { out, a: Tensor.empty(fakeGpu(), "f32", [8]), b, t: 0.5, n: 8 }, /"a" is on cuda:0, the others on cpu/],
    ["a missing argument", { out, a, b, n: 8 }, /scalar "t" must be a number, got nothing/],
    ["an unknown argument", { out, a, b, t: 0.5, n: 8, extra: 1 }, /unknown argument "extra"/],
    ["a fractional count", { out, a, b, t: 0.5, n: 7.5 }, /"n" must be an integer, got 7.5/],
    ["a negative count", { out, a, b, t: 0.5, n: -1 }, /negative/],
    ["a number where a buffer goes", { out, a: 3, b, t: 0.5, n: 8 }, /buffer "a" must be a Tensor, got number/],
  ];
  for (const [what, args, message] of cases) {
    test(`${what} throws instead of running`, () => {
      const before = out.read();
      expect(() => launch(blend, "lerp_f32", args)).toThrow(message);
      expect(() => launch(blend, "lerp_f32", args)).toThrow(KernelArgumentError);
      expect(out.read()).toEqual(before);
    });
  }

  test("a disposed tensor throws", () => {
    const gone = Tensor.from(cpu, "f32", [8], new Float32Array(8));
    gone.dispose();
    expect(() => launch(blend, "lerp_f32", { out, a: gone, b, t: 0.5, n: 8 })).toThrow(/"a" was disposed/);
  });

  test("an unknown kernel name lists the known ones", () => {
    expect(() => launch(blend, "lerp_f64", { out, a, b, t: 0.5, n: 8 })).toThrow(/no such kernel.*known: lerp_f32/);
  });

  test("a GPU backend never receives a call that fails validation", () => {
    const gpu = fakeGpu();
    const g = (n: number) => Tensor.empty(gpu, "f32", [n]);
    expect(() => launch(blend, "lerp_f32", { out: g(8), a: g(4), b: g(8), t: 0.5, n: 8 })).toThrow(/needs n = 8/);
    expect(gpu.launches).toBe(0);
    launch(blend, "lerp_f32", { out: g(8), a: g(8), b: g(8), t: 0.5, n: 8 });
    expect(gpu.launches).toBe(1);
  });

  test("a zero-length call launches nothing", () => {
    const gpu = fakeGpu();
    const g = Tensor.empty(gpu, "f32", [0]);
    launch(blend, "lerp_f32", { out: g, a: g, b: g, t: 0.5, n: 0 });
    expect(gpu.launches).toBe(0);
  });
});
