/**
 * FIFO-Diffusion on tiny-video (issue 10 targets for this machine):
 *  - seconds per output frame at the recipe's defaults (256×160, f = 8, n = 2, lookahead), all of
 *    a step's windows in one batched UNet call vs one call per window (the reference's loop);
 *  - peak RSS of whole runs of 50 vs 500 frames (64×64), each in a fresh child process.
 *    Target: 500 frames ≤ 1.1× 50 frames (the queue is fixed; frames leave as they are made).
 *
 *   bun run bench/fifo.ts
 */
import { FifoDiffusion, type FifoOptions } from "../pipelines/fifo/index.ts";
import { machine, peakRss, printTable, report, rssChildArgument, writePeakRss } from "./report.ts";

async function frames(fifo: FifoDiffusion, options: FifoOptions): Promise<number> {
  let n = 0;
  for await (const _ of fifo.run(options)) n++;
  return n;
}

const child = rssChildArgument();
if (child !== undefined) {
  const n = Number(child);
  using fifo = await FifoDiffusion.load();
  if ((await frames(fifo, { prompt: "a boat on a lake", frames: n, width: 64, height: 64 })) !== n) throw new Error(`fewer than ${n} frames`);
  writePeakRss();
  process.exit(0);
}

using fifo = await FifoDiffusion.load();
/** Seconds per output frame past the base clip and warm-up: a run of 8 + n frames minus a run of 8. */
async function perFrame(windowBatch: number | null, n = 16): Promise<number> {
  const base = { prompt: "a boat on a lake", windowBatch };
  const t0 = Bun.nanoseconds();
  await frames(fifo, { ...base, frames: 20 });
  const t1 = Bun.nanoseconds();
  await frames(fifo, { ...base, frames: 20 + n });
  const t2 = Bun.nanoseconds();
  return (t2 - t1 - (t1 - t0)) / 1e9 / n;
}
await frames(fifo, { prompt: "warm-up", frames: 20 });
const batched = await perFrame(null);
const single = await perFrame(1);
report({ bench: "fifo", metric: "seconds_per_frame_256x160_batched", value: batched, unit: "s", vs: "one UNet call per window", ratio: batched / single });
report({ bench: "fifo", metric: "seconds_per_frame_256x160_one_call_per_window", value: single, unit: "s" });

const rss50 = peakRss(import.meta.path, 50), rss500 = peakRss(import.meta.path, 500);
const MiB = 2 ** 20;
report({ bench: "fifo", metric: "peak_rss_50_frames", value: rss50 / MiB, unit: "MiB" });
report({ bench: "fifo", metric: "peak_rss_500_frames", value: rss500 / MiB, unit: "MiB", vs: "50 frames", ratio: rss500 / rss50 });

printTable(`FIFO-Diffusion on ${machine()}`);
