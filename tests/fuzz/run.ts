/**
 * One fuzz campaign in this process: `bun tests/fuzz/run.ts <format> <count> <seed>`. Writes the
 * index of each mutation to stderr before loading it (so a parent can tell which one hung or
 * crashed the process) and a JSON summary on stdout at the end.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Rng } from "../../pipelines/sd/random.ts";
import { mutate } from "./mutate.ts";
import { FORMATS, type Format, TARGETS } from "./targets.ts";

export interface CampaignResult {
  format: Format;
  count: number;
  accepted: number;
  refused: number;
  /** Mutations whose loader threw something that is not one of our errors. */
  unhandled: { index: number; error: string }[];
}

export async function campaign(format: Format, count: number, seed: number, onIndex?: (i: number) => void): Promise<CampaignResult> {
  const target = TARGETS[format];
  const base = target.seed();
  const rng = new Rng(seed);
  const scratch = mkdtempSync(join(tmpdir(), `latentloom-fuzz-${format}-`));
  const result: CampaignResult = { format, count, accepted: 0, refused: 0, unhandled: [] };
  try {
    for (let i = 0; i < count; i++) {
      const bytes = mutate(base, rng);
      onIndex?.(i);
      try {
        await target.load(bytes, scratch);
        result.accepted++;
      } catch (e) {
        if (target.handled(e)) result.refused++;
        else result.unhandled.push({ index: i, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return result;
}

if (import.meta.main) {
  const [format, count, seed] = process.argv.slice(2);
  if (!FORMATS.includes(format as Format)) throw new Error(`format must be one of ${FORMATS.join(", ")}`);
  const r = await campaign(format as Format, Number(count), Number(seed), (i) => process.stderr.write(`${i}\n`));
  process.stdout.write(JSON.stringify(r) + "\n");
}
