import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as driver from "../../../ffi/cuda/driver.ts";
import { nvrtcArchSymbols, nvrtcSymbols } from "../../../ffi/cuda/nvrtc.ts";
import { type Declaration, parseHeader } from "./header-declarations.ts";

/** How each C type in these headers crosses bun:ffi (see the comment on driverSymbols). */
function ffiType(cType: string): string | undefined {
  if (cType.endsWith("*")) return "ptr";
  const table: Record<string, string> = {
    "unsigned int": "u32",
    int: "i32",
    CUdevice: "i32",
    CUresult: "i32",
    CUdevice_attribute: "i32",
    nvrtcResult: "i32",
    size_t: "u64",
    CUdeviceptr: "u64",
    "unsigned char": "u8",
    float: "f32",
    CUcontext: "ptr",
    CUstream: "ptr",
    CUevent: "ptr",
    CUmodule: "ptr",
    CUfunction: "ptr",
    nvrtcProgram: "ptr",
  };
  return table[cType];
}

type SymbolMap = Readonly<Record<string, { readonly args: readonly string[]; readonly returns: string }>>;

function headerPath(file: string): string | undefined {
  const roots = [process.env.CUDA_HOME, process.env.CUDA_PATH, "/usr/local/cuda"].filter((r): r is string => !!r);
  return roots.map((r) => join(r, "include", file)).find((p) => existsSync(p));
}

/** One test per bound symbol: exported by that name, same arity, every type crossing correctly. */
function describeBindings(label: string, declarations: readonly Declaration[], symbols: SymbolMap): void {
  const byExport = new Map(declarations.map((d) => [d.exported, d]));
  for (const [name, binding] of Object.entries(symbols)) {
    test(`${name} is ${label} with matching parameters`, () => {
      const decl = byExport.get(name);
      expect(decl, `${name} is not an exported function declared in the header`).toBeDefined();
      expect({ args: decl!.params.map(ffiType), returns: ffiType(decl!.returns) }).toEqual({
        args: [...binding.args],
        returns: binding.returns,
      });
    });
  }
}

describe("the header reader", () => {
  const header = parseHeader(`
    #define fooBar fooBar_v2
    #define fooAsync __CUDA_API_PTSZ(fooAsync_v3)
    #if defined(INTERNAL)
      #undef fooBar
      CUresult CUDAAPI fooHidden(int a);
    #else
      CUresult CUDAAPI fooShown(unsigned int flags, CUdeviceptr *out, /* note */ const void *src);
    #endif
    CUresult CUDAAPI fooBar(size_t n);
    CUresult CUDAAPI fooAsync(void);
    typedef enum { FOO_A = 16, FOO_B = 0x2 } foo_t;
  `);
  const byName = Object.fromEntries(header.declarations.map((d) => [d.declared, d]));

  test("maps a declaration through #define to the exported name", () => {
    expect(byName.fooBar?.exported).toBe("fooBar_v2");
    expect(byName.fooAsync?.exported).toBe("fooAsync_v3");
  });
  test("skips branches whose condition is false and keeps the #else", () => {
    expect(byName.fooHidden).toBeUndefined();
    expect(byName.fooShown?.params).toEqual(["unsigned int", "CUdeviceptr*", "const void*"]);
    expect(byName.fooAsync?.params).toEqual([]);
  });
  test("reads enumerators", () => {
    expect([header.constants.get("FOO_A"), header.constants.get("FOO_B")]).toEqual([16, 2]);
  });
});

const cudaHeader = headerPath("cuda.h");
if (!cudaHeader) console.warn("skipping cuda.h symbol checks: no cuda.h under $CUDA_HOME, $CUDA_PATH or /usr/local/cuda");

describe.skipIf(!cudaHeader)("given cuda.h", () => {
  const text = cudaHeader ? readFileSync(cudaHeader, "utf8") : "";
  const header = parseHeader(text);

  describe("every driver symbol we bind", () => {
    describeBindings("declared in cuda.h", header.declarations, driver.driverSymbols);
    describeBindings("declared in cuda.h", header.declarations, driver.eventTimingSymbols);
  });

  test("the header's unversioned names are not what libcuda exports for them", () => {
    const exported = new Set(header.declarations.map((d) => d.exported));
    const unversioned = ["cuMemAlloc", "cuMemFree", "cuStreamDestroy", "cuEventElapsedTime", "cuDeviceTotalMem"];
    expect(unversioned.filter((n) => exported.has(n))).toEqual([]);
  });

  describe("the legacy event timing symbol", () => {
    // Declared only in cuda.h's versioning section, which is what libcuda exports for old callers.
    const internal = parseHeader(text, { __CUDA_API_VERSION_INTERNAL: "" });
    describeBindings("still declared for old callers", internal.declarations, driver.legacyEventTimingSymbols);
  });

  test("the enum values we use match cuda.h", () => {
    const names = [
      "CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT",
      "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR",
      "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR",
      "CU_STREAM_NON_BLOCKING",
      "CU_EVENT_DEFAULT",
    ] as const;
    const ours: Record<string, number | undefined> = Object.fromEntries(names.map((n) => [n, driver[n]]));
    expect(ours).toEqual(Object.fromEntries(names.map((n) => [n, header.constants.get(n)])));
  });

  test("a CUdeviceptr is 64-bit on this platform, as our u64 bindings assume", () => {
    expect(text).toMatch(/#if defined\(_WIN64\) \|\| defined\(__LP64__\)\s*\ntypedef unsigned long long CUdeviceptr_v2;/);
  });
});

const nvrtcHeader = headerPath("nvrtc.h");
if (!nvrtcHeader) console.warn("skipping nvrtc.h symbol checks: nvrtc.h is not installed here");

describe.skipIf(!nvrtcHeader)("given nvrtc.h", () => {
  const header = parseHeader(nvrtcHeader ? readFileSync(nvrtcHeader, "utf8") : "");
  describeBindings("declared in nvrtc.h", header.declarations, nvrtcSymbols);
  describeBindings("declared in nvrtc.h", header.declarations, nvrtcArchSymbols);
});
