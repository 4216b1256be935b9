/**
 * Benchmark output: one JSON line per figure on stdout (`bench`, `metric`, `value`, `unit`, and
 * `vs` + `ratio` = ours / theirs when it compares), and a readable table on stderr at the end.
 */
import { readFileSync } from "node:fs";

export interface Figure {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  vs?: string;
  ratio?: number;
}

const figures: Figure[] = [];

export function report(figure: Figure): void {
  const rounded = { ...figure, value: round(figure.value), ...(figure.ratio === undefined ? {} : { ratio: round(figure.ratio) }) };
  figures.push(rounded);
  process.stdout.write(`${JSON.stringify(rounded)}\n`);
}

export function printTable(title: string): void {
  const rows = figures.map((f) => [f.metric, `${f.value} ${f.unit}`, f.vs ?? "", f.ratio === undefined ? "" : `${f.ratio}×`]);
  const head = ["metric", "value", "vs", "ratio"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  process.stderr.write(`\n${title}\n${line(head)}\n${line(widths.map((w) => "-".repeat(w)))}\n${rows.map(line).join("\n")}\n`);
}

/** Median of `rounds` timings (ms) of `fn`, after `warmup` untimed calls. */
export function medianMs(fn: () => void, rounds = 9, warmup = 2): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = Bun.nanoseconds();
    fn();
    times.push((Bun.nanoseconds() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function machine(): string {
  const cpus = navigator.hardwareConcurrency;
  return `${process.platform}-${process.arch}, ${cpus} hardware threads, bun ${Bun.version}`;
}

function round(v: number): number {
  return Number(v.toPrecision(4));
}

const RSS_FLAG = "--rss-child";

/** In a process started by peakRss: the argument it was given; undefined in the benchmark itself. */
export function rssChildArgument(): string | undefined {
  const at = process.argv.indexOf(RSS_FLAG);
  return at < 0 ? undefined : process.argv[at + 1];
}

/** The child's last word: its peak RSS in bytes, on stdout. */
export function writePeakRss(): void {
  // VmHWM, not getrusage's maxrss: that one carries over the spawning parent's peak across exec
  const hwm = /VmHWM:\s*(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  process.stdout.write(`${hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024}\n`);
}

/** Runs `script` again in a fresh process with `argument` (see rssChildArgument) and gives its peak RSS in bytes. */
export function peakRss(script: string, argument: string | number): number {
  const r = Bun.spawnSync([process.execPath, "run", script, RSS_FLAG, String(argument)], { stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error(`the ${RSS_FLAG} ${argument} child of ${script} failed`);
  return Number(r.stdout.toString().trim());
}
