/**
 * docs/stylize-strip.png: the 8 frames of the built-in flickering clip that `bun run
 * recipes/stylize.ts` stylises; rows: the input, DiffSynth with neither cross-frame attention
 * (pattern [0]) nor the in-loop smoother, and the recipe's defaults (pattern [-1, 0, 1], smoother on).
 *
 *   bun run bench/figures/stylize-strip.ts
 */
import { writeFileSync } from "node:fs";
import type { Frame } from "../../pipelines/io/frame.ts";
import { encodePng } from "../../pipelines/io/png-files.ts";
import { DiffSynth, STYLIZE_CLIP } from "../../pipelines/stylize/diffsynth/index.ts";
import { flickerClip, temporalDiff } from "../../pipelines/stylize/index.ts";

const collect = async (frames: AsyncIterable<Frame>) => {
  const out: Frame[] = [];
  for await (const f of frames) out.push(f);
  return out;
};
const job = await DiffSynth.load();
const rows = [
  await collect(flickerClip(STYLIZE_CLIP)),
  await collect(job.run(flickerClip(STYLIZE_CLIP), { smoother: false, combinePattern: [0] })),
  await collect(job.run(flickerClip(STYLIZE_CLIP), {})),
];

const { width: w, height: h } = rows[0]![0]!;
const gap = 4;
const columns = rows[0]!.length;
const W = columns * (w + gap) - gap, H = rows.length * (h + gap) - gap;
const data = new Uint8Array(W * H * 3).fill(255);
rows.forEach((row, r) =>
  row.forEach((frame, c) => {
    for (let y = 0; y < h; y++) data.set(frame.data.subarray(y * w * 3, (y + 1) * w * 3), ((r * (h + gap) + y) * W + c * (w + gap)) * 3);
  }),
);
const path = new URL("../../docs/stylize-strip.png", import.meta.url).pathname;
writeFileSync(path, encodePng({ width: W, height: H, data }));
console.log(`wrote ${path}`);
console.log(`frame-to-frame difference: input ${temporalDiff(rows[0]!).toFixed(2)}, ` +
  `plain ${temporalDiff(rows[1]!).toFixed(2)}, defaults ${temporalDiff(rows[2]!).toFixed(2)}`);
