/**
 * CLAHE with one tile against values worked by hand from OpenCV's CLAHE_CalcLut_Body (clip,
 * redistribution of the excess, then the rounded cumulative histogram), run by kernels/tone.cu on
 * the CPU backend; the lookup-table case checks the kernel's TypeScript reference.
 */
import { describe, expect, test } from "bun:test";
import { clahe as claheOn } from "../../../pipelines/continuation/clahe.ts";
import type { Frame } from "../../../pipelines/io/frame.ts";
import { CpuBackend } from "../../../pipelines/runtime/cpu-backend.ts";
import { claheLutRef } from "../../kernels/ref/tone.ts";

const cpu = new CpuBackend();
const clahe = (frame: Frame, clipLimit: number) => claheOn(cpu, frame, clipLimit);

/** A frame whose three channels all hold `values`, one pixel each, in a row. */
const row = (values: number[]): Frame => ({ width: values.length, height: 1, data: Uint8Array.from(values.flatMap((v) => [v, v, v])) });

describe("CLAHE, one tile", () => {
  test("16 pixels, 10 of 50 and 6 of 200, clip limit 1.2: limit 1, 14 excess spread over bins 0, 18, …, 234", () => {
    // cumsum at 50: bins 0, 18, 36 and 50 itself = 4 → 4·255/16 = 63.75 → 64
    // cumsum at 200: the 12 bins 0 … 198, plus 50 and 200 = 14 → 223.125 → 223
    const out = clahe(row([...Array(10).fill(50), ...Array(6).fill(200)]), 1.2);
    expect(Array.from(out.data.subarray(0, 3))).toEqual([64, 64, 64]);
    expect(Array.from(out.data.subarray(30, 33))).toEqual([223, 223, 223]);
  });

  test("rounds half to even, as OpenCV's saturate_cast does", () => {
    // 102 pixels: one 7, 101 of 255 → excess 100 over bins 0, 2, …, 198; cumsum at 7 = 4 + 1 = 5 → 12.5 → 12
    const out = clahe(row([7, ...Array(101).fill(255)]), 1.2);
    expect(out.data[0]).toBe(12);
    expect(out.data[3]).toBe(255);
  });

  test("a high clip limit leaves plain histogram equalisation", () => {
    const hist = new Array(256).fill(0);
    hist[10] = 2;
    hist[20] = 2;
    const lut = claheLutRef(hist, 4, 4); // limit = trunc(256 · 4 / 256) = 4: nothing clips
    expect([lut[9], lut[10], lut[19], lut[20]]).toEqual([0, 128, 128, 255]);
  });
});
