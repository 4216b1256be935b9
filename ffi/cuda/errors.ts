/**
 * Errors from the CUDA driver and NVRTC. ffi/ sits below pipelines/, so these extend Error
 * directly; the CLI recognises them by class name like its own LatentloomError family.
 */

/** A failed driver call: the CUresult code, its enum name and the driver's description. */
export class CudaError extends Error {
  constructor(
    readonly call: string,
    readonly code: number,
    readonly codeName: string,
    readonly description: string,
    readonly hint?: string,
  ) {
    super(`${call} failed: ${codeName} (${code}): ${description}`);
    this.name = "CudaError";
  }
}

/** A failed NVRTC call other than a compile error (bad option, out of memory…). */
export class NvrtcError extends Error {
  constructor(
    readonly call: string,
    readonly code: number,
    readonly description: string,
  ) {
    super(`${call} failed: ${description} (${code})`);
    this.name = "NvrtcError";
  }
}

export { KernelCompileError, firstErrorLine } from "../kernel-compile-error.ts";

/** CUDA cannot be used here: no driver library, no NVRTC, cuInit failed, or no device. */
export class CudaUnavailable extends Error {
  constructor(
    readonly reason: string,
    readonly hint?: string,
  ) {
    super(`CUDA unavailable: ${reason}`);
    this.name = "CudaUnavailable";
  }
}

/** Looks up a CUresult's enum name and description (through cuGetErrorName / cuGetErrorString). */
export type CuResultDescriber = (code: number) => { name: string; description: string };

/**
 * The driver's one check: every CUresult passes through the function this returns, which
 * throws CudaError for anything but CUDA_SUCCESS (0).
 */
export function cudaCheck(describe: CuResultDescriber): (call: string, status: number) => void {
  return (call, status) => {
    if (status === 0) return;
    const { name, description } = describe(status);
    throw new CudaError(call, status, name, description, cudaHint(status));
  };
}

/** Hints for the codes whose fix is not obvious from the driver's own words. */
function cudaHint(code: number): string | undefined {
  switch (code) {
    case 2: // CUDA_ERROR_OUT_OF_MEMORY
      return "lower the batch size or resolution, or free other GPU processes";
    case 35: // CUDA_ERROR_INSUFFICIENT_DRIVER
    case 222: // CUDA_ERROR_UNSUPPORTED_PTX_VERSION
      return "NVRTC is newer than the driver: update the driver, or set LATENTLOOM_NVRTC_LIB to an older libnvrtc";
    case 209: // CUDA_ERROR_NO_BINARY_FOR_GPU
      return "the PTX targets a newer GPU than this one";
    default:
      return undefined;
  }
}

/** NVRTC's one check, built from nvrtcGetErrorString. NVRTC_SUCCESS is 0. */
export function nvrtcCheck(describe: (code: number) => string): (call: string, status: number) => void {
  return (call, status) => {
    if (status !== 0) throw new NvrtcError(call, status, describe(status));
  };
}
