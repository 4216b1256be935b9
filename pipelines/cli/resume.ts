/**
 * Resumable recipes (fifo, continue) share these rules: a run saves its state beside a file
 * output unless told where, and a resumed run writes only what is left, so it may go into a PNG
 * folder (numbered on from where the run stopped) or stdout, never over a file that holds the
 * frames made before the stop.
 */
import { existsSync, statSync } from "node:fs";
import { UsageError } from "../errors.ts";

/** The checkpoint asked for, else `OUT.<suffix>` beside a file or folder output; none for stdout. */
export function checkpointBeside(c: { checkpoint: string | null; out: string }, suffix: string): string | null {
  if (c.checkpoint !== null) return c.checkpoint;
  return c.out === "-" ? null : `${c.out.replace(/\/+$/, "")}.${suffix}`;
}

/** Throws a UsageError unless `checkpoint` exists and `out` can take the rest of the run. */
export function checkResumeTarget(checkpoint: string | null | undefined, out: string, rest = "frames"): void {
  if (!checkpoint || !existsSync(checkpoint)) {
    const where = checkpoint ?? "(none: --out -)";
    throw new UsageError(`--resume: no checkpoint at ${where}`, "give the --checkpoint the stopped run saved to");
  }
  if (out !== "-" && existsSync(out) && !statSync(out).isDirectory()) {
    throw new UsageError(`--resume would overwrite ${out}, which holds the frames made before the checkpoint`,
      `resume into a PNG folder (--out DIR/), to stdout (--out -), or to a new file for the remaining ${rest}`);
  }
}
