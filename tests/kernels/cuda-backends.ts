import type { Backend } from "../../pipelines/runtime/backend.ts";
import { CudaBackend, cudaBackendAvailability } from "../../pipelines/runtime/cuda-backend.ts";

/** The CUDA backend for the conformance test, or none (with the reason printed) without a GPU. */
export function cudaBackendsForTests(): [string, () => Backend][] {
  const cuda = cudaBackendAvailability();
  if (!cuda.ok) {
    console.warn(`conformance: skipping cuda:0 — ${cuda.reason}`);
    return [];
  }
  return [["cuda:0", () => new CudaBackend("cuda:0")]];
}
