import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cudaDriverSearch, nvrtcSearch, openCudaLibrary } from "../../../ffi/cuda/libraries.ts";

const cuInitOnly = { cuInit: { args: ["u32"], returns: "i32" } } as const;

describe("cudaDriverSearch", () => {
  test("asks the loader for libcuda.so.1, then libcuda.so, then WSL's copy on Linux", () => {
    expect(cudaDriverSearch({}, "linux").candidates).toEqual(["libcuda.so.1", "libcuda.so", "/usr/lib/wsl/lib/libcuda.so.1"]);
  });
  test("asks for nvcuda.dll on Windows", () => {
    expect(cudaDriverSearch({}, "win32").candidates).toEqual(["nvcuda.dll"]);
  });
  test("has nothing to try on macOS and says why", () => {
    expect(cudaDriverSearch({}, "darwin")).toMatchObject({ candidates: [], advice: "CUDA does not run on macOS" });
  });
});

describe("nvrtcSearch", () => {
  const listing: Record<string, string[]> = {
    [join("/opt/cuda", "lib64")]: ["libnvrtc.so.12", "libnvrtc-builtins.so.12"],
    [join("/usr/local/cuda", "lib64")]: ["libnvrtc.so", "libnvrtc.so.12", "libnvrtc.so.12.4.99", "libnvrtc.so.13", "libnvrtc-builtins.so.13"],
  };
  const listDir = (dir: string) => listing[dir] ?? [];

  test("tries $CUDA_HOME first, then /usr/local/cuda newest version first, then loader names", () => {
    expect(nvrtcSearch({ CUDA_HOME: "/opt/cuda" }, "linux", listDir).candidates).toEqual([
      "/opt/cuda/lib64/libnvrtc.so.12",
      "/usr/local/cuda/lib64/libnvrtc.so.13",
      "/usr/local/cuda/lib64/libnvrtc.so.12.4.99",
      "/usr/local/cuda/lib64/libnvrtc.so.12",
      "/usr/local/cuda/lib64/libnvrtc.so",
      "libnvrtc.so.13",
      "libnvrtc.so.12",
      "libnvrtc.so.11.2",
      "libnvrtc.so",
    ]);
  });
  test("looks in %CUDA_PATH%\\bin for nvrtc64_*.dll on Windows", () => {
    const win = (dir: string) => (dir === join("C:/CUDA", "bin") ? ["nvrtc64_120_0.dll", "nvrtc-builtins64_120.dll", "nvrtc64_130_0.dll"] : []);
    expect(nvrtcSearch({ CUDA_PATH: "C:/CUDA" }, "win32", win).candidates.slice(0, 3)).toEqual([
      join("C:/CUDA", "bin", "nvrtc64_130_0.dll"),
      join("C:/CUDA", "bin", "nvrtc64_120_0.dll"),
      "nvrtc64_130_0.dll",
    ]);
  });
});

describe("openCudaLibrary", () => {
  const search = { name: "libcuda", envVar: "LATENTLOOM_CUDA_LIB", candidates: ["libnot-a-real-cuda.so.9"], advice: "install the NVIDIA driver" };

  test("names the variable when it points at a missing file", () => {
    const opened = openCudaLibrary(search, cuInitOnly, { LATENTLOOM_CUDA_LIB: "/nowhere/libcuda.so" });
    expect(opened).toEqual({ ok: false, reason: "LATENTLOOM_CUDA_LIB=/nowhere/libcuda.so does not exist; point it at a libcuda library file" });
  });
  test("lists what it tried and how to fix it when nothing is found", () => {
    expect(openCudaLibrary(search, cuInitOnly, {})).toEqual({
      ok: false,
      reason: "libcuda not found (tried libnot-a-real-cuda.so.9); install the NVIDIA driver or set LATENTLOOM_CUDA_LIB to its path",
    });
  });
  // the probe library, libc.so.6, is a Linux name
  if (process.platform !== "linux") console.warn("libraries test: skipping the missing-symbol case off Linux (it opens libc.so.6)");
  test.skipIf(process.platform !== "linux")("says which symbol a found library lacks", () => {
    const opened = openCudaLibrary({ ...search, candidates: ["libc.so.6"] }, cuInitOnly, {});
    expect(opened.ok).toBe(false);
    if (!opened.ok) expect(opened.reason).toMatch(/found but unusable: libc\.so\.6: .*cuInit/);
  });
});
