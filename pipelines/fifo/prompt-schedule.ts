/**
 * Prompts for frame ranges (the multi-event videos users ask for; the reference's
 * fifo_ddim_sampling_multiprompts, issue #22): prompt j covers output frames
 * [start_j, start_{j+1}), the last one runs to the end, and across each boundary the text
 * embeddings are blended linearly over `blend` frames, so the switch is a ramp, not a cut.
 *
 *   const s = new PromptSchedule(["a calm sea", "a storm"], [24], 8);
 *   s.at(10)   // [[0, 1]]
 *   s.at(24)   // [[0, 0.5], [1, 0.5]]
 *
 * A FIFO window holds frames that leave the queue at different times; it is conditioned on the
 * prompt of its middle frame, so each frame is denoised mostly under its own range's prompt.
 */
import { UsageError } from "../errors.ts";

export class PromptSchedule {
  /** First output frame of each prompt. */
  readonly starts: readonly number[];

  /** `lengths`: frames of every prompt but the last (one fewer than `prompts`). */
  constructor(
    readonly prompts: readonly string[],
    lengths: readonly number[],
    readonly blend: number,
  ) {
    if (prompts.length === 0) throw new UsageError("the prompt schedule needs at least one prompt");
    if (lengths.length !== prompts.length - 1) {
      throw new UsageError(`prompt_frames needs ${prompts.length - 1} lengths for ${prompts.length} prompts (the last runs to the end), got ${lengths.length}`);
    }
    const bad = lengths.find((l) => !Number.isInteger(l) || l < 1);
    if (bad !== undefined) throw new UsageError(`prompt_frames ${bad}: each length must be a whole number of frames, at least 1`);
    if (!(blend >= 0)) throw new UsageError(`prompt_blend ${blend} must be at least 0`);
    const starts = [0];
    for (const l of lengths) starts.push(starts.at(-1)! + l);
    this.starts = starts;
  }

  /** Prompt weights at output frame `index` (negative during warm-up): one or two [prompt, weight] pairs summing to 1. */
  at(index: number): [number, number][] {
    for (let j = 1; j < this.starts.length; j++) {
      const boundary = this.starts[j]!;
      if (index >= boundary + this.blend / 2) continue;
      if (this.blend === 0 || index < boundary - this.blend / 2) return [[j - 1, 1]];
      const w = (index - (boundary - this.blend / 2)) / this.blend;
      return w <= 0 ? [[j - 1, 1]] : [[j - 1, 1 - w], [j, w]];
    }
    return [[this.prompts.length - 1, 1]];
  }
}
