/** The part every tiny model folder shares: index, build record, scheduler, tokenizer, then one component at a time. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeTinyTokenizerFolder } from "./vocab.ts";

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
}

export type SaveComponent = (component: string, bytes: Uint8Array, config: unknown) => void;

/**
 * Starts a model folder in `dir` (model_index.json, latentloom_tiny.json, scheduler/, tokenizer/)
 * and returns what writes a component: `<component>/model.onnx` with its config.json.
 */
export async function startTinyFolder(
  dir: string,
  o: { modelIndex: unknown; build: unknown; scheduler: unknown },
): Promise<SaveComponent> {
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, "model_index.json"), o.modelIndex);
  writeJson(join(dir, "latentloom_tiny.json"), o.build);
  mkdirSync(join(dir, "scheduler"), { recursive: true });
  writeJson(join(dir, "scheduler", "scheduler_config.json"), o.scheduler);
  await writeTinyTokenizerFolder(join(dir, "tokenizer"));
  return (component, bytes, config) => {
    mkdirSync(join(dir, component), { recursive: true });
    writeFileSync(join(dir, component, "model.onnx"), bytes);
    writeJson(join(dir, component, "config.json"), config);
  };
}
