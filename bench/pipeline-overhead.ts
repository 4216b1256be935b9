/**
 * A 256×256, 8-step txt2img on `tiny`: the share of wall time spent outside ORT runs and kernel
 * launches (tokenizing, scheduling, copies, JS). Target: below 10%. The first generation warms
 * up (model build or load, kernel compile); the median of the following rounds is reported.
 */
import { timing } from "../pipelines/runtime/timing.ts";
import { StableDiffusion } from "../pipelines/sd/stable-diffusion.ts";
import { machine, printTable, report } from "./report.ts";

const sd = await StableDiffusion.load("tiny");
const options = { prompt: "a lighthouse on a cliff at sunset", steps: 8, seed: 1, width: 256, height: 256 };
sd.generate(options);

const rounds: { wall: number; ort: number; kernels: number }[] = [];
for (let i = 0; i < 5; i++) {
  timing.reset();
  timing.enabled = true;
  const t0 = Bun.nanoseconds();
  sd.generate(options);
  const wall = Bun.nanoseconds() - t0;
  timing.enabled = false;
  rounds.push({ wall, ort: timing.ortNs, kernels: timing.kernelNs });
}
rounds.sort((a, b) => a.wall - b.wall);
const median = rounds[Math.floor(rounds.length / 2)]!;
const outside = (median.wall - median.ort - median.kernels) / median.wall;

report({ bench: "pipeline-overhead", metric: "txt2img_256_8steps_wall", value: median.wall / 1e6, unit: "ms" });
report({ bench: "pipeline-overhead", metric: "ort_run_share", value: (100 * median.ort) / median.wall, unit: "%" });
report({ bench: "pipeline-overhead", metric: "kernel_share", value: (100 * median.kernels) / median.wall, unit: "%" });
report({ bench: "pipeline-overhead", metric: "outside_ort_and_kernels_share", value: 100 * outside, unit: "%" });
printTable(`txt2img pipeline overhead on tiny (${sd.backend.description}; ${machine()})`);
sd.dispose();
