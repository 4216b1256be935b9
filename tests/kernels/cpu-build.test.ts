import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { KernelFamily } from "../../kernels/signature.ts";

/**
 * What the CPU backend's C build of each kernels/*.cu holds: the source preprocessed under the
 * CPU prelude (so `#ifdef LL_CUDA` parts and macro-made kernels count as the compiler sees
 * them) defines exactly the kernels its .ts declares. CpuBackend.supports() answers from the
 * declarations, so this is what makes its answer the build's.
 */

const KERNELS = join(import.meta.dir, "../../kernels");
const cc = Bun.which("cc") ?? Bun.which("gcc") ?? Bun.which("clang");
if (!cc) console.warn("skipping the CPU build checks: no C compiler (cc, gcc or clang)");

const families = readdirSync(KERNELS)
  .filter((f) => f.endsWith(".cu"))
  .sort()
  .map((f) => f.slice(0, -3));

async function declared(name: string): Promise<KernelFamily> {
  const exports: Record<string, unknown> = await import(join(KERNELS, `${name}.ts`));
  return Object.values(exports).find((v): v is KernelFamily => typeof v === "object" && v !== null && "kernels" in v)!;
}

/** Kernels a preprocessed CPU unit defines: LL_KERNEL is `static void`, helpers are `static inline`. */
function cpuKernelsDefined(preprocessed: string): string[] {
  return [...preprocessed.matchAll(/\bstatic\s+void\s+(\w+)\s*\(/g)].map((m) => m[1]!).sort();
}

test("cpuKernelsDefined reads kernels and skips inline helpers", () => {
  expect(cpuKernelsDefined("static inline float h(float x) {}\nstatic void k_f32(float* o) {}\nstatic  void j (int n) {}")).toEqual(["j", "k_f32"]);
});

for (const family of families) {
  describe.skipIf(!cc)(`kernels/${family}.cu under the CPU prelude`, () => {
    test(`defines exactly the kernels kernels/${family}.ts declares`, async () => {
      const unit = `#include "${join(KERNELS, "prelude-cpu.h")}"\n#include "${join(KERNELS, `${family}.cu`)}"\n`;
      const run = Bun.spawnSync([cc!, "-E", "-P", "-std=gnu99", "-x", "c", "-"], { stdin: Buffer.from(unit), stderr: "pipe" });
      expect(run.stderr.toString()).toBe("");
      const names = Object.keys((await declared(family)).kernels).sort();
      expect(cpuKernelsDefined(run.stdout.toString())).toEqual(names);
    });
  });
}
