import { describe, expect, test } from "bun:test";
import { UsageError } from "../../../pipelines/errors.ts";
import {
  autosetupBranching,
  branch1CrossfeedArray,
  checkInjection,
  dampedGuidance,
  estimateSeconds,
  linspace,
  loadBranchingProfile,
  parentalCrossfeedArray,
  roundHalfEven,
  setupBranching,
  timeBasedBranching,
} from "../../../pipelines/latent-blending/schedules.ts";

describe("roundHalfEven", () => {
  test("rounds halves to the even neighbour, as Python's round does", () => {
    expect([0.5, 1.5, 2.5, 19.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 20, -0, -2, 2, 3]);
  });
});

describe("the V1 fixed tree", () => {
  test("medium at depth 0.65 gives the spec's injections [0,20,23,27] and branches [2,3,6,12]", () => {
    expect(loadBranchingProfile("medium", 0.65)).toEqual({ steps: 30, injection: [0, 20, 23, 27], branches: [2, 3, 6, 12] });
  });

  for (const quality of ["lowest", "low", "medium", "high", "ultra"] as const) {
    test(`${quality}: injections ≥ 3 apart, branch counts growing, ending at the preset's final count`, () => {
      const b = loadBranchingProfile(quality, 0.4);
      const final = { lowest: 5, low: 6, medium: 12, high: 25, ultra: 50 }[quality];
      expect(b.injection[0]).toBe(0);
      expect(b.branches[0]).toBe(2);
      expect(b.branches.at(-1)).toBe(final);
      for (let t = 1; t < b.injection.length; t++) {
        expect(b.injection[t]! - b.injection[t - 1]!).toBeGreaterThanOrEqual(3);
        expect(b.branches[t]!).toBeGreaterThan(b.branches[t - 1]!);
        expect(b.injection[t]!).toBeLessThan(b.steps);
      }
    });
  }

  test("autosetup computes the candidate grid by hand for 30 steps, depth 0.5, 20 final", () => {
    // first = 15, last = 27, K = 5: trunc(linspace(15, 27, 5)) = 15, 18, 21, 24, 27;
    // nb = round(2·10^(k/5)), k = 0..5 = 2, 3 (3.17), 5 (5.02), 8 (7.96), 13 (12.6), 20: all kept
    expect(autosetupBranching(0.5, 30, 20)).toEqual({ steps: 30, injection: [0, 15, 18, 21, 24, 27], branches: [2, 3, 5, 8, 13, 20] });
    // 12 steps (lowest-like), depth 0.5: first 6, last 9, K = 1 → candidates [0, 6]; nb [2, 5]
    expect(autosetupBranching(0.5, 12, 5)).toEqual({ steps: 12, injection: [0, 6], branches: [2, 5] });
  });

  test("manual setup from the README example (indices) keeps it as given", () => {
    expect(setupBranching(10, [2, 3, 7, 10], { injectionIdx: [0, 3, 6, 9] })).toEqual({ steps: 10, injection: [0, 3, 6, 9], branches: [2, 3, 7, 10] });
  });

  test("manual setup from strengths rounds s·n and prepends the keyframe block when missing", () => {
    expect(setupBranching(10, [3, 7, 10], { injectionStrength: [0.3, 0.6, 0.9] })).toEqual({ steps: 10, injection: [0, 3, 6, 9], branches: [2, 3, 7, 10] });
  });

  test("manual setup rejects non-rising injections, mismatched lengths and a first block other than 2", () => {
    expect(() => setupBranching(10, [2, 3, 4], { injectionIdx: [0, 5, 5] })).toThrow(/rising strictly/);
    expect(() => setupBranching(10, [2, 3], { injectionIdx: [0, 3, 6] })).toThrow(/3 injection steps but 2/);
    expect(() => setupBranching(10, [3, 4], { injectionIdx: [0, 3] })).toThrow(/must be 2/);
    expect(() => setupBranching(10, [2, 4], { injectionIdx: [0, 10] })).toThrow(UsageError);
  });
});

