/**
 * The recipes' command-line faces (pipelines/cli/recipes/): one source of defaults (the YAML
 * files say exactly what the schemas say), one key per idea across recipes, aliases that work,
 * and recipe scripts short enough to read as notebooks.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONFIG_DIR, parseConfig } from "../../../pipelines/cli/config.ts";
import { attentionInterp } from "../../../pipelines/cli/recipes/attention-interp.ts";
import { COMMANDS } from "../../../pipelines/cli/recipes/index.ts";
import { latentBlend } from "../../../pipelines/cli/recipes/latent-blend.ts";
import { txt2img } from "../../../pipelines/cli/recipes/txt2img.ts";
import type { Schema } from "../../../pipelines/cli/schema.ts";
import { key } from "../../../pipelines/cli/vocabulary.ts";
import { UsageError } from "../../../pipelines/errors.ts";

const ROOT = join(import.meta.dir, "../../..");
const RECIPES = Object.values(COMMANDS);

function parsed(spec: (typeof RECIPES)[number], argv: string[], configDir = CONFIG_DIR) {
  const outcome = parseConfig(spec.schema as Schema, { recipe: spec.recipe, argv, configDir });
  if (outcome.help !== undefined) throw new Error("unexpected help");
  return outcome.config as Record<string, unknown>;
}

describe("configs/*.yaml", () => {
  test("there is one per recipe script and one recipe spec per YAML file", () => {
    const yamls = readdirSync(join(ROOT, "configs")).filter((f) => f.endsWith(".yaml")).map((f) => f.replace(/\.yaml$/, ""));
    const scripts = readdirSync(join(ROOT, "recipes")).filter((f) => f.endsWith(".ts")).map((f) => f.replace(/\.ts$/, ""));
    expect(yamls.sort()).toEqual(RECIPES.map((r) => r.recipe).sort());
    expect(scripts.sort()).toEqual(yamls.sort());
  });

  for (const spec of RECIPES) {
    test(`${spec.recipe}.yaml names every key of the schema, in its canonical spelling, with the schema's default`, () => {
      const yaml = Bun.YAML.parse(readFileSync(join(ROOT, "configs", `${spec.recipe}.yaml`), "utf8")) as Record<string, unknown>;
      const schema = spec.schema as Schema;
      expect(Object.keys(yaml).sort()).toEqual(Object.keys(schema).sort());
      for (const [name, f] of Object.entries(schema)) {
        const value = yaml[name] === null ? null : f.check(yaml[name]);
        expect({ key: name, value }).toEqual({ key: name, value: f.default ?? null });
      }
    });
  }
});

describe("one key per idea", () => {
  const shared = Object.keys(key).filter((k) => k in key && !["sizeOrInput", "optionalInput"].includes(k));
  const names = (s: Schema) => new Map(Object.entries(s).flatMap(([k, f]) => [k, ...f.aliases].map((n) => [n, k] as const)));

  test("a shared idea has the same key, kind and aliases in every recipe that has it", () => {
    for (const idea of [...shared, "input"]) {
      const seen = RECIPES.map((r) => (r.schema as Schema)[idea]).filter((f) => f !== undefined);
      const shape = (f: (typeof seen)[number]) => ({ kind: f.kind, aliases: f.aliases, placeholder: f.placeholder });
      expect({ idea, shapes: seen.map(shape) }).toEqual({ idea, shapes: seen.map(() => shape(seen[0]!)) });
    }
  });

  test("no recipe uses a seed project's spelling as its own key (they are aliases)", () => {
    const aliases = new Set(RECIPES.flatMap((r) => Object.values(r.schema as Schema).flatMap((f) => f.aliases)));
    for (const r of RECIPES) expect(Object.keys(r.schema).filter((k) => aliases.has(k))).toEqual([]);
    for (const r of RECIPES.filter((r) => "steps" in r.schema)) expect(names(r.schema as Schema).get("num_inference_steps")).toBe("steps");
  });

  test("every diffusion recipe's --help lists steps and guidance with the same flag and aliases", () => {
    const diffusion = RECIPES.filter((r) => "steps" in r.schema && "guidance" in r.schema);
    expect(diffusion.length).toBeGreaterThanOrEqual(4);
    for (const r of diffusion) {
      const outcome = parseConfig(r.schema as Schema, { recipe: r.recipe, argv: ["--help"] });
      const lines = outcome.help!.split("\n");
      expect(lines.some((l) => /^  --steps N\s/.test(l) && l.includes("also --num-inference-steps, --ddim-steps"))).toBe(true);
      expect(lines.some((l) => /^  --guidance X\s/.test(l) && l.includes("also --guidance-scale, --cfg-scale"))).toBe(true);
    }
  });
});

describe("aliases", () => {
  test("--num-inference-steps and --guidance-scale set steps and guidance", () => {
    const c = parsed(latentBlend, ["--num-inference-steps", "5", "--guidance-scale", "6"]);
    expect([c.steps, c.guidance]).toEqual([5, 6]);
    const t = parsed(txt2img, ["--num_inference_steps=3", "--cfg-scale", "2"]);
    expect([t.steps, t.guidance]).toEqual([3, 2]);
  });

  const dir = mkdtempSync(join(tmpdir(), "latentloom-aliases-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a YAML file may use an alias, but not the alias and the key together", () => {
    writeFileSync(join(dir, "txt2img.yaml"), "num_inference_steps: 4\nguidance_scale: 3\n");
    const c = parsed(txt2img, [], dir);
    expect([c.steps, c.guidance]).toEqual([4, 3]);
    writeFileSync(join(dir, "txt2img.yaml"), "steps: 4\nnum_inference_steps: 5\n");
    expect(() => parsed(txt2img, [], dir)).toThrow(UsageError);
    expect(() => parsed(txt2img, [], dir)).toThrow("steps and num_inference_steps are the same key");
  });
});

describe("typed options", () => {
  test("latent-blend's options carry the config, renamed for the job", () => {
    const c = parsed(latentBlend, ["--steps", "7", "--image1", "a.png", "--prompts", "x", "--prompts", "b.jpg", "--size", "64x32"]);
    const o = latentBlend.options!(c as never);
    expect(o.keyframes).toEqual([{ prompt: "x", image: "a.png" }, { image: "b.jpg" }]);
    expect(o.transition).toMatchObject({ steps: 7, width: 64, height: 32, guidanceMidDamper: c.guidance_mid_damper });
    expect(o.load).toMatchObject({ model: "tiny", upscaler: null });
  });

  test("attention-interp's options group the prefixed keys per part", () => {
    const c = parsed(attentionInterp, ["--unet-ema", "0.2", "--controlnet-key", "--pipe-end", "5", "--no-size"]);
    const o = attentionInterp.options!(c as never);
    expect(o.interpolation!.unet!.ema).toBe(0.2);
    expect(o.interpolation!.controlnet!.sites.k).toBe(true);
    expect(o.interpolation!.pipe!.end).toBe(5);
    expect([o.width, o.height]).toEqual([undefined, undefined]);
  });
});

describe("recipes/*.ts read like notebooks", () => {
  for (const file of readdirSync(join(ROOT, "recipes")).filter((f) => f.endsWith(".ts"))) {
    test(`${file} is at most 150 lines of at most 120 columns`, () => {
      const lines = readFileSync(join(ROOT, "recipes", file), "utf8").split("\n");
      expect(lines.length).toBeLessThanOrEqual(150);
      expect(lines.filter((l) => [...l].length > 120)).toEqual([]);
    });
  }
});
