import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where compiled kernels, PTX and built tiny models are cached:
 * `LATENTLOOM_CACHE`, else `$XDG_CACHE_HOME/latentloom`, else `~/.cache/latentloom`.
 * The subfolder is created on first use.
 */
export function cacheDir(sub: string): string {
  const root =
    process.env.LATENTLOOM_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "latentloom");
  const dir = join(root, sub);
  mkdirSync(dir, { recursive: true });
  return dir;
}
