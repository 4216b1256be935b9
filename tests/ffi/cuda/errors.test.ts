import { describe, expect, test } from "bun:test";
import {
  CudaError,
  CudaUnavailable,
  KernelCompileError,
  NvrtcError,
  cudaCheck,
  nvrtcCheck,
} from "../../../ffi/cuda/errors.ts";

describe("KernelCompileError", () => {
  const log = [
    'blend.cu(12): error: identifier "alpha" is undefined',
    "      out[i] = alpha * a[i];",
    "               ^",
    "",
    "1 error detected in the compilation of \"blend.cu\".",
  ].join("\n");
  const error = new KernelCompileError("blend.cu", log, ["--gpu-architecture=compute_80"]);

  test("puts the first log line in its one-line message", () => {
    expect(error.message).toBe('kernel source blend.cu failed to compile: blend.cu(12): error: identifier "alpha" is undefined');
  });
  test("keeps the whole log and the options", () => {
    expect({ log: error.log, options: error.options, name: error.name }).toEqual({
      log,
      options: ["--gpu-architecture=compute_80"],
      name: "KernelCompileError",
    });
  });
  test("prefers the first error over a warning that precedes it", () => {
    const warned = new KernelCompileError("x.cu", "x.cu(3): warning: unused variable\nx.cu(9): error: expected a \";\"\n");
    expect(warned.message).toEndWith('x.cu(9): error: expected a ";"');
  });
  test("says so when the log is empty", () => {
    expect(new KernelCompileError("x.cu", "").message).toEndWith("(empty log)");
  });
});

describe("CudaUnavailable", () => {
  test("reads 'CUDA unavailable: <reason>'", () => {
    const error = new CudaUnavailable("libcuda not found");
    expect([error.message, error.reason, error.name]).toEqual(["CUDA unavailable: libcuda not found", "libcuda not found", "CudaUnavailable"]);
  });
});

describe("the driver's check", () => {
  const seen: number[] = [];
  const check = cudaCheck((code) => {
    seen.push(code);
    return { name: "CUDA_ERROR_OUT_OF_MEMORY", description: "out of memory" };
  });

  test("lets CUDA_SUCCESS through without looking anything up", () => {
    check("cuMemAlloc_v2", 0);
    expect(seen).toEqual([]);
  });
  test("throws a CudaError naming the call, the code's name, number and description", () => {
    let caught: unknown;
    try {
      check("cuMemAlloc_v2", 2);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CudaError);
    const error = caught as CudaError;
    expect([error.message, error.code, error.codeName, error.hint !== undefined]).toEqual([
      "cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory",
      2,
      "CUDA_ERROR_OUT_OF_MEMORY",
      true,
    ]);
  });
});

describe("NVRTC's check", () => {
  const check = nvrtcCheck((code) => (code === 5 ? "NVRTC_ERROR_INVALID_OPTION" : "?"));
  test("throws an NvrtcError carrying the code and NVRTC's string", () => {
    expect(() => check("nvrtcCompileProgram", 0)).not.toThrow();
    expect(() => check("nvrtcCompileProgram", 5)).toThrow(new NvrtcError("nvrtcCompileProgram", 5, "NVRTC_ERROR_INVALID_OPTION"));
    expect(() => check("nvrtcCompileProgram", 5)).toThrow("nvrtcCompileProgram failed: NVRTC_ERROR_INVALID_OPTION (5)");
  });
});
