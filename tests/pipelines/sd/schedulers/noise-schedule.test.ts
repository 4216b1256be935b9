import { describe, expect, test } from "bun:test";
import {
  alphaBarFromSigma,
  cumulativeAlphas,
  interpolateSigma,
  karrasSigmas,
  makeBetas,
  sigmaFromAlphaBar,
  sigmaToTimestep,
  trainingSigmas,
} from "../../../../pipelines/sd/schedulers/noise-schedule.ts";

// Reference values: /work/shared/reference/schedulers.md §1, §11 (relative tolerance ~1e-5).
function expectRel(actual: number, expected: number, rel = 1e-5): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}

const betas = makeBetas("scaled_linear", 0.00085, 0.012, 1000);
const alphaBar = cumulativeAlphas(betas);
const sigmas = trainingSigmas(alphaBar);

describe("the SD scaled_linear noise schedule", () => {
  test("has the tabulated betas", () => {
    expectRel(betas[0]!, 0.00085, 1e-12);
    expectRel(betas[1]!, 0.000854698655, 1e-8);
    expectRel(betas[999]!, 0.012, 1e-12);
  });

  test("is linear in √β", () => {
    const step = Math.sqrt(betas[1]!) - Math.sqrt(betas[0]!);
    expectRel(Math.sqrt(betas[500]!) - Math.sqrt(betas[499]!), step, 1e-9);
  });

  const table: [number, number][] = [
    [0, 0.99915],
    [1, 0.998296028],
    [51, 0.950524322],
    [101, 0.892980537],
    [259, 0.658975527],
    [499, 0.27766965],
    [500, 0.276332684],
    [721, 0.0705136939],
    [759, 0.0522129283],
    [901, 0.0140048979],
    [951, 0.00815500457],
    [981, 0.00577550014],
    [999, 0.004660098513],
  ];
  for (const [t, expected] of table) {
    test(`has ᾱ_${t} = ${expected}`, () => expectRel(alphaBar[t]!, expected));
  }

  const sigmaTable: [number, number][] = [
    [0, 0.0291671582],
    [51, 0.228146736],
    [101, 0.346186706],
    [259, 0.71937962],
    [759, 4.26055685],
    [901, 8.39068477],
    [951, 11.0283312],
    [981, 13.1204107],
    [999, 14.6146412],
  ];
  for (const [t, expected] of sigmaTable) {
    test(`has σ_${t} = ${expected}`, () => expectRel(sigmas[t]!, expected));
  }

  test("has √(σ_max² + 1) = 1/√ᾱ_999 = 14.6488135", () => {
    expectRel(Math.sqrt(sigmas[999]! ** 2 + 1), 14.6488135);
    expectRel(1 / Math.sqrt(alphaBar[999]!), 14.6488135);
  });

  test("converts between σ and ᾱ both ways", () => {
    expectRel(alphaBarFromSigma(sigmaFromAlphaBar(0.3)), 0.3, 1e-14);
  });
});

describe("the linear beta schedule", () => {
  test("is evenly spaced from start to end", () => {
    const b = makeBetas("linear", 0.0001, 0.02, 1000);
    expect(b[0]).toBe(0.0001);
    expectRel(b[999]!, 0.02, 1e-12);
    expectRel(b[1]! - b[0]!, (0.02 - 0.0001) / 999, 1e-9);
  });
});

describe("the cosine beta schedule", () => {
  test("matches ᾱ(τ) = cos²((τ + 0.008)/1.008·π/2) normalised, with β capped at 0.999", () => {
    const b = makeBetas("squaredcos_cap_v2", 0, 0, 1000);
    const f = (tau: number) => Math.cos(((tau + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    expectRel(b[0]!, 1 - f(0.001) / f(0), 1e-12);
    expect(b[999]).toBe(0.999);
  });
});

describe("sigma interpolation", () => {
  test("is linear between training timesteps and exact at integers", () => {
    expect(interpolateSigma(sigmas, 500)).toBe(sigmas[500]!);
    expect(interpolateSigma(sigmas, 999)).toBe(sigmas[999]!);
    expectRel(interpolateSigma(sigmas, 946.25), 0.75 * sigmas[946]! + 0.25 * sigmas[947]!, 1e-12);
  });

  test("refuses timesteps outside the table", () => {
    expect(() => interpolateSigma(sigmas, 1000)).toThrow(/timestep 1000 is outside \[0, 999\]/);
  });

  test("inverts to the timestep through log σ (exact at training sigmas)", () => {
    const logSigmas = Array.from(sigmas, Math.log);
    expect(sigmaToTimestep(logSigmas, sigmas[321]!)).toBeCloseTo(321, 9);
    const mid = Math.exp(0.5 * (logSigmas[700]! + logSigmas[701]!));
    expect(sigmaToTimestep(logSigmas, mid)).toBeCloseTo(700.5, 9);
    expect(sigmaToTimestep(logSigmas, 1e-6)).toBe(0);
    expect(sigmaToTimestep(logSigmas, 1e6)).toBe(999);
  });
});

describe("Karras sigmas", () => {
  test("for N = 20 between σ_0 and σ_999 match the tabulated list", () => {
    const expected = [
      14.61465, 11.72537, 9.34021, 7.38363, 5.78942, 4.49984, 3.46476, 2.64085, 1.99092, 1.48322, 1.09079,
      0.79095, 0.56472, 0.39639, 0.27304, 0.18417, 0.12134, 0.07786, 0.04848, 0.02917,
    ];
    const ours = karrasSigmas(sigmas[0]!, sigmas[999]!, 20);
    expect(ours.length).toBe(20);
    // The table has 5 decimals of float32 results: half a unit in the last place plus the
    // ~1e-5 relative float32-vs-float64 tolerance the reference states.
    ours.forEach((s, i) => expect(Math.abs(s - expected[i]!)).toBeLessThan(5e-6 + 1e-5 * s));
  });

  test("are evenly spaced in σ^(1/7)", () => {
    const r = karrasSigmas(0.1, 10, 5).map((s) => s ** (1 / 7));
    for (let i = 1; i < 4; i++) expectRel(r[i + 1]! - r[i]!, r[1]! - r[0]!, 1e-12);
  });
});
