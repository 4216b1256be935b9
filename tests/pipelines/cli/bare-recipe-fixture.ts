/**
 * A recipe that uses runRecipe without a spec and calls loadConfig itself, spawned by
 * run-recipe.test.ts; FIXTURE_CONFIG_DIR stands in for configs/.
 */
import { loadConfig } from "../../../pipelines/cli/config.ts";
import { runRecipe } from "../../../pipelines/cli/run-recipe.ts";
import { defineSchema, field } from "../../../pipelines/cli/schema.ts";

const schema = defineSchema({ strength: field.number({ description: "denoising strength", default: 0.5, min: 0, max: 1 }) });

await runRecipe(async (ctx) => {
  ctx.log("starting");
  ctx.debug("argv scanned for --verbose");
  const { config } = loadConfig(schema, { recipe: "bare", configDir: process.env.FIXTURE_CONFIG_DIR });
  process.stdout.write(`strength ${config.strength}\n`);
});
