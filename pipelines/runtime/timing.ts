/**
 * Where time goes, for benchmarks: nanoseconds spent inside ORT runs and kernel launches.
 * Off by default; when on, each call costs two clock reads. On CUDA, launches are asynchronous,
 * so kernel time is only meaningful on the CPU backend.
 */
import { host } from "../../ffi/host/index.ts";

/** A monotonic clock in nanoseconds (the runtime's own). */
export const nanoseconds: () => number = host.nanoseconds;

export const timing = {
  enabled: false,
  ortNs: 0,
  ortCalls: 0,
  kernelNs: 0,
  kernelCalls: 0,
  reset(): void {
    this.ortNs = this.kernelNs = this.ortCalls = this.kernelCalls = 0;
  },
};
