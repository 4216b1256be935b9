import { describe, expect, test } from "bun:test";
import {
  dpmSolverTimesteps,
  img2imgStartIndex,
  lcmTimesteps,
  roundHalfEven,
  spacedTimesteps,
} from "../../../../pipelines/sd/schedulers/timestep-spacing.ts";

// Reference lists: /work/shared/reference/schedulers.md §2, §8, §9 (SD config, steps_offset = 1).
describe("numpy-style rounding", () => {
  test("rounds halves to even and everything else to nearest", () => {
    expect([0.5, 1.5, 2.5, 499.5, 937.5, 812.5, 2.4, 2.6].map(roundHalfEven)).toEqual([
      0, 2, 2, 500, 938, 812, 2, 3,
    ]);
  });
});

describe("DDIM-family timesteps for N = 20", () => {
  test("leading with steps_offset 1 is 951, 901, …, 1", () => {
    expect(spacedTimesteps("leading", 1000, 20, 1, true)).toEqual([
      951, 901, 851, 801, 751, 701, 651, 601, 551, 501, 451, 401, 351, 301, 251, 201, 151, 101, 51, 1,
    ]);
  });

  test("trailing is 999, 949, …, 49 and ignores steps_offset", () => {
    expect(spacedTimesteps("trailing", 1000, 20, 1, true)).toEqual(
      Array.from({ length: 20 }, (_, k) => 999 - 50 * k),
    );
  });

  test("linspace rounds to the tabulated integers and ignores steps_offset", () => {
    expect(spacedTimesteps("linspace", 1000, 20, 1, true)).toEqual([
      999, 946, 894, 841, 789, 736, 684, 631, 578, 526, 473, 421, 368, 315, 263, 210, 158, 105, 53, 0,
    ]);
  });

  test("leading for N = 50 is 981 − 20k", () => {
    expect(spacedTimesteps("leading", 1000, 50, 1, true)).toEqual(Array.from({ length: 50 }, (_, k) => 981 - 20 * k));
  });

  test("trailing with a half-integer stride rounds ties to even (N = 16)", () => {
    const t = spacedTimesteps("trailing", 1000, 16, 0, true);
    expect(t.slice(0, 4)).toEqual([999, 937, 874, 811]);
    expect(t.length).toBe(16);
  });
});

describe("Euler timesteps for N = 20 linspace", () => {
  test("keep the fractional values", () => {
    const expected = [
      999, 946.4211, 893.8421, 841.2632, 788.6842, 736.1053, 683.5263, 630.9474, 578.3684, 525.7895, 473.2105,
      420.6316, 368.0526, 315.4737, 262.8947, 210.3158, 157.7368, 105.1579, 52.5789, 0,
    ];
    spacedTimesteps("linspace", 1000, 20, 1, false).forEach((t, i) => expect(t).toBeCloseTo(expected[i]!, 4));
  });
});

describe("DPM-Solver timesteps for N = 20", () => {
  test("linspace divides by N + 1 and drops the last point", () => {
    expect(dpmSolverTimesteps("linspace", 1000, 20, 1)).toEqual([
      999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50,
    ]);
  });

  test("leading uses 1000 // 21 = 47 plus the offset: 941, 894, …, 48", () => {
    const t = dpmSolverTimesteps("leading", 1000, 20, 1);
    expect(t).toEqual(Array.from({ length: 20 }, (_, k) => 941 - 47 * k));
    expect(t.at(-1)).toBe(48);
  });

  test("trailing is 999, 949, …, 49", () => {
    expect(dpmSolverTimesteps("trailing", 1000, 20, 1)).toEqual(Array.from({ length: 20 }, (_, k) => 999 - 50 * k));
  });
});

describe("LCM timesteps", () => {
  const cases: [number, number[]][] = [
    [1, [999]],
    [2, [999, 499]],
    [4, [999, 759, 499, 259]],
    [8, [999, 879, 759, 639, 499, 379, 259, 139]],
  ];
  for (const [n, expected] of cases) {
    test(`for N = ${n} are ${expected.join(", ")}`, () => {
      expect(lcmTimesteps(1000, n, 50, 1)).toEqual(expected);
    });
  }

  test("with strength 0.5 sample the first 25 grid entries (499, 479, …, 19) at 0, 6, 12, 18", () => {
    expect(lcmTimesteps(1000, 4, 50, 0.5)).toEqual([499, 379, 259, 139]);
  });

  test("are null when more steps are asked than the grid holds", () => {
    expect(lcmTimesteps(1000, 11, 50, 0.2)).toBeNull();
  });
});

describe("the img2img start index", () => {
  test("for N = 50 and strength 0.75 skips 13 steps (37 remain)", () => {
    expect(img2imgStartIndex(50, 0.75)).toBe(13);
  });

  test("is 0 at strength 1 and N at strength 0", () => {
    expect(img2imgStartIndex(20, 1)).toBe(0);
    expect(img2imgStartIndex(20, 0)).toBe(20);
  });
});
