import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KernelArg, KernelFamily } from "../../kernels/signature.ts";

/**
 * Every kernels/*.cu compiles for the GPU exactly as NVRTC sees it (prelude first, then the
 * source), and every kernel its .ts declares exists in the PTX with parameters of the sizes the
 * launcher will pack. No GPU needed: nvcc --ptx only compiles.
 */

const KERNELS = join(import.meta.dir, "../../kernels");
const nvcc = Bun.which("nvcc") ?? (existsSync("/usr/local/cuda/bin/nvcc") ? "/usr/local/cuda/bin/nvcc" : undefined);
if (!nvcc) console.warn("skipping nvcc --ptx checks: nvcc is not on PATH or in /usr/local/cuda/bin");

const families = readdirSync(KERNELS)
  .filter((f) => f.endsWith(".cu"))
  .sort()
  .map((f) => f.slice(0, -3));

/** The PTX parameter types each declared argument may compile to (sizes must agree with our packing). */
function ptxTypesFor(arg: KernelArg): readonly string[] {
  if (arg.kind === "buffer") return ["u64", "b64"];
  return { f32: ["f32"], i32: ["u32", "s32", "b32"], i64: ["u64", "s64", "b64"] }[arg.type];
}

/** `.entry name( .param .u64 name_param_0, … )` → the parameter types, per entry. */
function ptxEntries(ptx: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  for (const m of ptx.matchAll(/\.entry\s+(\w+)\s*\(([^)]*)\)/g)) {
    entries.set(m[1]!, [...m[2]!.matchAll(/\.param\s+\.(\w+)/g)].map((p) => p[1]!));
  }
  return entries;
}

async function loadFamily(name: string): Promise<KernelFamily | undefined> {
  const file = join(KERNELS, `${name}.ts`);
  if (!existsSync(file)) return undefined;
  const exports: Record<string, unknown> = await import(file);
  return Object.values(exports).find(
    (v): v is KernelFamily => typeof v === "object" && v !== null && "kernels" in v && (v as KernelFamily).name === name,
  );
}

function compilePtx(family: string, arch: string): { ptx: string; stderr: string; exitCode: number } {
  const dir = mkdtempSync(join(tmpdir(), "latentloom-nvcc-"));
  try {
    const unit = join(dir, `${family}-nvrtc.cu`);
    // The same text NVRTC gets: prelude, then the family with its own line numbers.
    writeFileSync(
      unit,
      `#include "${join(KERNELS, "prelude-cuda.h")}"\n#line 1 "${family}.cu"\n#include "${join(KERNELS, `${family}.cu`)}"\n`,
    );
    const out = join(dir, `${family}.ptx`);
    const run = Bun.spawnSync([nvcc!, "--ptx", `-arch=${arch}`, "--std=c++17", "-o", out, unit], { stderr: "pipe" });
    return {
      ptx: run.exitCode === 0 ? readFileSync(out, "utf8") : "",
      stderr: run.stderr.toString(),
      exitCode: run.exitCode,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("kernels/ holds at least one kernel family", () => {
  expect(families.length).toBeGreaterThan(0);
});

test("ptxEntries reads entry names and parameter types", () => {
  const ptx = ".visible .entry k(\n\t.param .u64 k_param_0,\n\t.param .f32 k_param_1\n)\n{\n}\n.visible .entry j()\n{\n}";
  expect([...ptxEntries(ptx)]).toEqual([
    ["k", ["u64", "f32"]],
    ["j", []],
  ]);
});

for (const family of families) {
  describe(`kernels/${family}.cu`, () => {
    test(`has its signatures declared in kernels/${family}.ts`, async () => {
      const declared = await loadFamily(family);
      expect(declared, `kernels/${family}.ts must export defineFamily("${family}", …)`).toBeDefined();
      expect(Object.keys(declared!.kernels).length).toBeGreaterThan(0);
    });

    for (const arch of ["sm_80", "sm_90"]) {
      describe.skipIf(!nvcc)(`compiled by nvcc --ptx -arch=${arch}`, () => {
        test("compiles, and every declared kernel is an .entry whose parameters match its signature", async () => {
          const declared = await loadFamily(family);
          const { ptx, stderr, exitCode } = compilePtx(family, arch);
          expect({ exitCode, stderr: exitCode === 0 ? "" : stderr }).toEqual({ exitCode: 0, stderr: "" });
          const entries = ptxEntries(ptx);
          const mismatches: string[] = [];
          for (const kernel of Object.values(declared?.kernels ?? {})) {
            const params = entries.get(kernel.name);
            if (!params) {
              mismatches.push(`${kernel.name}: no .entry in the PTX`);
              continue;
            }
            if (params.length !== kernel.args.length) {
              mismatches.push(`${kernel.name}: ${params.length} PTX parameters, ${kernel.args.length} declared`);
              continue;
            }
            kernel.args.forEach((arg, i) => {
              if (!ptxTypesFor(arg).includes(params[i]!)) {
                mismatches.push(`${kernel.name}: argument ${i} (${arg.name}) is .${params[i]} in PTX`);
              }
            });
          }
          expect(mismatches).toEqual([]);
        });
      });
    }
  });
}
