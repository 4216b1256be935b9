/**
 * Where time goes, for benchmarks: nanoseconds spent inside ORT runs and kernel launches.
 * Off by default; when on, each call costs two clock reads. On CUDA, launches are asynchronous,
 * so kernel time is only meaningful on the CPU backend.
 */
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
