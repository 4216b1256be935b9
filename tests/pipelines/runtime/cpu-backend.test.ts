import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KernelCompileError } from "../../../ffi/kernel-compile-error.ts";
import { blend } from "../../../kernels/blend.ts";
import { edges } from "../../../kernels/edges.ts";
import { image } from "../../../kernels/image.ts";
import { mask } from "../../../kernels/mask.ts";
import { defineFamily, elementwise, output, scalar, type DType, type KernelFamily } from "../../../kernels/signature.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { KernelArgumentError, launch } from "../../../pipelines/runtime/launcher.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";

const answers: [KernelFamily, string, DType, boolean][] = [
  [blend, "lerp", "f32", true],
  [blend, "lerp", "f16", true],
  [blend, "slerp_rows", "f16", true],
  [blend, "f16_to", "f32", true],
  [blend, "f32_to", "f16", true],
  [edges, "canny_nms", "u8", true],
  [edges, "edges_to_rgb24", "u8", true],
  [image, "ssim_map", "f32", true],
  [mask, "mask_fill_rgb24", "u8", true],
  // blend.cu has these only for f32, and nothing for integers
  [blend, "scale", "f16", false],
  [blend, "axpbypcz", "f16", false],
  [blend, "clamp", "f16", false],
  [blend, "lerp", "i32", false],
  [image, "ssim_map", "f16", false],
  [blend, "no_such_op", "f32", false],
];

for (const tinycc of [false, true]) {
  describe(`CpuBackend${tinycc ? " with TinyCC" : ""}.supports`, () => {
    const backend = new CpuBackend({ tinycc });
    afterAll(() => backend.dispose());
    for (const [family, op, dtype, expected] of answers) {
      test(`says ${expected ? "yes" : "no"} to ${family.name} ${op} for ${dtype}`, () => {
        expect(backend.supports(family, op, dtype)).toBe(expected);
      });
    }
  });
}

describe("a family whose C build fails", () => {
  const dir = mkdtempSync(join(tmpdir(), "latentloom-cpu-backend-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const source = join(dir, "partial.cu");
  // declares two kernels; the source defines one
  writeFileSync(source, "LL_KERNEL present_f32(float* out, ll_i64 n) { LL_FOR_EACH(i, n) out[i] = 1.0f; }\n");
  const args = [output("out", "f32", "n"), scalar("n", "i64")];
  const partial = defineFamily("partial", source, [
    { name: "present_f32", args, grid: elementwise("n") },
    { name: "missing_f32", args, grid: elementwise("n") },
  ]);

  for (const tinycc of [false, true]) {
    test(`is a KernelCompileError, then unsupported on that backend${tinycc ? " (TinyCC)" : ""}`, () => {
      const backend = new CpuBackend({ tinycc });
      const out = Tensor.empty(backend, "f32", [4]);
      expect(backend.supports(partial, "present", "f32")).toBe(true);
      expect(() => launch(partial, "present_f32", { out, n: 4 })).toThrow(KernelCompileError);
      expect(backend.supports(partial, "present", "f32")).toBe(false);
      expect(() => launch(partial, "present_f32", { out, n: 4 })).toThrow(KernelArgumentError);
      expect(() => launch(partial, "present_f32", { out, n: 4 })).toThrow(
        "present_f32: present for f32 is not supported on cpu: its build of kernels/partial.cu failed or lacks it",
      );
      expect(backend.supports(blend, "lerp", "f32")).toBe(true);
      expect(Array.from(out.readF32())).toEqual([0, 0, 0, 0]);
      backend.dispose();
    });
  }
});
