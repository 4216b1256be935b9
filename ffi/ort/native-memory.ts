/**
 * Native memory for everything C keeps after a call returns (Run's name and value tables, copied
 * strings). Allocated with ORT's default CPU allocator, so it never moves and needs no libc
 * lookup; each block is Disposable, with a FinalizationRegistry as the safety net.
 */
import { native, type Pointer } from "../native/index.ts";
import { ortApi } from "./api.ts";
import { check } from "./status.ts";

/**
 * Out-parameter slots (8 bytes each) at a fixed address. A small typed array moves when its
 * `.buffer` is first materialised, so we materialise it here, once, before taking the address.
 * Read a slot right after the call that filled it: later calls reuse the slots.
 */
const outSlots = new BigUint64Array(16);
void outSlots.buffer;
const OUT_BASE: Pointer = native.addressOf(outSlots);
/** Slot reserved for allocations, so an allocation between a call and its read is harmless. */
const ALLOC_SLOT = 15;

/** Address of out-parameter slot `i` (0..14). */
export function outSlot(i = 0): Pointer {
  return (OUT_BASE + i * 8) as Pointer;
}
/** Pointer written into out-slot `i`, as a number (0 for NULL). */
export function readOutPointer(i = 0): Pointer {
  return native.read.ptr(OUT_BASE, i * 8);
}
/** size_t / int64 written into out-slot `i`. */
export function readOutNumber(i = 0): number {
  return Number(outSlots[i]);
}
/** int32 (enums) written into out-slot `i`. */
export function readOutInt32(i = 0): number {
  return native.read.i32(OUT_BASE, i * 8);
}

let defaultAllocator = 0 as Pointer;
/** ORT's default CPU allocator (owned by ORT; never released). */
export function ortAllocator(): Pointer {
  if (!defaultAllocator) {
    check(ortApi().GetAllocatorWithDefaultOptions(outSlot(ALLOC_SLOT)));
    defaultAllocator = readOutPointer(ALLOC_SLOT);
  }
  return defaultAllocator;
}

/** Frees memory ORT handed us from its default allocator (names, arrays). */
export function freeOrtAllocated(p: Pointer): void {
  if (p) check(ortApi().AllocatorFree(ortAllocator(), p));
}

const released = new FinalizationRegistry<Pointer>((p) => freeOrtAllocated(p));
const utf8 = new TextEncoder();

/** A block of native memory at a fixed address. */
export class NativeBuffer implements Disposable {
  #ptr: Pointer;
  private constructor(
    p: Pointer,
    readonly byteLength: number,
  ) {
    this.#ptr = p;
    released.register(this, p, this);
  }

  /** Allocates `byteLength` bytes (at least 1), zero-filled. */
  static alloc(byteLength: number): NativeBuffer {
    const size = Math.max(1, byteLength);
    check(ortApi().AllocatorAlloc(ortAllocator(), size, outSlot(ALLOC_SLOT)));
    const buffer = new NativeBuffer(readOutPointer(ALLOC_SLOT), byteLength);
    new Uint8Array(native.bytesAt(buffer.#ptr, 0, size)).fill(0);
    return buffer;
  }

  /** A NUL-terminated UTF-8 copy of `text`. */
  static cString(text: string): NativeBuffer {
    const bytes = utf8.encode(text);
    const buffer = NativeBuffer.alloc(bytes.length + 1);
    buffer.bytes().set(bytes);
    return buffer;
  }

  /** The address; throws once disposed so a stale pointer never reaches C. */
  get ptr(): Pointer {
    if (!this.#ptr) throw new Error("NativeBuffer used after dispose()");
    return this.#ptr;
  }

  /** A view of the bytes (valid until dispose). */
  bytes(): Uint8Array {
    return new Uint8Array(native.bytesAt(this.ptr, 0, Math.max(1, this.byteLength)), 0, this.byteLength);
  }

  dispose(): void {
    if (!this.#ptr) return;
    released.unregister(this);
    freeOrtAllocated(this.#ptr);
    this.#ptr = 0 as Pointer;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * A native array of pointers (`const char* const*`, `OrtValue**`). Writes go through a Uint32Array
 * view as two halves, which avoids a BigInt allocation per entry on the Run path.
 */
export class PointerTable implements Disposable {
  readonly #buffer: NativeBuffer;
  readonly #halves: Uint32Array;
  readonly ptr: Pointer;
  constructor(readonly length: number) {
    this.#buffer = NativeBuffer.alloc(Math.max(1, length) * 8);
    this.ptr = this.#buffer.ptr;
    this.#halves = new Uint32Array(native.bytesAt(this.ptr, 0, Math.max(1, length) * 8));
  }

  set(i: number, p: number): void {
    this.#halves[2 * i] = p >>> 0;
    this.#halves[2 * i + 1] = (p / 0x1_0000_0000) >>> 0;
  }

  get(i: number): Pointer {
    return native.read.ptr(this.ptr, i * 8);
  }

  /** Sets entries 0..count-1 to NULL. */
  clear(count = this.length): void {
    this.#halves.fill(0, 0, 2 * count);
  }

  dispose(): void {
    this.#buffer.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
