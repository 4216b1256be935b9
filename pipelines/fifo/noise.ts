/**
 * Every random number of a FIFO run, keyed by what it is for, never by when it is drawn: a
 * frame's starting noise by the frame's id, its step noise by (frame id, DDIM index). So a run
 * resumed from a checkpoint draws exactly what the uninterrupted run drew, and a frame's noise
 * does not depend on the queue's shape around it.
 */
import { Rng } from "../sd/random.ts";

const STREAM = { base: 1, baseStep: 2, initial: 3, step: 4 } as const;

export class FifoNoise {
  readonly #root: Rng;

  /** `frameSize` = 4·h·w, the elements of one frame's latent. */
  constructor(
    seed: number,
    readonly frameSize: number,
  ) {
    this.#root = new Rng(seed);
  }

  /** The base clip's starting noise, [1, 4, f, h, w] in that order. */
  base(frames: number): Float32Array {
    return this.#root.fork(STREAM.base).normal(new Float32Array(frames * this.frameSize));
  }

  /** The base clip's step noise at DDIM index k, [1, 4, f, h, w]. */
  baseStep(frames: number, k: number): Float32Array {
    return this.#root.fork(STREAM.baseStep).fork(k).normal(new Float32Array(frames * this.frameSize));
  }

  /** The noise frame `frameId` enters the queue with, [1, 4, h, w]. */
  initial(frameId: number): Float32Array {
    return this.#root.fork(STREAM.initial).fork(frameId).normal(new Float32Array(this.frameSize));
  }

  /** The step noise of frame `frameId` at DDIM index k, [1, 4, h, w]. */
  step(frameId: number, k: number): Float32Array {
    return this.#root.fork(STREAM.step).fork(frameId).fork(k).normal(new Float32Array(this.frameSize));
  }
}
