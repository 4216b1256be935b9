import type { Pointer } from "../native/index.ts";
import { ortApi, readCString } from "./api.ts";
import { OrtError, OrtErrorCode } from "./errors.ts";
import { check } from "./status.ts";
import { outSlot, readOutInt32, readOutPointer } from "./native-memory.ts";

const DEVICE_TYPES = ["cpu", "gpu", "fpga", "npu"] as const;
export type MemoryDeviceType = (typeof DEVICE_TYPES)[number];

/** OrtAllocatorType / OrtMemType values used here. */
const DEVICE_ALLOCATOR = 0;
const MEM_TYPE_DEFAULT = 0;

const released = new FinalizationRegistry<Pointer>((p) => ortApi().ReleaseMemoryInfo(p));

/** Where a tensor's memory lives (an OrtMemoryInfo): host memory, or one CUDA device. */
export class MemoryInfo implements Disposable {
  #ptr: Pointer;
  private constructor(p: Pointer) {
    this.#ptr = p;
    released.register(this, p, this);
  }

  /** Host memory. */
  static cpu(): MemoryInfo {
    check(ortApi().CreateCpuMemoryInfo(DEVICE_ALLOCATOR, MEM_TYPE_DEFAULT, outSlot()));
    return new MemoryInfo(readOutPointer());
  }

  /** Device memory of CUDA device `deviceId` (ORT's "Cuda" memory info). */
  static cuda(deviceId = 0): MemoryInfo {
    if (!Number.isInteger(deviceId) || deviceId < 0) {
      throw new OrtError(OrtErrorCode.INVALID_ARGUMENT, `CUDA device id must be a non-negative integer, got ${deviceId}`);
    }
    check(ortApi().CreateMemoryInfo("Cuda", DEVICE_ALLOCATOR, deviceId, MEM_TYPE_DEFAULT, outSlot()));
    return new MemoryInfo(readOutPointer());
  }

  get ptr(): Pointer {
    if (!this.#ptr) throw new Error("MemoryInfo used after dispose()");
    return this.#ptr;
  }

  /** ORT's allocator name: "Cpu", "Cuda", … */
  get name(): string {
    return memoryInfoName(this.ptr);
  }

  get deviceType(): MemoryDeviceType {
    return memoryInfoDeviceType(this.ptr);
  }

  get deviceId(): number {
    check(ortApi().MemoryInfoGetId(this.ptr, outSlot()));
    return readOutInt32();
  }

  dispose(): void {
    if (!this.#ptr) return;
    released.unregister(this);
    ortApi().ReleaseMemoryInfo(this.#ptr);
    this.#ptr = 0 as Pointer;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

export function memoryInfoName(p: Pointer): string {
  check(ortApi().MemoryInfoGetName(p, outSlot()));
  return readCString(readOutPointer());
}

export function memoryInfoDeviceType(p: Pointer): MemoryDeviceType {
  ortApi().MemoryInfoGetDeviceType(p, outSlot());
  return DEVICE_TYPES[readOutInt32()] ?? "cpu";
}

let sharedCpu = 0 as Pointer;
/** One host OrtMemoryInfo kept for the process, used to wrap every JS-backed tensor. */
export function sharedCpuMemoryInfo(): Pointer {
  if (!sharedCpu) {
    check(ortApi().CreateCpuMemoryInfo(DEVICE_ALLOCATOR, MEM_TYPE_DEFAULT, outSlot()));
    sharedCpu = readOutPointer();
  }
  return sharedCpu;
}
