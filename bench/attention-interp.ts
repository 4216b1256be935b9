/**
 * Attention interpolation on tiny-controlnet with the recipe's defaults (the built-in 12-frame
 * 256×256 clip, 8 DDIM steps, canny ControlNet, guess mode, CFG 7.5): how much flicker it
 * removes, and what it costs.
 *
 * Flicker = mean absolute difference between consecutive output frames (0–255, all channels)
 * MINUS that of the input frames: what generation adds on top of the real motion. Compared:
 * interpolation on (reference defaults) vs off (no hooks, no latent blend), both with and without
 * the LAB histogram matching. Seconds per frame: median over the clip's frames of one run each.
 * The tiny model is untrained: the numbers say how the blending behaves, not how SD 1.5 looks.
 */
import { AttentionInterpolation, interpolationOff, syntheticClip, syntheticFrame, type InterpolateOptions } from "../pipelines/attention-interpolation/index.ts";
import type { Frame } from "../pipelines/io/frame.ts";
import { machine, printTable, report } from "./report.ts";

const FRAMES = 12;
const base: InterpolateOptions = { prompt: "a colourful oil painting of geometric shapes, thick brush strokes", negativePrompt: "lowres, worst quality, low quality", steps: 8, width: 256, height: 256 };
using ai = await AttentionInterpolation.load({ model: "tiny-controlnet" });

const mad = (a: Frame, b: Frame) => a.data.reduce((s, v, i) => s + Math.abs(v - b.data[i]!), 0) / a.data.length;
const meanStep = (frames: Frame[]) => frames.slice(1).reduce((s, f, i) => s + mad(frames[i]!, f), 0) / (frames.length - 1);
const inputs = Array.from({ length: FRAMES }, (_, i) => syntheticFrame(i, { frames: FRAMES }));
const inputFlicker = meanStep(inputs);

async function clip(options: Partial<InterpolateOptions>) {
  const frames: Frame[] = [];
  const seconds: number[] = [];
  let t = Bun.nanoseconds();
  for await (const f of ai.run(syntheticClip({ frames: FRAMES }), { ...base, ...options })) {
    const now = Bun.nanoseconds();
    seconds.push((now - t) / 1e9);
    t = now;
    frames.push(f);
  }
  seconds.sort((a, b) => a - b);
  return { frames, secondsPerFrame: seconds[Math.floor(seconds.length / 2)]!, stateBytes: ai.state.bytes };
}

// warm-up: model build, kernel compiles, graph cuts
for await (const _ of ai.run(syntheticClip({ frames: 2, width: 256, height: 256 }), base));

process.stderr.write(`attention-interp bench on ${machine()}; input flicker ${inputFlicker.toFixed(3)}\n`);
for (const hist of ["none", "lab"] as const) {
  const on = await clip({ histNormalize: hist });
  const off = await clip({ histNormalize: hist, interpolation: interpolationOff() });
  const flickerOn = meanStep(on.frames) - inputFlicker;
  const flickerOff = meanStep(off.frames) - inputFlicker;
  report({ bench: "attention-interp", metric: `flicker added, hist ${hist}, interpolation on`, value: flickerOn, unit: "MAD/255", vs: "off", ratio: flickerOn / flickerOff });
  report({ bench: "attention-interp", metric: `flicker added, hist ${hist}, interpolation off`, value: flickerOff, unit: "MAD/255" });
  if (hist === "none") {
    report({ bench: "attention-interp", metric: "seconds per frame, interpolation on", value: on.secondsPerFrame, unit: "s", vs: "off", ratio: on.secondsPerFrame / off.secondsPerFrame });
    report({ bench: "attention-interp", metric: "seconds per frame, interpolation off", value: off.secondsPerFrame, unit: "s" });
    report({ bench: "attention-interp", metric: "state memory, interpolation on (f32)", value: on.stateBytes / 2 ** 20, unit: "MiB" });
  }
}
printTable(`attention interpolation, tiny-controlnet, ${FRAMES}×256² frames, 8 DDIM steps (${machine()})`);
