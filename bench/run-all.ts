/** Runs every benchmark in bench/ one after another (never in parallel: they measure time). */
import { readdirSync } from "node:fs";

const here = new URL(".", import.meta.url).pathname;
const skip = new Set(["run-all.ts", "report.ts"]);
let failed = 0;
for (const file of readdirSync(here).filter((f) => f.endsWith(".ts") && !skip.has(f)).sort()) {
  process.stderr.write(`\n== bench/${file}\n`);
  const { exitCode } = Bun.spawnSync([process.execPath, "run", `${here}${file}`], { stdout: "inherit", stderr: "inherit" });
  if (exitCode !== 0) failed++;
}
process.exit(failed ? 1 : 0);
