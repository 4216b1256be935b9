/**
 * What a recipe needs from the command line, in one import.
 *
 *   const schema = defineSchema({
 *     prompt: field.string({ description: "what to draw", default: "a lighthouse at dusk" }),
 *     steps: field.number({ description: "denoising steps", default: 20, integer: true, min: 1 }),
 *     size: field.size({ description: "output size", default: "512x512", step: 8 }),
 *   });
 *   await runRecipe({ recipe: "txt2img", schema }, async ({ config, log, interrupted }) => {
 *     log(`drawing "${config.prompt}" at ${config.size.width}x${config.size.height}`);
 *     for (const frame of frames) { if (interrupted()) break; await out.write(frame); }
 *   });
 */
export { CONFIG_DIR, loadConfig, parseConfig } from "./config.ts";
export type { ConfigOutcome, LoadConfigOptions, LoadedConfig } from "./config.ts";
export { createLogger } from "./log.ts";
export type { Logger } from "./log.ts";
export { defineRecipe, reportError, runRecipe } from "./run-recipe.ts";
export type { ConfiguredContext, RecipeContext, RecipeSpec } from "./run-recipe.ts";
export { defineSchema, field, FieldIssue } from "./schema.ts";
export type { Field, InferConfig, Schema, Size } from "./schema.ts";
export { diffusionKeys, key } from "./vocabulary.ts";
