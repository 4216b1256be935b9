import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CONFIG_DIR, parseConfig, type LoadConfigOptions } from "../../../pipelines/cli/config.ts";
import { defineSchema, field } from "../../../pipelines/cli/schema.ts";
import { UsageError } from "../../../pipelines/errors.ts";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "../../..");

/** A folder of YAML files for the enclosing describe, removed after its tests have run. */
function tempConfigs(files: Record<string, string>) {
  const path = mkdtempSync(join(tmpdir(), "latentloom-cli-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(path, name), text);
  afterAll(() => rmSync(path, { recursive: true, force: true }));
  return { path };
}

const schema = defineSchema({
  prompt: field.string({ description: "what to draw", default: "a lighthouse" }),
  negative_prompt: field.string({ description: "what to avoid", default: "" }),
  steps: field.number({ description: "denoising steps", default: 20, integer: true, min: 1 }),
  guidance: field.number({ description: "guidance scale", default: 7.5, min: 0 }),
  size: field.size({ description: "output size", default: "512x512", step: 8 }),
  seed: field.number({ description: "noise seed", integer: true, nullable: true }),
  tiling: field.boolean({ description: "seamless tiling" }),
  prompts: field.strings({ description: "prompts to blend", default: ["a", "b"] }),
});

type Options = Partial<LoadConfigOptions> & { configDir: string };

function config(argv: string[], o: Options) {
  const outcome = parseConfig(schema, { recipe: "demo", argv, ...o });
  if (outcome.help !== undefined) throw new Error("unexpected help");
  return outcome;
}

/** The UsageError message parseConfig throws for these arguments. */
function usageError(argv: string[], o: Options): string {
  try {
    parseConfig(schema, { recipe: "demo", argv, ...o });
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  throw new Error("no error thrown");
}

describe("parseConfig", () => {
  describe("given a recipe with no YAML file", () => {
    const dir = tempConfigs({});

    test("uses the schema's defaults", () => {
      expect(config([], { configDir: dir.path })).toEqual({
        config: {
          prompt: "a lighthouse",
          negative_prompt: "",
          steps: 20,
          guidance: 7.5,
          size: { width: 512, height: 512 },
          seed: null,
          tiling: false,
          prompts: ["a", "b"],
        },
        verbose: false,
        quiet: false,
        progress: "text",
        format: undefined,
        positionals: [],
        configFile: null,
      });
    });
  });

  describe("given configs/demo.yaml", () => {
    const dir = tempConfigs({
      "demo.yaml": "steps: 30\nguidance: 5\nseed: 42\ntiling: true\n# a comment\nprompts: [x, y, z]\n",
      "other.yaml": "steps: 4\n",
    });
    const o = { configDir: dir.path };

    test("layers default < YAML < flag", () => {
      const { config: c } = config(["--guidance", "3.5"], o);
      expect([c.prompt, c.steps, c.guidance]).toEqual(["a lighthouse", 30, 3.5]);
    });

    test("--config replaces the YAML instead of adding to it", () => {
      const other = join(dir.path, "other.yaml");
      const r = config(["--config", other], o);
      expect([r.config.steps, r.config.guidance, r.config.seed, r.configFile]).toEqual([4, 7.5, null, other]);
    });

    test("accepts both spellings of a snake_case key's flag", () => {
      expect([
        config(["--negative-prompt", "blur"], o).config.negative_prompt,
        config(["--negative_prompt=blur, noise"], o).config.negative_prompt,
      ]).toEqual(["blur", "blur, noise"]);
    });

    test("--no-<key> turns a boolean off and a nullable key to null", () => {
      const { config: c } = config(["--no-tiling", "--no-seed"], o);
      expect([c.tiling, c.seed]).toEqual([false, null]);
    });

    test("the last of two opposite flags wins", () => {
      expect([config(["--no-tiling", "--tiling"], o).config.tiling, config(["--seed", "1", "--no-seed"], o).config.seed]).toEqual([
        true,
        null,
      ]);
    });

    test("a repeated list flag replaces the YAML list with its repeats", () => {
      expect(config(["--prompts", "a cat, at dusk", "--prompts", "a dog"], o).config.prompts).toEqual(["a cat, at dusk", "a dog"]);
    });

    test("takes a negative number and a lone dash as values", () => {
      const r = parseConfig(defineSchema({ offset: field.number({ description: "o", default: 0 }), output: field.string({ description: "o", default: "x" }) }), {
        recipe: "none",
        configDir: dir.path,
        argv: ["--offset", "-1.5", "--output", "-"],
      });
      expect(r.help === undefined && r.config).toEqual({ offset: -1.5, output: "-" });
    });

    test("reports --verbose and --quiet", () => {
      expect([config(["--verbose"], o).verbose, config(["--quiet"], o).quiet]).toEqual([true, true]);
    });
  });

  describe("when given a mistake", () => {
    const dir = tempConfigs({
      "typed.yaml": "steps: eight\n",
      "unknown.yaml": "steps: 3\nnegative-prompt: blur\n",
      "broken.yaml": "steps: [1\nx: 2\n",
      "list.yaml": "- steps\n",
      "nan.yaml": "guidance: .nan\n",
    });
    const o = { configDir: dir.path };
    const file = (name: string) => join(dir.path, name);

    test.each([
      [["--stepz", "3"], "unknown flag --stepz (did you mean --steps?)"],
      [["--negativ-prompt", "x"], "unknown flag --negativ-prompt (did you mean --negative-prompt?)"],
      [["--model", "x"], "unknown flag --model"],
      [["-x"], "unknown flag -x"],
      [["--no-steps"], "unknown flag --no-steps: steps is a number, neither a boolean nor nullable"],
      [["--steps", "8x"], "--steps 8x: expected an integer"],
      [["--steps", "0"], "--steps 0: must be at least 1"],
      [["--guidance", "nan"], "--guidance nan: expected a finite number"],
      [["--size", "100x100"], "--size 100x100: width 100 is not a multiple of 8"],
      [["--steps"], "--steps needs a value"],
      [["--prompt", "--steps", "3"], "--prompt needs a value (got the flag --steps; write --prompt=--steps to pass that text)"],
      [["--tiling=yes"], "--tiling takes no value; use --tiling or --no-tiling"],
      [["--verbose", "--quiet"], "--verbose and --quiet cannot be used together"],
      [["a cat"], 'unexpected argument "a cat": this recipe takes only flags (see --help)'],
    ])("%p is one line: %s", (argv, message) => {
      expect(usageError(argv, o)).toBe(message);
    });

    test("a YAML value of the wrong type names the file and key", () => {
      expect(usageError(["--config", file("typed.yaml")], o)).toBe(`${file("typed.yaml")}: steps = "eight": expected an integer, got a string`);
    });

    test("a YAML NaN is shown as NaN, not null", () => {
      expect(usageError(["--config", file("nan.yaml")], o)).toBe(`${file("nan.yaml")}: guidance = NaN: expected a finite number`);
    });

    test("an unknown YAML key names the file and key, with a suggestion", () => {
      expect(usageError(["--config", file("unknown.yaml")], o)).toBe(
        `${file("unknown.yaml")}: unknown key negative-prompt (did you mean negative_prompt?)`,
      );
    });

    test("a --config that cannot be read or parsed names the file and the first line of why", () => {
      expect([
        usageError(["--config", file("missing.yaml")], o),
        usageError(["--config", dir.path], o),
        usageError(["--config", file("broken.yaml")], o),
        usageError(["--config", file("list.yaml")], o),
      ]).toEqual([
        `--config ${file("missing.yaml")}: cannot read the file: no such file`,
        `--config ${dir.path}: cannot read the file: is a folder`,
        `--config ${file("broken.yaml")}: not valid YAML: Unexpected token`,
        `--config ${file("list.yaml")}: expected a mapping of keys to values, got a list`,
      ]);
    });

    test("a required key left unset says where to set it", () => {
      const required = defineSchema({ model: field.string({ description: "model folder" }) });
      let message = "";
      try {
        parseConfig(required, { recipe: "none", configDir: dir.path, argv: [] });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toBe("missing model: pass --model TEXT");
    });
  });

  describe("when positionals are allowed", () => {
    const dir = tempConfigs({});
    test("returns them, including those after --", () => {
      expect(config(["in.y4m", "--steps", "2", "--", "--odd"], { configDir: dir.path, allowPositionals: true }).positionals).toEqual([
        "in.y4m",
        "--odd",
      ]);
    });
  });

  describe("when --help is given", () => {
    const dir = tempConfigs({ "demo.yaml": "steps: 30\n" });

    test("returns help showing the YAML's values as defaults, even beside a bad flag", () => {
      const outcome = parseConfig(schema, { recipe: "demo", configDir: dir.path, argv: ["--stepz", "-h"] });
      expect(outcome.help).toContain("  --steps N                     denoising steps (integer, at least 1; default: 30)\n");
    });
  });
});

describe("CONFIG_DIR", () => {
  test("is the configs/ folder beside package.json at the repository root", () => {
    expect([CONFIG_DIR, existsSync(join(REPO, "package.json"))]).toEqual([join(REPO, "configs") + "/", true]);
  });

  test("is where a recipe's YAML is looked for by default", () => {
    // No recipe has this name, so the defaults stand and no file is named.
    const outcome = parseConfig(schema, { recipe: "no-such-recipe-for-cli-tests", argv: [] });
    expect(outcome.help === undefined && outcome.configFile).toBeNull();
  });
});
