import { describe, expect, test } from "bun:test";
import { blend } from "../../kernels/blend.ts";
import { edges } from "../../kernels/edges.ts";
import { image } from "../../kernels/image.ts";
import { mask } from "../../kernels/mask.ts";
import { patchmatch } from "../../kernels/patchmatch.ts";
import { defineFamily, elementwise, output, scalar } from "../../kernels/signature.ts";
import { declaredDtypes, findKernel, variantOf } from "../../kernels/variants.ts";

describe("variantOf", () => {
  const cases: [string, string, string][] = [
    ["lerp_f16", "lerp", "f16"],
    ["slerp_rows_f32", "slerp_rows", "f32"],
    ["f32_to_f16", "f32_to", "f16"],
    ["canny_nms_u8", "canny_nms", "u8"],
    ["edges_to_rgb24", "edges_to_rgb24", "u8"],
    ["pm_nnf_identity_i32", "pm_nnf_identity", "i32"],
  ];
  for (const [name, op, dtype] of cases) {
    test(`reads ${name} as ${op} for ${dtype}`, () => {
      const kernel = Object.values({ ...blend.kernels, ...edges.kernels, ...patchmatch.kernels }).find((k) => k.name === name)!;
      expect(variantOf(kernel)).toEqual({ op, dtype: dtype as never });
    });
  }
});

describe("findKernel", () => {
  test("finds a declared op and dtype, and nothing for an undeclared one", () => {
    expect(findKernel(blend, "lerp", "f16")?.name).toBe("lerp_f16");
    expect(findKernel(blend, "scale", "f16")).toBeUndefined();
    expect(findKernel(blend, "lerp", "i32")).toBeUndefined();
    expect(declaredDtypes(blend, "axpby")).toEqual(["f32", "f16"]);
  });

  test("no two kernels of a family are the same op for the same dtype", () => {
    for (const family of [blend, edges, image, mask, patchmatch]) {
      for (const kernel of Object.values(family.kernels)) {
        const { op, dtype } = variantOf(kernel);
        expect(findKernel(family, op, dtype)).toBe(kernel);
      }
    }
  });

  test("a family whose names clash is a declaration error naming both", () => {
    const args = [output("out", "f32", "n"), scalar("n", "i64")];
    const clashing = defineFamily("clash", "/dev/null", [
      { name: "x_f32", args, grid: elementwise("n") },
      { name: "x", args, grid: elementwise("n") },
    ]);
    expect(() => findKernel(clashing, "x", "f32")).toThrow("kernels/clash.ts: x_f32 and x are both x for f32");
  });
});
