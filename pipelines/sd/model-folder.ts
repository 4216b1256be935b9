import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ModelError } from "../errors.ts";

/**
 * A Stable Diffusion ONNX export in the optimum / diffusers layout (shared/reference/
 * sd-onnx-layout.md §1): components are found by folder name, not by model_index.json classes.
 */
export interface ModelFolder {
  dir: string;
  textEncoder: string;
  unet: string;
  vaeDecoder: string;
  /** Needed only for img2img and inpainting. */
  vaeEncoder?: string;
  /** A separate ControlNet (layout 4.2), when the folder has one. */
  controlnet?: string;
  tokenizer: string;
  schedulerConfig: Record<string, unknown>;
  /** VAE latent scale: optimum's vae config `scaling_factor`, else SD 1.x/2.x's 0.18215. */
  vaeScale: number;
}

const required = [
  ["text_encoder", "model.onnx"],
  ["unet", "model.onnx"],
  ["vae_decoder", "model.onnx"],
] as const;

/** Checks that `dir` holds a usable export; a missing piece is one ModelError naming the file. */
export function readModelFolder(dirArg: string): ModelFolder {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelError(`model folder ${dirArg} does not exist`, "use --model tiny or a Stable Diffusion ONNX export folder");
  }
  for (const [component, file] of required) {
    const path = join(dir, component, file);
    if (!existsSync(path)) throw new ModelError(`${path} is missing: a model folder needs ${component}/${file}`);
  }
  const tokenizer = join(dir, "tokenizer");
  const hasVocab = existsSync(join(tokenizer, "vocab.json")) && existsSync(join(tokenizer, "merges.txt"));
  if (!hasVocab && !existsSync(join(tokenizer, "tokenizer.json"))) {
    throw new ModelError(`${tokenizer} is missing: expected vocab.json + merges.txt or tokenizer.json`);
  }
  const schedulerPath = join(dir, "scheduler", "scheduler_config.json");
  const schedulerConfig = existsSync(schedulerPath) ? readJson(schedulerPath) : {};
  const vaeConfigPath = [join(dir, "vae_decoder", "config.json"), join(dir, "vae_encoder", "config.json")].find(existsSync);
  const vaeScale = vaeConfigPath ? Number(readJson(vaeConfigPath).scaling_factor ?? 0.18215) : 0.18215;
  const optional = (component: string) => {
    const path = join(dir, component, "model.onnx");
    return existsSync(path) ? path : undefined;
  };
  return {
    dir,
    textEncoder: join(dir, "text_encoder", "model.onnx"),
    unet: join(dir, "unet", "model.onnx"),
    vaeDecoder: join(dir, "vae_decoder", "model.onnx"),
    vaeEncoder: optional("vae_encoder"),
    controlnet: optional("controlnet"),
    tokenizer,
    schedulerConfig,
    vaeScale,
  };
}

function readJson(path: string): Record<string, unknown> {
  try {
    const value = JSON.parse(readFileSync(path, "utf8"));
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object");
    return value;
  } catch (e) {
    throw new ModelError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}
