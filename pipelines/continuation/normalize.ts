/**
 * The reference's contrast normalisation across clips (shared/specs/continuity-seq.md, step 6),
 * made streamable: there, every clip i becomes (x_i − mean_i)/std_i · mean_j(std_j) + mean_j(mean_j)
 * over ALL clips j, which needs the whole video before the first frame is written. Here j runs over
 * the clips so far (0 … i), so clip 0 is left as it is and each later clip is pulled towards the
 * running level and spread; memory is one clip of decoded frames.
 *
 * Values are the frames' bytes in [-1, 1] (b/127.5 − 1), all pixels, channels and frames of the
 * clip at once, std unbiased (torch's default); back to bytes by rounding, clamped to [-1, 1].
 */
import type { Frame } from "../io/frame.ts";

export class ClipNormalizer {
  readonly means: number[];
  readonly stds: number[];

  /** `before`: the statistics of clips already made (a resumed run). */
  constructor(before?: { readonly means: readonly number[]; readonly stds: readonly number[] }) {
    this.means = [...(before?.means ?? [])];
    this.stds = [...(before?.stds ?? [])];
  }

  /** The clip's frames normalised to the running statistics (new frames; the input is not changed). */
  normalize(frames: readonly Frame[]): Frame[] {
    let n = 0, sum = 0, sumSq = 0;
    for (const f of frames) {
      for (const b of f.data) {
        const v = b / 127.5 - 1;
        n++;
        sum += v;
        sumSq += v * v;
      }
    }
    const mean = n ? sum / n : 0;
    const std = n > 1 ? Math.sqrt(Math.max(0, (sumSq - n * mean * mean) / (n - 1))) : 0;
    this.means.push(mean);
    this.stds.push(std);
    const avg = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const [targetMean, targetStd] = [avg(this.means), avg(this.stds)];
    // a flat clip (std 0) keeps its shape and only moves to the running level
    const gain = std > 0 ? targetStd / std : 1;
    return frames.map((f) => {
      const data = new Uint8Array(f.data.length);
      for (let i = 0; i < data.length; i++) {
        const v = Math.min(1, Math.max(-1, (f.data[i]! / 127.5 - 1 - mean) * gain + targetMean));
        data[i] = Math.round((v + 1) * 127.5);
      }
      return { width: f.width, height: f.height, data };
    });
  }
}
