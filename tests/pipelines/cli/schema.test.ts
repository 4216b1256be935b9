import { describe, expect, expectTypeOf, test } from "bun:test";
import { defineSchema, field, FieldIssue, type InferConfig, type Size } from "../../../pipelines/cli/schema.ts";

/** The message a check throws, or "ok" when it passes. */
function issue(run: () => unknown): string {
  try {
    run();
    return "ok";
  } catch (e) {
    if (e instanceof FieldIssue) return e.message;
    throw e;
  }
}

describe("a schema", () => {
  const schema = defineSchema({
    prompt: field.string({ description: "text", default: "cat" }),
    steps: field.number({ description: "steps", default: 20, integer: true, min: 1 }),
    seed: field.number({ description: "seed", integer: true, nullable: true }),
    mode: field.enum(["fast", "slow"], { description: "mode", default: "fast" }),
    sampler: field.string({ description: "sampler", choices: ["ddim", "euler"], default: "ddim" }),
    size: field.size({ description: "size", default: "64x32", step: 8 }),
    tiling: field.boolean({ description: "tiling" }),
    prompts: field.strings({ description: "prompts", minItems: 2 }),
    weights: field.numbers({ description: "weights", default: [0.5], min: 0, max: 1 }),
  });

  test("infers a precise config type", () => {
    expectTypeOf<InferConfig<typeof schema>>().toEqualTypeOf<{
      readonly prompt: string;
      readonly steps: number;
      readonly seed: number | null;
      readonly mode: "fast" | "slow";
      readonly sampler: "ddim" | "euler";
      readonly size: Size;
      readonly tiling: boolean;
      readonly prompts: readonly string[];
      readonly weights: readonly number[];
    }>();
  });

  test("keeps each default in parsed form, null for a nullable key and undefined for a required one", () => {
    const defaults = Object.fromEntries(Object.entries(schema).map(([k, f]) => [k, f.default]));
    expect(defaults).toEqual({
      prompt: "cat",
      steps: 20,
      seed: null,
      mode: "fast",
      sampler: "ddim",
      size: { width: 64, height: 32 },
      tiling: false,
      prompts: undefined,
      weights: [0.5],
    });
  });

  describe("when a number is checked", () => {
    const steps = schema.steps;
    test("accepts an integer in range from YAML and from flag text", () => {
      expect([steps.check(1), steps.parseFlag(["8"]), steps.parseFlag(["1e2"])]).toEqual([1, 8, 100]);
    });
    test.each([
      ["8x", "expected an integer"],
      ["", "expected an integer"],
      ["0x10", "expected an integer"],
      ["nan", "expected a finite number"],
      ["-Infinity", "expected a finite number"],
      ["2.5", "expected an integer"],
      ["0", "must be at least 1"],
    ])("rejects flag text %p: %s", (text, message) => {
      expect(issue(() => steps.parseFlag([text]))).toBe(message);
    });
    test("rejects a YAML string, NaN and null with the type it got", () => {
      expect([issue(() => steps.check("8")), issue(() => steps.check(NaN)), issue(() => steps.check(null))]).toEqual([
        "expected an integer, got a string",
        "expected a finite number",
        "expected an integer, got null",
      ]);
    });
    test("names both bounds when there are two", () => {
      const f = field.number({ description: "x", min: 0, max: 1 });
      expect([issue(() => f.parseFlag(["1.5"])), f.parseFlag(["-0"]), f.constraint]).toEqual(["must be from 0 to 1", -0, "0 to 1"]);
    });
    test("takes the last text when a plain flag is repeated", () => {
      expect(steps.parseFlag(["3", "4"])).toBe(4);
    });
  });

  describe("when a nullable key is checked", () => {
    test("accepts null and shows it as none", () => {
      expect([schema.seed.check(null), schema.seed.show(null), schema.seed.check(7)]).toEqual([null, "none", 7]);
    });
  });

  describe("when a string with choices is checked", () => {
    test("lists the choices in the error", () => {
      expect([issue(() => schema.mode.parseFlag(["medium"])), issue(() => schema.sampler.check("heun"))]).toEqual([
        "must be one of fast, slow",
        "must be one of ddim, euler",
      ]);
    });
    test("rejects a number from YAML", () => {
      expect(issue(() => schema.prompt.check(3))).toBe("expected a string, got a number");
    });
  });

  describe("when a size is checked", () => {
    test("parses WxH with either x", () => {
      expect([schema.size.parseFlag(["512x768"]), schema.size.check("16X8")]).toEqual([
        { width: 512, height: 768 },
        { width: 16, height: 8 },
      ]);
    });
    test.each([
      ["100x100", "width 100 is not a multiple of 8"],
      ["64x60", "height 60 is not a multiple of 8"],
      ["0x64", "width 0 must be positive"],
      ["64", "expected WxH, e.g. 512x512"],
      ["-8x8", "expected WxH, e.g. 512x512"],
    ])("rejects %p: %s", (text, message) => {
      expect(issue(() => schema.size.parseFlag([text]))).toBe(message);
    });
    test("shows a size as WxH", () => {
      expect(schema.size.show({ width: 640, height: 360 })).toBe("640x360");
    });
  });

  describe("when a boolean is checked", () => {
    test("takes only true or false from YAML", () => {
      expect([schema.tiling.check(true), issue(() => schema.tiling.check("yes"))]).toEqual([true, "expected true or false, got a string"]);
    });
  });

  describe("when a list is checked", () => {
    test("checks every item and names the bad one by position", () => {
      expect(issue(() => schema.weights.check([0.1, 2]))).toBe("item 2: must be from 0 to 1");
    });
    test("keeps every repeat of the flag, commas included, and reports the failing text", () => {
      expect(schema.prompts.parseFlag(["a cat, at dusk", "a dog"])).toEqual(["a cat, at dusk", "a dog"]);
      let failed: FieldIssue | undefined;
      try {
        schema.weights.parseFlag(["0.5", "x"]);
      } catch (e) {
        failed = e as FieldIssue;
      }
      expect({ message: failed?.message, text: failed?.text }).toEqual({ message: "expected a number", text: "x" });
    });
    test("enforces the item count", () => {
      expect([issue(() => schema.prompts.check(["a"])), issue(() => schema.prompts.parseFlag(["a"]))]).toEqual([
        "needs at least 2 items, got 1",
        "needs at least 2 items, got 1 (repeat the flag once per item)",
      ]);
    });
    test("rejects a YAML scalar where a list belongs", () => {
      expect(issue(() => schema.prompts.check("a, b"))).toBe("expected a list, got a string");
    });
  });
});

describe("defineSchema", () => {
  const f = () => field.number({ description: "x", default: 1 });
  test.each([
    ["negativePrompt", 'config key "negativePrompt" is not snake_case'],
    ["negative-prompt", 'config key "negative-prompt" is not snake_case'],
    ["verbose", 'config key "verbose" is taken by the always-present --verbose flag'],
    ["no_cache", 'config key "no_cache" would clash with --no-<key>; name the positive form'],
  ])("refuses the key %p", (key, message) => {
    expect(() => defineSchema({ [key]: f() })).toThrow(message);
  });

  test("refuses a null default on a key that is not nullable", () => {
    expect(() => defineSchema({ seed: field.number({ description: "s", default: null }) })).toThrow(
      'default of config key "seed" is invalid: null, but the key is not nullable',
    );
  });

  test("refuses a default that fails its own check, naming the key", () => {
    expect(() => defineSchema({ size: field.size({ description: "s", default: "100x100", step: 8 }) })).toThrow(
      'default of config key "size" is invalid: "100x100": width 100 is not a multiple of 8',
    );
  });
});
