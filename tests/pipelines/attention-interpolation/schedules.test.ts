import { describe, expect, test } from "bun:test";
import { UsageError } from "../../../pipelines/errors.ts";
import {
  blendsAt,
  checkSchedule,
  DEFAULT_PIPE_SCHEDULE,
  DEFAULT_UNET_SCHEDULE,
  emaAt,
  scheduleTable,
  type BlendSchedule,
} from "../../../pipelines/attention-interpolation/schedules.ts";

const unet = DEFAULT_UNET_SCHEDULE;

describe("blend schedules", () => {
  describe("with the reference defaults over 25 steps", () => {
    test("step 0 and steps ≥ 25 are never blended, 1…24 are", () => {
      expect(blendsAt(unet, 0, 25)).toBe(false);
      expect(blendsAt(unet, 25, 25)).toBe(false);
      for (let i = 1; i < 25; i++) expect(blendsAt(unet, i, 25)).toBe(true);
    });

    test("the UNet weight at step i is 0.625·0.875^(i−1): 0.625, 0.547, 0.479 … 0.029", () => {
      const table = scheduleTable(unet, 25);
      expect(table[0]).toBe(0);
      for (let i = 1; i < 25; i++) expect(table[i]!).toBeCloseTo(0.625 * 0.875 ** (i - 1), 12);
      expect([table[1]!, table[2]!, table[3]!, table[24]!].map((v) => +v.toFixed(3))).toEqual([0.625, 0.547, 0.479, 0.029]);
    });

    test("the latent weight runs 0.35·0.75^(i−1) from 0.35 down to 0.0005", () => {
      expect(emaAt(DEFAULT_PIPE_SCHEDULE, 1, 25)).toBe(0.35);
      expect(+emaAt(DEFAULT_PIPE_SCHEDULE, 24, 25).toFixed(4)).toBe(0.0005);
    });

    test("cos runs 0.625 → 0.0027 and linear 0.625 → 0.026", () => {
      const cos = scheduleTable({ ...unet, scheduler: "cos" }, 25);
      const linear = scheduleTable({ ...unet, scheduler: "linear" }, 25);
      expect([cos[1]!, +cos[24]!.toFixed(4)]).toEqual([0.625, 0.0027]);
      expect([linear[1]!, +linear[24]!.toFixed(3)]).toEqual([0.625, 0.026]);
      // hand-worked: k = 11 of N′−1 = 24
      expect(cos[12]!).toBeCloseTo((0.625 * (1 + Math.cos((Math.PI * 11) / 24))) / 2, 12);
      expect(linear[12]!).toBeCloseTo(0.625 * (1 - 11 / 24), 12);
    });
  });

  describe("start, end and const_steps", () => {
    const s: BlendSchedule = { ema: 0.5, eta: 0.5, start: 2, end: 6, constSteps: 2, scheduler: "ema" };

    test("start < i < end is strict on both sides", () => {
      expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => blendsAt(s, i, 10))).toEqual([false, false, false, true, true, true, false, false]);
    });

    test("const_steps holds the starting weight for start + const + 1 steps, then the decay begins", () => {
      // k = max(0, i − 1 − 2 − 2): steps ≤ 5 keep ema0, step 6 is k = 1
      expect([3, 4, 5, 6, 7].map((i) => emaAt(s, i, 10))).toEqual([0.5, 0.5, 0.5, 0.25, 0.125]);
    });

    test("linear and cos count their span from start + const: N′ = total − const − start", () => {
      const linear = { ...s, scheduler: "linear" as const, end: null };
      // N′ = 10 − 2 − 2 = 6, so k/(N′−1) = k/5
      expect(emaAt(linear, 7, 10)).toBeCloseTo(0.5 * (1 - 2 / 5), 12);
      const cos = { ...linear, scheduler: "cos" as const };
      expect(emaAt(cos, 7, 10)).toBeCloseTo((0.5 * (1 + Math.cos((Math.PI * 2) / 5))) / 2, 12);
    });

    test("end null means the number of steps run", () => {
      expect(blendsAt({ ...s, end: null }, 9, 10)).toBe(true);
      expect(blendsAt({ ...s, end: null }, 10, 10)).toBe(false);
    });
  });

  test("linear with ema0 = 0 gives 0, not the reference's NaN", () => {
    const table = scheduleTable({ ...unet, ema: 0, scheduler: "linear" }, 25);
    expect(table.every((v) => v === 0)).toBe(true);
  });

  test("ema 1 with eta 1 keeps weight 1 at every blended step", () => {
    expect(scheduleTable({ ...DEFAULT_PIPE_SCHEDULE, ema: 1, eta: 1 }, 6)).toEqual([0, 1, 1, 1, 1, 1]);
  });

  test("a bad field is a UsageError naming it and the valid range", () => {
    expect(() => checkSchedule({ ...unet, ema: 1.5 }, "unet")).toThrow(UsageError);
    expect(() => checkSchedule({ ...unet, ema: 1.5 }, "unet")).toThrow(/unet ema 1\.5 .*\[0, 1\]/);
    expect(() => checkSchedule({ ...unet, scheduler: "exp" as never }, "pipe")).toThrow(/pipe scheduler exp .*ema \| cos \| linear/);
  });
});
