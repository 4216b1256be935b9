import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { compileCpuKernels } from "../../ffi/cpu/compile.ts";
import { KERNEL_CACHE_VERSION, kernelCacheDir, kernelCacheFile, kernelCacheKey, type KernelBuild } from "../../ffi/kernel-cache.ts";

describe("kernelCacheKey", () => {
  const build: KernelBuild = {
    backend: "cuda",
    source: '#define LL_CUDA 1\n#line 1 "blend.cu"\nLL_KERNEL k(float* x) {}',
    compiler: "nvrtc 12.4",
    flags: ["--gpu-architecture=compute_80", "-default-device"],
    arch: "compute_80",
  };
  const key = kernelCacheKey(build);

  test("is a stable sha256 hex digest", () => {
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(kernelCacheKey({ ...build, flags: [...build.flags] })).toBe(key);
    expect(kernelCacheKey(build, KERNEL_CACHE_VERSION)).toBe(key);
  });

  const changes: Record<string, Partial<KernelBuild>> = {
    backend: { backend: "cpu" },
    "source bytes": { source: build.source.replace("float* x", "float* y") },
    "compiler identity": { compiler: "nvrtc 12.5" },
    flags: { flags: ["--gpu-architecture=compute_80"] },
    "flag boundaries": { flags: ["--gpu-architecture=compute_80 -default-device"] },
    arch: { arch: "compute_86" },
    "text moved from the source into the compiler field": { source: build.source.slice(0, -1), compiler: `}${build.compiler}` },
  };
  for (const [what, change] of Object.entries(changes)) {
    test(`changes when the ${what} changes`, () => {
      expect(kernelCacheKey({ ...build, ...change })).not.toBe(key);
    });
  }
  test("changes when the cache version changes", () => {
    expect(kernelCacheKey(build, KERNEL_CACHE_VERSION + 1)).not.toBe(key);
  });

  test("names files <family>.<backend>-<32 hex>.<so|ptx> in one folder for both backends", () => {
    const ptx = kernelCacheFile("blend", build);
    const so = kernelCacheFile("blend", { ...build, backend: "cpu" });
    expect(ptx).toBe(join(kernelCacheDir(), `blend.cuda-${key.slice(0, 32)}.ptx`));
    expect(so).toMatch(/\/blend\.cpu-[0-9a-f]{32}\.so$/);
    expect(dirname(so)).toBe(dirname(ptx));
  });
});

const cc = Bun.which("cc") ?? Bun.which("gcc") ?? Bun.which("clang");
describe.skipIf(!cc)("the CPU compiler's shared objects", () => {
  const cache = mkdtempSync(join(tmpdir(), "latentloom-kernel-cache-"));
  const saved = process.env.LATENTLOOM_CACHE;
  afterAll(() => {
    if (saved === undefined) delete process.env.LATENTLOOM_CACHE;
    else process.env.LATENTLOOM_CACHE = saved;
    rmSync(cache, { recursive: true, force: true });
  });

  const source = "LL_KERNEL twice(float* x, ll_i64 n) { LL_FOR_EACH(i, n) x[i] *= 2.0f; }\n";
  const compile = (text: string) =>
    compileCpuKernels({
      family: "demo",
      sourceName: "kernels/demo.cu",
      prelude: "#define LL_KERNEL static void\ntypedef long long ll_i64;\n#define LL_FOR_EACH(i, n) for (ll_i64 i = 0; i < (n); i++)\n",
      source: text,
      entries: [{ name: "twice", params: ["ptr", "i64"] }],
    });

  test("are named by kernelCacheKey of what the compiler read, in the shared folder", () => {
    process.env.LATENTLOOM_CACHE = cache;
    const lib = compile(source);
    try {
      expect(lib.build?.backend).toBe("cpu");
      expect(lib.build?.source).toContain(source);
      expect(lib.build?.compiler).toStartWith(lib.compiler.split(" ")[0]!);
      expect(lib.build?.flags).toContain("-O3");
      expect(lib.build?.arch).toStartWith(process.arch);
      expect(lib.cacheFile).toBe(kernelCacheFile("demo", lib.build!));
      expect(lib.cacheFile!.startsWith(join(cache, "kernels"))).toBe(true);
      expect(existsSync(lib.cacheFile!)).toBe(true);
      const x = new Float32Array([1, 2, 3]);
      lib.call("twice", [{ buffer: x.buffer as ArrayBuffer, byteOffset: 0 }, 3], true);
      expect(Array.from(x)).toEqual([2, 4, 6]);
    } finally {
      lib.close();
    }
  });

  test("get a new file when the source changes, and leave no scratch files", () => {
    process.env.LATENTLOOM_CACHE = cache;
    const lib = compile(source.replace("2.0f", "3.0f"));
    lib.close();
    const files = readdirSync(join(cache, "kernels")).sort();
    expect(files).toHaveLength(2);
    for (const f of files) expect(f).toMatch(/^demo\.cpu-[0-9a-f]{32}\.so$/);
  });
});
