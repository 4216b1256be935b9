import { describe, expect, test } from "bun:test";
import { hasFlag, parseFlags } from "../../../pipelines/cli/flags.ts";
import { defineSchema, field } from "../../../pipelines/cli/schema.ts";

const schema = defineSchema({
  negative_prompt: field.string({ description: "avoid", default: "" }),
  seed: field.number({ description: "seed", nullable: true }),
  tiling: field.boolean({ description: "tiling" }),
  prompts: field.strings({ description: "prompts", default: [] }),
});

describe("parseFlags", () => {
  test("collects each key's texts under its snake_case name, with the flag as typed", () => {
    const r = parseFlags(schema, ["--negative_prompt", "blur", "--prompts", "a", "--tiling", "--prompts=b", "--no-seed", "--config", "c.yaml"], false);
    expect({ ...r, overrides: Object.fromEntries(r.overrides) }).toEqual({
      config: "c.yaml",
      fromPng: undefined,
      format: undefined,
      progress: "text",
      verbose: false,
      quiet: false,
      help: false,
      positionals: [],
      overrides: {
        negative_prompt: { flag: "--negative_prompt", texts: ["blur"] },
        prompts: { flag: "--prompts", texts: ["a", "b"] },
        tiling: { flag: "--tiling", texts: ["true"] },
        seed: { flag: "--no-seed", texts: null },
      },
    });
  });

  test("starts a list afresh after --no-<key>", () => {
    const nullable = defineSchema({ tags: field.strings({ description: "t", nullable: true }) });
    expect(parseFlags(nullable, ["--tags", "a", "--no-tags", "--tags", "b"], false).overrides.get("tags")).toEqual({ flag: "--tags", texts: ["b"] });
  });

  test("reads -h as --help", () => {
    expect(parseFlags(schema, ["-h"], false).help).toBe(true);
  });
});

describe("hasFlag", () => {
  test("finds a flag only before --", () => {
    expect([
      hasFlag(["--steps", "3", "--verbose"], "verbose"),
      hasFlag(["--", "--verbose"], "verbose"),
      hasFlag(["--prompt=--verbose"], "verbose"),
      hasFlag(["-h"], "help", "h"),
    ]).toEqual([true, false, false, true]);
  });
});
