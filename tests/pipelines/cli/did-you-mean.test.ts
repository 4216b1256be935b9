import { describe, expect, test } from "bun:test";
import { closest, didYouMean, editDistance } from "../../../pipelines/cli/did-you-mean.ts";

describe("editDistance", () => {
  // Hand-counted: each case lists the edits that make up the distance.
  test.each([
    ["steps", "steps", 0], // equal
    ["", "abc", 3], // three insertions
    ["stepz", "steps", 1], // one substitution
    ["gudiance", "guidance", 1], // one swap of neighbours
    ["kitten", "sitting", 3], // k→s, e→i, +g
    ["ca", "abc", 3], // OSA cannot edit a swapped pair again: -c, +b, +c
    ["prompt", "negative-prompt", 9], // nine insertions
  ])("from %p to %p is %d", (a, b, d) => {
    expect([editDistance(a, b), editDistance(b, a)]).toEqual([d, d]);
  });
});

describe("closest", () => {
  const flags = ["steps", "seed", "size", "guidance", "negative-prompt"];

  test("finds a one-letter typo", () => {
    expect(closest("stepz", flags)).toBe("steps");
  });

  test("allows a third of the name's length in edits", () => {
    expect([closest("negatve-promt", flags), closest("gidanse", flags)]).toEqual(["negative-prompt", "guidance"]);
  });

  test("gives nothing when every candidate is too far", () => {
    expect([closest("model", flags), closest("x", [])]).toEqual([undefined, undefined]);
  });

  test("prefers the earlier candidate on a tie", () => {
    expect(closest("sexd", ["seed", "send"])).toBe("seed");
  });
});

describe("didYouMean", () => {
  test("writes the suggestion as a parenthesis, or nothing", () => {
    expect([didYouMean("stepz", ["steps"], (c) => `--${c}`), didYouMean("zzz", ["steps"])]).toEqual([" (did you mean --steps?)", ""]);
  });
});
