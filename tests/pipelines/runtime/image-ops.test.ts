/**
 * The image, edges and mask wrappers hand their kernels the right sizes: each is run on a
 * non-square picture (so a swapped width and height shows) against a hand-worked result. The
 * kernels' arithmetic itself is checked by tests/kernels/conformance.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { cannyHysteresisFill, depthToRgb24, edgesToRgb24, resizeBilinear, rgb24ToPlanes, rowMax } from "../../../pipelines/runtime/edges-ops.ts";
import { downsample2, rgb24ToLuma, rowSums, ssimMap } from "../../../pipelines/runtime/image-ops.ts";
import { maskFillRgb24, maskPaste, maskThresholdNearest } from "../../../pipelines/runtime/mask-ops.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";

const cpu = new CpuBackend();
const f32 = (shape: number[], values: number[]) => Tensor.from(cpu, "f32", shape, values);
const u8 = (shape: number[], values: number[]) => Tensor.from(cpu, "u8", shape, values);
const read = (t: Tensor) => Array.from(t.read() as ArrayLike<number>);

// 3 rows × 5 columns, value = 10·row + column
const plane = f32([3, 5], Array.from({ length: 15 }, (_, i) => 10 * Math.floor(i / 5) + (i % 5)));

describe("image-ops", () => {
  test("downsample2 averages 2×2 blocks and drops the odd last row and column", () => {
    const out = downsample2(plane);
    expect(out.shape).toEqual([1, 2]);
    expect(read(out)).toEqual([5.5, 7.5]); // (0+1+10+11)/4, (2+3+12+13)/4
  });

  test("rowSums and rowMax reduce the last axis", () => {
    expect(read(rowSums(plane))).toEqual([10, 60, 110]);
    expect(read(rowMax(plane))).toEqual([4, 14, 24]);
    expect(rowSums(plane).shape).toEqual([3]);
  });

  test("rgb24ToLuma gives one BT.601 value per pixel of u8 [H, W, 3]", () => {
    const rgb = u8([1, 2, 3], [255, 0, 0, 0, 0, 255]);
    const out = rgb24ToLuma(rgb);
    expect(out.shape).toEqual([1, 2]);
    // in f32, as the kernel: (weight·v) · (1/255), the zero channels adding nothing
    const luma = (weight: number) => Math.fround(Math.fround(Math.fround(weight) * 255) * Math.fround(1 / 255));
    expect(Array.from(out.readF32())).toEqual([luma(0.299), luma(0.114)]);
  });

  test("ssimMap of a plane with itself is 1 everywhere", () => {
    expect(read(ssimMap(plane, plane, { radius: 1, c1: 1e-4, c2: 9e-4 }))).toEqual(new Array(15).fill(1));
  });

  test("refuse what is not their shape", () => {
    expect(() => rgb24ToLuma(u8([6], [0, 0, 0, 0, 0, 0]))).toThrow("rgb24ToLuma needs rgb24 pixels u8 [H, W, 3], got u8 [6]");
    expect(() => downsample2(f32([2, 2, 2], new Array(8).fill(0)))).toThrow("downsample2 takes one plane [H, W], got [2, 2, 2]");
    expect(() => ssimMap(plane, f32([2, 5], new Array(10).fill(0)), { radius: 1, c1: 0, c2: 0 })).toThrow("ssimMap: b must be f32 with 15 elements, got f32 [2, 5]");
    expect(() => rowSums(u8([2, 2], [1, 2, 3, 4]))).toThrow("rowSums needs f32, got u8");
  });
});

describe("edges-ops", () => {
  test("resizeBilinear keeps the leading axes and takes the new width and height", () => {
    const out = resizeBilinear(f32([2, 1, 2], [0, 10, 20, 30]), 4, 1);
    expect(out.shape).toEqual([2, 1, 4]);
    // pixel centres aligned: source x = (ox + 0.5)/2 − 0.5, clamped → 0, 0.25, 0.75, 1
    expect(read(out)).toEqual([0, 2.5, 7.5, 10, 20, 22.5, 27.5, 30]);
  });

  test("rgb24ToPlanes puts each channel in its own plane, (v/255 − mean)/std", () => {
    const out = rgb24ToPlanes(u8([1, 2, 3], [255, 0, 51, 0, 255, 102]), 0.5, 0.5);
    expect(out.shape).toEqual([1, 3, 1, 2]);
    const want = [255, 0, 0, 255, 51, 102].map((v) => Math.fround(Math.fround(Math.fround(v * Math.fround(1 / 255)) - 0.5) * 2));
    expect(Array.from(out.readF32())).toEqual(want);
  });

  test("cannyHysteresisFill promotes weak pixels 8-connected to a strong one; edgesToRgb24 paints them", () => {
    // 2 rows × 4: strong at (0,0), weak at (1,1) (diagonal neighbour) and (0,3) (isolated)
    const state = u8([2, 4], [2, 0, 0, 1, 0, 1, 0, 0]);
    expect(read(cannyHysteresisFill(state))).toEqual([2, 0, 0, 1, 0, 2, 0, 0]);
    const image = edgesToRgb24(state);
    expect(image.shape).toEqual([2, 4, 3]);
    expect(read(image).filter((_, i) => i % 3 === 0)).toEqual([255, 0, 0, 0, 0, 255, 0, 0]);
  });

  test("depthToRgb24 maps the maximum to 255 on a [1, H, W] depth plane", () => {
    const out = depthToRgb24(f32([1, 1, 3], [0, 1, 2]), 2);
    expect(out.shape).toEqual([1, 3, 3]);
    expect(read(out)).toEqual([0, 0, 0, 127, 127, 127, 255, 255, 255]);
  });
});

describe("mask-ops", () => {
  test("maskThresholdNearest samples the nearest source pixel at the output's size", () => {
    // source 2 wide × 1 high: white, black → 4 × 2 field
    const field = maskThresholdNearest(u8([1, 2, 3], [255, 255, 255, 0, 0, 0]), Tensor.empty(cpu, "f32", [1, 1, 2, 4]));
    expect(read(field)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
  });

  test("maskFillRgb24 greys the pixels under the field, keeps the others", () => {
    const out = maskFillRgb24(u8([1, 2, 3], [1, 2, 3, 4, 5, 6]), f32([1, 2], [1, 0]), 128);
    expect(read(out)).toEqual([128, 128, 128, 4, 5, 6]);
  });

  test("maskPaste broadcasts the field over the leading axes", () => {
    const x = f32([2, 2], [1, 2, 3, 4]);
    const keep = f32([2, 2], [10, 20, 30, 40]);
    expect(read(maskPaste(x, keep, f32([2], [1, 0])))).toEqual([1, 20, 3, 40]);
    expect(() => maskPaste(x, keep, f32([3], [1, 0, 1]))).toThrow("cannot paste [2,2] into [2,2] under a mask of [3]");
  });
});
