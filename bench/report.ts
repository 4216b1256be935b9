/**
 * Benchmark output: one JSON line per figure on stdout (`bench`, `metric`, `value`, `unit`, and
 * `vs` + `ratio` = ours / theirs when it compares), and a readable table on stderr at the end.
 */
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
