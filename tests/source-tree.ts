import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

export const REPO_ROOT = join(import.meta.dir, "..");

/** Repo-relative paths of the .ts files under `roots` whose text matches `pattern`, `except` left out. */
export function sourcesMatching(pattern: RegExp, except: string, roots = ["pipelines", "recipes", "bin", "ffi", "kernels"]): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts") && relative(REPO_ROOT, path) !== except && pattern.test(readFileSync(path, "utf8"))) found.push(relative(REPO_ROOT, path));
    }
  };
  for (const root of roots) walk(join(REPO_ROOT, root));
  return found;
}
