/** The fuzz slice of the test suite: 100 seeded mutations per format (700 in all); bench/fuzz.ts runs 10,000 each. */
import { describe, expect, test } from "bun:test";
import { mutate } from "./mutate.ts";
import { supervise } from "./supervise.ts";
import { FORMATS, TARGETS } from "./targets.ts";
import { Rng } from "../../pipelines/sd/random.ts";

describe("fuzzed inputs", () => {
  test("mutations are seeded (the same seed gives the same bytes) and really change the input", () => {
    const base = TARGETS.y4m.seed();
    const a = Array.from({ length: 20 }, (_, i) => mutate(base, new Rng(i)));
    const b = Array.from({ length: 20 }, (_, i) => mutate(base, new Rng(i)));
    expect(a).toEqual(b);
    expect(a.filter((m) => Buffer.compare(Buffer.from(m), Buffer.from(base)) !== 0).length).toBeGreaterThanOrEqual(18);
  });

  for (const format of FORMATS) {
    test(`${format}: 100 mutations, no crash, no hang, nothing but our own errors; the valid seed loads`, async () => {
      await expect(TARGETS[format].load(TARGETS[format].seed(), "/tmp")).resolves.toBeUndefined();
      const r = await supervise(format, 100, 7);
      expect({ crash: r.crash, hang: r.hang, unhandled: r.result?.unhandled }).toEqual({ crash: undefined, hang: undefined, unhandled: [] });
      // The mutations reach past the first check: some are refused and the loader accepts some.
      expect(r.result!.refused).toBeGreaterThan(0);
      expect(r.result!.accepted + r.result!.refused).toBe(100);
    });
  }
});
