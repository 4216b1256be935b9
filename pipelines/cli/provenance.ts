/**
 * How an output was made, written into it (PNG tEXt, container metadata) so that a frame can be
 * made again from itself: `--from-png frame.png` reads the config back (config.ts).
 *
 *   { "recipe": "txt2img", "version": "0.1.0", "config": { "prompt": "…", "size": "256x256", … } }
 */
import { readFileSync } from "node:fs";
import { PROVENANCE_KEY } from "../io/frame-sink.ts";
import type { Schema } from "./schema.ts";

const VERSION: string = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;

/**
 * The config as the YAML layer would take it back: sizes as "WxH", everything else as is. `out`
 * is left out: the same run twice gives the same bytes wherever it writes, and `--from-png` never
 * aims at the file it reads unless told to.
 */
export function provenance(recipe: string, schema: Schema, config: Readonly<Record<string, unknown>>): Record<string, string> {
  const values = Object.fromEntries(
    Object.entries(schema).filter(([key]) => key !== "out").map(([key, f]) => {
      const v = config[key];
      const size = v as { width: number; height: number } | null;
      return [key, f.kind === "size" && size !== null ? `${size.width}x${size.height}` : v];
    }),
  );
  return { [PROVENANCE_KEY]: JSON.stringify({ recipe, version: VERSION, config: values }), Software: `latentloom ${VERSION}` };
}
