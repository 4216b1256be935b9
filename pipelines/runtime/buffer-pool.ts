/**
 * Freed buffers kept for reuse, the way tinygrad's LRU allocator does it: a freed buffer goes
 * into a list of its exact byte size instead of back to the system, the next allocation of that
 * size takes one from that list, and when an allocation fails for lack of memory the pool gives
 * everything it holds back and tries once more. Each backend owns one (DESIGN.md: the backend,
 * not the models, decides where memory comes from), so a cut UNet's segments, the sampler's
 * latents and the hooks' tensors all draw from the same buffers, step after step.
 *
 * Which buffer of a size: the oldest one (first allocated), not the most recently freed. Then
 * the buffer an allocation gets depends only on which buffers are free, not on the order they
 * were freed in, so a loop that allocates and frees the same way every step gets the same
 * buffer for the same tensor every step, and ONNX Runtime bindings over them stay valid
 * (most-recently-freed order made a cut UNet's buffers rotate with a period of three steps).
 *
 * Reuse is safe on CUDA because every copy, kernel and ONNX Runtime run of a backend is queued
 * on its one stream: work queued after a free runs after the work queued before it.
 */
import { LatentloomError } from "../errors.ts";

export interface BufferPoolSource<S> {
  /** Where the memory comes from, for messages: "cpu", "cuda:0". */
  readonly device: string;
  /** Gets `bytes` new bytes from the system (contents unspecified). */
  allocate(bytes: number): S;
  /** Gives a buffer back to the system. */
  release(storage: S, bytes: number): void;
  /** Whether `error`, thrown by allocate, means the device is out of memory. */
  isOutOfMemory(error: unknown): boolean;
}

export interface BufferPoolStats {
  /** Allocations served from the pool. */
  readonly reused: number;
  /** Allocations that went to the system. */
  readonly allocated: number;
  /** Times an out-of-memory failure emptied the pool for a second try. */
  readonly retries: number;
  /** Freed buffers held now, and their bytes. */
  readonly held: number;
  readonly heldBytes: number;
}

/** An allocation that failed even after the pool gave back everything it held. */
export class OutOfDeviceMemory extends LatentloomError {
  constructor(
    readonly device: string,
    readonly bytes: number,
    /** Bytes the pool gave back before the second try. */
    readonly released: number,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      `${device}: out of memory allocating ${formatBytes(bytes)} (${bytes} bytes), even after freeing ` +
        `${formatBytes(released)} of pooled buffers: ${why}`,
      "use a smaller --size or batch, or another device",
    );
    this.cause = cause;
  }
}

interface Held<S> {
  readonly storage: S;
  /** Allocation order: lists are sorted by it and `take` hands out the lowest. */
  readonly serial: number;
  /** When it was freed (a counter), so the least recently freed goes first past the limit. */
  readonly freedAt: number;
}

export class BufferPool<S extends object> {
  /** Byte size → freed buffers of that size, by ascending serial. */
  readonly #free = new Map<number, Held<S>[]>();
  readonly #serials = new WeakMap<S, number>();
  #nextSerial = 0;
  #heldBytes = 0;
  #held = 0;
  #clock = 0;
  #reused = 0;
  #allocated = 0;
  #retries = 0;

  /**
   * `limitBytes` caps what the pool holds: past it, the least recently freed buffers go back
   * to the system (default: no cap; memory comes back when an allocation runs out).
   */
  constructor(
    private readonly source: BufferPoolSource<S>,
    private readonly limitBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** A buffer of exactly `bytes` bytes: a freed one if the pool has it (`reused`), else a new one. */
  take(bytes: number): { storage: S; reused: boolean } {
    const list = this.#free.get(bytes);
    const held = list?.shift();
    if (held) {
      if (list!.length === 0) this.#free.delete(bytes);
      this.#held--;
      this.#heldBytes -= bytes;
      this.#reused++;
      return { storage: held.storage, reused: true };
    }
    let storage: S;
    try {
      storage = this.source.allocate(bytes);
    } catch (first) {
      if (!this.source.isOutOfMemory(first)) throw first;
      this.#retries++;
      const released = this.trim();
      try {
        storage = this.source.allocate(bytes);
      } catch (second) {
        if (!this.source.isOutOfMemory(second)) throw second;
        throw new OutOfDeviceMemory(this.source.device, bytes, released, second);
      }
    }
    this.#allocated++;
    this.#serials.set(storage, this.#nextSerial++);
    return { storage, reused: false };
  }

  /** Keeps a buffer of `bytes` bytes for a later `take` of the same size. */
  give(storage: S, bytes: number): void {
    let list = this.#free.get(bytes);
    if (!list) {
      list = [];
      this.#free.set(bytes, list);
    }
    const serial = this.#serials.get(storage) ?? this.#nextSerial++;
    let at = list.length;
    while (at > 0 && list[at - 1]!.serial > serial) at--;
    list.splice(at, 0, { storage, serial, freedAt: this.#clock++ });
    this.#held++;
    this.#heldBytes += bytes;
    while (this.#heldBytes > this.limitBytes) this.#releaseOldest();
  }

  /** Gives every held buffer back to the system; returns how many bytes that was. */
  trim(): number {
    const released = this.#heldBytes;
    for (const [bytes, list] of this.#free) for (const held of list) this.source.release(held.storage, bytes);
    this.#free.clear();
    this.#held = 0;
    this.#heldBytes = 0;
    return released;
  }

  get stats(): BufferPoolStats {
    return { reused: this.#reused, allocated: this.#allocated, retries: this.#retries, held: this.#held, heldBytes: this.#heldBytes };
  }

  #releaseOldest(): void {
    let size = -1;
    let index = -1;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [bytes, list] of this.#free) {
      list.forEach((held, i) => {
        if (held.freedAt < oldest) [oldest, size, index] = [held.freedAt, bytes, i];
      });
    }
    const list = this.#free.get(size)!;
    const [held] = list.splice(index, 1);
    if (list.length === 0) this.#free.delete(size);
    this.#held--;
    this.#heldBytes -= size;
    this.source.release(held!.storage, size);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
