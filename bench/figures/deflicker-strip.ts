/**
 * docs/deflicker-strip.png: frames 0, 4, …, 20 of the built-in flickering clip; rows: the clean
 * clip, the flickering input, and what `bun run recipes/deflicker.ts` (fast mode, window 15) makes of it.
 *
 *   bun run bench/figures/deflicker-strip.ts
 */
import { writeFileSync } from "node:fs";
import type { Frame } from "../../pipelines/io/frame.ts";
import { encodePng } from "../../pipelines/io/png-files.ts";
import { cleanFrame, Deflicker, FLICKER_CLIP_DEFAULTS, flickerClip, meanAbsDiff, temporalDiff } from "../../pipelines/stylize/index.ts";

const n = FLICKER_CLIP_DEFAULTS.frames;
const shown = [0, 4, 8, 12, 16, 20];
const input: Frame[] = [];
for await (const f of flickerClip()) input.push(f);
using job = Deflicker.open({ mode: "fast", window: 15 });
const output: Frame[] = [];
for await (const f of job.frames((async function* () { yield* input; })())) output.push(f);
const clean = Array.from({ length: n }, (_, t) => cleanFrame(t));

const { width: w, height: h } = clean[0]!;
const gap = 4;
const rows = [clean, input, output];
const W = shown.length * (w + gap) - gap, H = rows.length * (h + gap) - gap;
const data = new Uint8Array(W * H * 3).fill(255);
rows.forEach((row, r) =>
  shown.forEach((t, c) => {
    for (let y = 0; y < h; y++) {
      const from = row[t]!.data.subarray(y * w * 3, (y + 1) * w * 3);
      data.set(from, ((r * (h + gap) + y) * W + c * (w + gap)) * 3);
    }
  }),
);
const path = new URL("../../docs/deflicker-strip.png", import.meta.url).pathname;
writeFileSync(path, encodePng({ width: W, height: H, data }));
const error = (v: Frame[]) => v.reduce((a, f, t) => a + meanAbsDiff(f, clean[t]!), 0) / n;
console.log(`wrote ${path}`);
console.log(`frame-to-frame difference ${temporalDiff(input).toFixed(2)} → ${temporalDiff(output).toFixed(2)} ` +
  `(clean clip ${temporalDiff(clean).toFixed(2)}); error to the clean clip ${error(input).toFixed(2)} → ${error(output).toFixed(2)}`);