describe("the V3 adaptive branching schedule", () => {
  test("30 steps, depth 0.5, 15 images gives the spec's levels [15..27] and stems [4,3,3,2,1]", () => {
    expect(timeBasedBranching(0.5, 30, { maxBranches: 15 })).toEqual({ steps: 30, injection: [15, 18, 21, 24, 27], stems: [4, 3, 3, 2, 1] });
  });

  test("stems always add up to the branch budget minus the two keyframes", () => {
    for (const n of [6, 9, 15, 30]) {
      const b = timeBasedBranching(0.3, 20, { maxBranches: n });
      expect(b.stems.reduce((a, s) => a + s, 0)).toBe(n - 2);
    }
  });

  test("a budget below one stem per level spreads N − 2 levels over the same range", () => {
    // levels would be 15, 18, …, 27 (5); 5 images → 3 levels: trunc(linspace(15, 27, 3))
    expect(timeBasedBranching(0.5, 30, { maxBranches: 5 })).toEqual({ steps: 30, injection: [15, 21, 27], stems: [1, 1, 1] });
    expect(timeBasedBranching(0.5, 30, { maxBranches: 2 })).toEqual({ steps: 30, injection: [], stems: [] });
  });

  test("a time budget is never overrun by the estimate", () => {
    const dt = { unet: 0.1, vae: 0.05 };
    const b = timeBasedBranching(0.5, 20, { timeBudget: 10 }, dt);
    const used = estimateSeconds(20, b.injection, b.stems, dt);
    expect(used).toBeLessThanOrEqual(10);
    // one more stem anywhere would overrun it: 2·(20·0.1+0.05) + 9 stems… checked by the estimate
    const plusOne = [...b.stems];
    plusOne[plusOne.length - 1]!++;
    expect(estimateSeconds(20, b.injection, plusOne, dt)).toBeGreaterThan(10 - 0.05 - 0.1 * 20);
  });

  test("the estimate adds keyframes, in-between steps and decodes", () => {
    expect(estimateSeconds(10, [5, 8], [2, 1], { unet: 1, vae: 10 })).toBe(2 * 10 + 5 * 2 + 2 * 1 + 10 * (2 + 3));
  });

  test("depth that puts the first injection at step 0 is a UsageError with a hint", () => {
    expect(() => timeBasedBranching(0.01, 30, { maxBranches: 10 })).toThrow(UsageError);
    try {
      checkInjection(0, 30, 0.01);
    } catch (e) {
      expect((e as UsageError).message).toMatch(/injection step 0 .* below 1/);
      expect((e as UsageError).hint).toMatch(/at least 0\.033/);
    }
  });

  test("asking for neither budget is a UsageError", () => {
    expect(() => timeBasedBranching(0.5, 30, {})).toThrow(/max_branches.*time_budget/);
  });
});

describe("crossfeed arrays", () => {
  test("parental 0.3/0.6/0.9, n = 30, inj = 15: linspace(0.3, 0.27, 3) at 15..17, zeros from 18", () => {
    const c = parentalCrossfeedArray(30, 15, { power: 0.3, range: 0.6, decay: 0.9 });
    expect(c.length).toBe(30);
    expect(c.slice(15, 18)).toEqual(linspace(0.3, 0.27, 3));
    expect(c[15]).toBe(0.3);
    expect(c[16]).toBeCloseTo(0.285, 12);
    expect(c[17]).toBeCloseTo(0.27, 12);
    expect(c.slice(18)).toEqual(new Array(12).fill(0));
    expect(c.slice(0, 15)).toEqual(new Array(15).fill(0.3));
  });

  test("parental crossfeed whose range ends before the injection is all zero after it", () => {
    expect(parentalCrossfeedArray(10, 7, { power: 1, range: 0.5, decay: 1 }).slice(7)).toEqual([0, 0, 0]);
  });

  test("branch-1 crossfeed ramps from P to P·D over round(n·R) steps", () => {
    const c = branch1CrossfeedArray(10, { power: 0.1, range: 0.6, decay: 0.8 });
    [0.1, 0.096, 0.092, 0.088, 0.084, 0.08, 0, 0, 0, 0].forEach((v, i) => expect(c[i]!).toBeCloseTo(v, 12));
    expect(branch1CrossfeedArray(5, { power: 0, range: 1, decay: 1 })).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("guidance damping", () => {
  test("g(0) = g(1) = g0 and g(0.5) = g0·damper + 1", () => {
    for (const [g0, damper] of [[4, 0.5], [7.5, 0.3], [0, 0.5]] as const) {
      expect(dampedGuidance(g0, damper, 0)).toBeCloseTo(g0, 12);
      expect(dampedGuidance(g0, damper, 1)).toBeCloseTo(g0, 12);
      expect(dampedGuidance(g0, damper, 0.5)).toBeCloseTo(g0 * damper + 1, 12);
    }
    expect(dampedGuidance(4, 0.5, 0.25)).toBeCloseTo(3.5, 12);
  });
});
