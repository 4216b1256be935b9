import { describe, expect, test } from "bun:test";
import { formatHelp } from "../../../pipelines/cli/help.ts";
import { defineSchema, field } from "../../../pipelines/cli/schema.ts";

const schema = defineSchema({
  prompt: field.string({ description: "what to draw" }),
  negative_prompt: field.string({ description: "what to avoid", default: "" }),
  steps: field.number({ description: "denoising steps", default: 20, integer: true, min: 1, max: 500 }),
  size: field.size({ description: "output size", default: "512x512", step: 8 }),
  scheduler: field.enum(["ddim", "euler"], { description: "sampler", default: "euler" }),
  seed: field.number({ description: "noise seed", integer: true, nullable: true }),
  tiling: field.boolean({ description: "seamless tiling" }),
  prompts: field.strings({ description: "prompts to blend", default: ["a cat", "a dog"] }),
  weights: field.numbers({ description: "per-prompt weights", default: [1, 0.5], min: 0 }),
  model_folder_with_a_long_name: field.string({ description: "wraps to the next line", default: "tiny" }),
});
const defaults = Object.fromEntries(Object.entries(schema).map(([k, f]) => [k, f.default]));

describe("formatHelp", () => {
  describe("given a schema with every kind of field", () => {
    test("lists every key with its flag, description, constraint and default", () => {
      const text = formatHelp(schema, { recipe: "txt2img", description: "Draws one image.", values: { ...defaults, steps: 30 }, configFile: "configs/txt2img.yaml" });
      expect(text).toBe(
        [
          "usage: bun recipes/txt2img.ts [flags]",
          "",
          "Draws one image.",
          "",
          "flags (defaults as set by configs/txt2img.yaml):",
          "  --prompt TEXT                 what to draw (required)",
          '  --negative-prompt TEXT        what to avoid (default: "")',
          "  --steps N                     denoising steps (integer, 1 to 500; default: 30)",
          "  --size WxH                    output size (multiples of 8; default: 512x512)",
          "  --scheduler ddim|euler        sampler (default: euler)",
          "  --seed N | --no-seed          noise seed (integer; default: none)",
          "  --[no-]tiling                 seamless tiling (default: false)",
          '  --prompts TEXT                prompts to blend (repeatable; default: ["a cat","a dog"])',
          "  --weights X                   per-prompt weights (repeatable, at least 0; default: [1, 0.5])",
          "  --model-folder-with-a-long-name TEXT",
          '                                wraps to the next line (default: "tiny")',
          "",
          "  --config FILE                 read FILE instead of configs/txt2img.yaml",
          "  --from-png FILE               take the config a PNG from this recipe carries (flags still override)",
          "  --format NAME                 h264-mp4, webm, gif, prores or png, instead of what --out's extension says",
          "  --progress text|json          progress on stderr as text (default) or one JSON line per step",
          "  --verbose                     show debug logs, and stack traces on errors",
          "  --quiet                       no logs on stderr (errors still show)",
          "  -h, --help                    show this help",
          "",
          "Flags override the config file. Keys are snake_case in YAML; flags take either spelling",
          "(--negative-prompt or --negative_prompt).",
          "Repeat a list flag once per item: --prompts A --prompts B.",
          "",
        ].join("\n"),
      );
    });
  });

  describe("given positionals and no config file", () => {
    test("says so in the usage line and the flags heading", () => {
      const text = formatHelp(defineSchema({ n: field.number({ description: "count", default: 1 }) }), {
        recipe: "x",
        values: { n: 1 },
        allowPositionals: true,
      });
      expect(text.split("\n").slice(0, 3)).toEqual(["usage: bun recipes/x.ts [flags] [arguments]", "", "flags:"]);
    });
  });
});
