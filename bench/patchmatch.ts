/**
 * Patch-match deflicker on the CPU backend (issue 9 targets for this machine):
 *  - one 512×512 frame pair of the flickering clip (frames 0 → 4: shapes ~21 px apart), NNF + vote:
 *    seconds and the energy reached (mean patch error at patch 5, one common scale), vs plain
 *    PatchMatch at 10 iterations (one level, random start, 1-pixel propagation, one random sample
 *    per radius). Target: ≤ 2 s at an energy no worse than plain's.
 *  - the smoother (fast mode, window 15) per output frame at 128×128.
 *  - peak RSS of a whole deflicker run of 50 vs 400 frames (64×64, fast mode, window 4), each in a
 *    fresh child process. Target: 400 frames ≤ 1.1× 50 frames (memory is the window's, not the video's).
 *
 *   bun run bench/patchmatch.ts
 */
import { CpuBackend } from "../pipelines/runtime/cpu-backend.ts";
import { Deflicker, flickerClip, flickerFrame, PatchMatcher, type PatchMatchOptions } from "../pipelines/stylize/index.ts";
import { uploadImage } from "../pipelines/stylize/pairs.ts";
import { machine, peakRss, printTable, report, rssChildArgument, writePeakRss } from "./report.ts";

/** Child mode: deflicker `frames` frames, print the peak RSS in bytes. */
async function rssChild(frames: number): Promise<void> {
  using job = Deflicker.open({ mode: "fast", window: 4, iterations: 1 });
  let n = 0;
  for await (const _ of job.frames(flickerClip({ frames, width: 64, height: 64 }))) n++;
  if (n !== frames) throw new Error(`got ${n} of ${frames} frames`);
  writePeakRss();
}

const child = rssChildArgument();
if (child !== undefined) {
  await rssChild(Number(child));
  process.exit(0);
}

const cpu = new CpuBackend();
const S = 512;
const pair = {
  sourceGuide: uploadImage(cpu, flickerFrame(0, { width: S, height: S })),
  targetGuide: uploadImage(cpu, flickerFrame(4, { width: S, height: S })),
} as const;
const batch = { ...pair, sourceStyle: pair.sourceGuide };
using scale = new PatchMatcher(cpu);

function timeMatch(options: Partial<PatchMatchOptions>, rounds: number): { seconds: number; energy: number } {
  using matcher = new PatchMatcher(cpu, options);
  const times: number[] = [];
  let energy = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = Bun.nanoseconds();
    using result = matcher.match(batch, { keepField: true });
    times.push((Bun.nanoseconds() - t0) / 1e9);
    energy = scale.fieldEnergy(batch, result.field!);
  }
  times.sort((a, b) => a - b);
  return { seconds: times[times.length >> 1]!, energy };
}

timeMatch({ iterations: 1 }, 1); // compiles the kernels
const ours = timeMatch({}, 3);
const plain = timeMatch({ levels: 1, iterations: 10, init: "random", jumps: [1], shifts: false, randomSamples: 1 }, 1);
report({ bench: "patchmatch", metric: "pair_512_nnf_and_vote", value: ours.seconds, unit: "s", vs: "plain PatchMatch, 10 iterations", ratio: ours.seconds / plain.seconds });
report({ bench: "patchmatch", metric: "pair_512_energy", value: ours.energy, unit: "mean patch error", vs: "plain PatchMatch, 10 iterations", ratio: ours.energy / plain.energy });
report({ bench: "patchmatch", metric: "pair_512_plain_10_iterations", value: plain.seconds, unit: "s" });

{
  using job = Deflicker.open({ mode: "fast", window: 15 });
  const frames = 40;
  const t0 = Bun.nanoseconds();
  for await (const _ of job.frames(flickerClip({ frames, width: 128, height: 128 })));
  const perFrame = (Bun.nanoseconds() - t0) / 1e9 / frames;
  report({ bench: "patchmatch", metric: "fast_window_15_128px_per_frame", value: perFrame, unit: "s" });
  report({ bench: "patchmatch", metric: "fast_window_15_remaps_per_frame", value: job.run.stats.remaps / frames, unit: "remaps" });
}

const rss50 = peakRss(import.meta.path, 50), rss400 = peakRss(import.meta.path, 400);
const MiB = 2 ** 20;
report({ bench: "patchmatch", metric: "deflicker_peak_rss_50_frames", value: rss50 / MiB, unit: "MiB" });
report({ bench: "patchmatch", metric: "deflicker_peak_rss_400_frames", value: rss400 / MiB, unit: "MiB", vs: "50 frames", ratio: rss400 / rss50 });

printTable(`patch-match on ${machine()}`);
