/**
 * Run by cuda-backend.test.ts with LATENTLOOM_CUDA_LIB / LATENTLOOM_NVRTC_LIB pointing at the
 * compiled tests/ffi/cuda/fake-cuda.c and FAKE_CUDA_MEMORY_LIMIT=1048576 (1 MiB of "device"
 * memory). Drives CudaBackend's buffer pool and prints one JSON object of what it observed.
 */
import { CudaDevice } from "../../../ffi/cuda/driver.ts";
import { CudaBackend } from "../../../pipelines/runtime/cuda-backend.ts";
import { OutOfDeviceMemory } from "../../../pipelines/runtime/buffer-pool.ts";
import { Tensor } from "../../../pipelines/runtime/tensor.ts";

const KiB = 1024;
const result: Record<string, unknown> = {};
const backend = new CudaBackend("cuda:0");
// A device handle of its own, so memory can still be read after the backend is disposed.
using driver = new CudaDevice(0);
/** Bytes the fake driver has handed out: its total is the memory limit. */
const live = () => {
  const { free, total } = driver.memoryInfo();
  return total - free;
};

// Reuse: the freed buffer comes back for the same size, with no new driver allocation.
const a = Tensor.from(backend, "f32", [256], Float32Array.from({ length: 256 }, (_, i) => i));
const address = (a.storage as { pointer: number }).pointer;
a.dispose();
result.heldAfterFree = { live: live(), stats: backend.poolStats };
const zeroed = Tensor.empty(backend, "f32", [16, 16]);
result.reusedAddress = (zeroed.storage as { pointer: number }).pointer === address;
result.reusedIsZeroed = Array.from(zeroed.readF32()).every((v) => v === 0);
backend.write(zeroed.storage, 0, Float32Array.of(5, 6, 7, 8));
zeroed.dispose();
const kept = Tensor.uninitialized(backend, "f32", [256]);
result.uninitializedKeepsBytes = Array.from(kept.readF32().slice(0, 4));
kept.dispose();
result.afterReuse = { live: live(), stats: backend.poolStats };

// Out of memory: 600 KiB pooled + 700 KiB new > 1 MiB, so the pool is emptied and the
// allocation tried again, which fits.
const big = backend.alloc(600 * KiB);
backend.free(big);
const before = backend.poolStats.retries;
const bigger = backend.alloc(700 * KiB);
result.retry = { retries: backend.poolStats.retries - before, live: live(), held: backend.poolStats.heldBytes };
backend.free(bigger);

// Out of memory even after emptying the pool: one error naming the size.
try {
  backend.alloc(2 * 1024 * KiB);
  result.tooBig = "no error";
} catch (e) {
  result.tooBig = { isOutOfDeviceMemory: e instanceof OutOfDeviceMemory, message: (e as Error).message, live: live() };
}

// trimPool and dispose give the memory back to the driver.
const t = backend.alloc(64 * KiB);
backend.free(backend.alloc(32 * KiB));
result.trimmed = backend.trimPool();
result.afterTrim = live();
void t;
backend.dispose();
result.afterDispose = live();
console.log(JSON.stringify(result));
