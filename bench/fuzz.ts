/**
 * The full fuzz run: 10,000 seeded mutations of each input format (y4m, ppm, png, yaml, onnx, and
 * the FIFO and continuation checkpoints)
 * through the loaders users' files go through, each format in a watched child process. Prints per
 * format the counts of crashes, hangs and unhandled exceptions (all must be 0) and how many
 * mutations were accepted or cleanly refused.
 *
 *   bun run bench/fuzz.ts [count=10000] [seed=1]
 */
import { supervise } from "../tests/fuzz/supervise.ts";
import { FORMATS } from "../tests/fuzz/targets.ts";
import { printTable, report } from "./report.ts";

const count = Number(process.argv[2] ?? 10_000);
const seed = Number(process.argv[3] ?? 1);
let bad = 0;
for (const format of FORMATS) {
  const t0 = performance.now();
  const r = await supervise(format, count, seed);
  const seconds = (performance.now() - t0) / 1000;
  const unhandled = r.result?.unhandled.length ?? 0;
  const bench = "fuzz";
  report({ bench, metric: `${format}_crashes`, value: r.crash ? 1 : 0, unit: "count" });
  report({ bench, metric: `${format}_hangs`, value: r.hang ? 1 : 0, unit: "count" });
  report({ bench, metric: `${format}_unhandled`, value: unhandled, unit: "count" });
  report({ bench, metric: `${format}_refused`, value: r.result?.refused ?? 0, unit: "count" });
  report({ bench, metric: `${format}_accepted`, value: r.result?.accepted ?? 0, unit: "count" });
  report({ bench, metric: `${format}_seconds`, value: seconds, unit: "s" });
  if (r.crash) process.stderr.write(`${format}: crash at mutation ${r.crash.index} (exit ${r.crash.exit}, signal ${r.crash.signal})\n`);
  if (r.hang) process.stderr.write(`${format}: hang at mutation ${r.hang.index}\n`);
  for (const u of r.result?.unhandled.slice(0, 5) ?? []) process.stderr.write(`${format}: mutation ${u.index}: ${u.error}\n`);
  bad += (r.crash ? 1 : 0) + (r.hang ? 1 : 0) + unhandled;
}
printTable(`fuzz: ${count} mutations per format, seed ${seed}`);
process.exit(bad === 0 ? 0 : 1);
