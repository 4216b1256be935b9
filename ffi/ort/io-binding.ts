/**
 * IoBinding: inputs and outputs attached to a session once and reused across runs (device
 * buffers, constant embeddings). Bindings persist until clear(); rebind only what changes.
 */
import { native, type Pointer } from "../native/index.ts";
import { ortApi } from "./api.ts";
import { check } from "./status.ts";
import type { MemoryInfo } from "./memory-info.ts";
import { freeOrtAllocated, NativeBuffer, ortAllocator, outSlot, readOutNumber, readOutPointer } from "./native-memory.ts";
import type { Session } from "./session.ts";
import { Value } from "./value.ts";

const released = new FinalizationRegistry<Pointer>((p) => ortApi().ReleaseIoBinding(p));
const utf8 = new TextDecoder();

export class IoBinding implements Disposable {
  #handle: Pointer;
  readonly #session: Session;
  /** Bound Values stay referenced: ORT keeps pointers into their memory until they are unbound. */
  readonly #inputs = new Map<string, Value>();
  readonly #outputs = new Map<string, Value>();

  constructor(session: Session) {
    check(ortApi().CreateIoBinding(session.handle, outSlot()));
    this.#handle = readOutPointer();
    this.#session = session;
    released.register(this, this.#handle, this);
  }

  get handle(): Pointer {
    if (!this.#handle) throw new Error("IoBinding used after dispose()");
    return this.#handle;
  }

  /**
   * Binds an input, replacing what `name` had. A value in the memory the session reads it from
   * is used in place, so later writes to that memory are what the next run sees; one elsewhere
   * (host memory for a CUDA node, or the reverse) is copied now, at bind time: bind it again
   * after changing it.
   */
  bindInput(name: string, value: Value): this {
    this.#withName(name, this.#session.inputNamePointer(name), (p) => check(ortApi().BindInput(this.handle, p, value.handle)));
    this.#inputs.set(name, value);
    return this;
  }

  /** Binds an output to a preallocated Value, which each run overwrites (replacing what `name` had). */
  bindOutput(name: string, value: Value): this {
    this.#withName(name, this.#session.outputNamePointer(name), (p) => check(ortApi().BindOutput(this.handle, p, value.handle)));
    this.#outputs.set(name, value);
    return this;
  }

  /** Lets ORT allocate an output on the device `memInfo` describes. */
  bindOutputToDevice(name: string, memInfo: MemoryInfo): this {
    this.#withName(name, this.#session.outputNamePointer(name), (p) => check(ortApi().BindOutputToDevice(this.handle, p, memInfo.ptr)));
    this.#outputs.delete(name);
    return this;
  }

  run(): void {
    check(ortApi().RunWithBinding(this.#session.handle, null, this.handle));
  }

  /** Waits for device outputs to be ready (needed when ORT runs on a user compute stream). */
  synchronizeOutputs(): void {
    check(ortApi().SynchronizeBoundOutputs(this.handle));
  }

  /** The bound outputs after run(), as new Values (the caller disposes them). */
  outputs(): Record<string, Value> {
    const api = ortApi();
    const allocator = ortAllocator();
    check(api.GetBoundOutputNames(this.handle, allocator, outSlot(0), outSlot(1), outSlot(2)));
    const namesBuffer = readOutPointer(0);
    const lengths = readOutPointer(1);
    const count = readOutNumber(2);
    const names: string[] = [];
    try {
      let offset = 0;
      for (let i = 0; i < count; i++) {
        const length = Number(native.read.u64(lengths, i * 8));
        names.push(utf8.decode(new Uint8Array(native.bytesAt(namesBuffer, offset, length))));
        offset += length;
      }
    } finally {
      freeOrtAllocated(namesBuffer);
      freeOrtAllocated(lengths);
    }
    check(api.GetBoundOutputValues(this.handle, allocator, outSlot(0), outSlot(1)));
    const values = readOutPointer(0);
    const valueCount = readOutNumber(1);
    const result: Record<string, Value> = {};
    try {
      for (let i = 0; i < valueCount; i++) {
        result[names[i] ?? `output_${i}`] = Value.adopt(native.read.ptr(values, i * 8), false);
      }
    } finally {
      freeOrtAllocated(values);
    }
    return result;
  }

  /** Removes every input and output binding. */
  clear(): void {
    this.clearInputs();
    this.clearOutputs();
  }

  /** Removes every input binding. */
  clearInputs(): void {
    ortApi().ClearBoundInputs(this.handle);
    this.#inputs.clear();
  }

  /** Removes every output binding. */
  clearOutputs(): void {
    ortApi().ClearBoundOutputs(this.handle);
    this.#outputs.clear();
  }

  #withName(name: string, known: Pointer | undefined, call: (namePtr: Pointer) => void): void {
    if (known !== undefined) return call(known);
    using temporary = NativeBuffer.cString(name);
    call(temporary.ptr);
  }

  dispose(): void {
    if (!this.#handle) return;
    released.unregister(this);
    ortApi().ReleaseIoBinding(this.#handle);
    this.#handle = 0 as Pointer;
    this.#inputs.clear();
    this.#outputs.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
