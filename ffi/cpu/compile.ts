import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { host } from "../host/index.ts";
import { KernelCompileError } from "../kernel-compile-error.ts";
import { native, type NativeType, type Pointer } from "../native/index.ts";
import { kernelCacheDir, kernelCacheFile, type KernelBuild } from "../kernel-cache.ts";

/**
 * Runtime compilation of kernels for the CPU backend. The system C compiler (`cc -O3 -fopenmp`,
 * or `LATENTLOOM_CC`) is the fast path; the shared library it makes is cached beside the PTX,
 * keyed by ffi/kernel-cache.ts like it. Without a system compiler, Bun's built-in TinyCC compiles the same
 * source single-threaded (about 10x slower, see DESIGN.md) and nothing is cached; Deno has no such
 * fallback and needs the system compiler.
 */

export type CParam = "ptr" | "f32" | "i32" | "i64";

export interface CpuEntry {
  /** Kernel function in the source; the generated launcher is `ll_launch_<name>`. */
  name: string;
  params: readonly CParam[];
}

/** A buffer argument: memory plus a byte offset into it. Pointers never outlive the call. */
export interface CpuBufferRef {
  buffer: ArrayBuffer;
  byteOffset: number;
}
export type CpuArg = CpuBufferRef | number;

export interface CpuKernelLibrary {
  readonly compiler: string;
  /** The cached shared object it was loaded from; undefined for TinyCC, which compiles in memory. */
  readonly cacheFile?: string;
  /** What the cache key was made of (system compiler only). */
  readonly build?: KernelBuild;
  /** Runs kernel `name` on the OpenMP team, or on the calling thread when `serial`. */
  call(name: string, args: readonly CpuArg[], serial: boolean): void;
  close(): void;
}

// i32 scalars cross the FFI boundary as 64-bit integers and are narrowed in C: TinyCC-compiled
// callees were seen reading an `int` argument's full register, whose upper half the caller need
// not clear (an i32 after i64 arguments arrived wrong, intermittently).
const ffiTypes: Record<CParam, NativeType> = { ptr: "ptr", f32: "f32", i32: "i64", i64: "i64" };
const cTypes: Record<CParam, string> = { ptr: "void*", f32: "float", i32: "long long", i64: "long long" };
const cArgs: Record<CParam, (name: string) => string> = {
  ptr: (n) => n,
  f32: (n) => n,
  i32: (n) => `(int)${n}`,
  i64: (n) => n,
};

/**
 * Two launchers per kernel: `ll_launch_*` runs one OpenMP team, each thread on its own chunk;
 * `ll_serial_*` runs the whole range on the calling thread, for sizes where waking the team costs
 * more than the work.
 */
export function generateLaunchers(entries: readonly CpuEntry[]): string {
  return entries
    .map(({ name, params }) => {
      const decl = params.map((p, i) => `${cTypes[p]} p${i}`).join(", ");
      const call = params.map((p, i) => cArgs[p](`p${i}`)).join(", ");
      return (
        `void ll_launch_${name}(${decl}) {\n#ifdef _OPENMP\n#pragma omp parallel\n#endif\n  ${name}(${call});\n}\n` +
        `void ll_serial_${name}(${decl}) {\n#ifdef _OPENMP\n#pragma omp parallel num_threads(1)\n#endif\n  ${name}(${call});\n}\n`
      );
    })
    .join("\n");
}

/** Elementwise launches over fewer items than this run on the calling thread. */
export const SERIAL_BELOW = 1 << 15;

interface SystemCompiler {
  command: string;
  version: string;
  flags: string[];
}

let systemCompiler: SystemCompiler | null | undefined;

function findSystemCompiler(): SystemCompiler | null {
  if (systemCompiler !== undefined) return systemCompiler;
  systemCompiler = null;
  for (const command of [process.env.LATENTLOOM_CC, "cc", "gcc", "clang"]) {
    if (!command || !host.which(command)) continue;
    const probe = host.runSync([command, "--version"]);
    if (probe.exitCode !== 0) continue;
    const version = probe.stdout.split("\n")[0] ?? command;
    // -ffp-contract=off keeps a*b+c as two roundings, like the TypeScript references and NVRTC's
    // default for our kernels' tests; -march=native is safe because the processor is in the key.
    // A declared kernel the source does not define must fail the build, not link as an
    // undefined symbol that kills the process when called.
    const base = ["-O3", "-march=native", "-ffp-contract=off", "-shared", "-fPIC", "-std=gnu99", "-Werror=implicit-function-declaration"];
    const withOmp = [...base, "-fopenmp"];
    systemCompiler = { command, version, flags: compiles(command, withOmp) ? withOmp : base };
    break;
  }
  return systemCompiler;
}

function compiles(command: string, flags: string[]): boolean {
  const dir = kernelCacheDir();
  const src = join(dir, `probe-${process.pid}.c`);
  const out = join(dir, `probe-${process.pid}.so`);
  writeFileSync(src, "int ll_probe(void) { return 1; }\n");
  const r = host.runSync([command, ...flags, src, "-o", out]);
  rmSync(src, { force: true });
  rmSync(out, { force: true });
  return r.exitCode === 0;
}

/** The compiler kernels will be built with, as logs show it ("cc -O3 -fopenmp"). */
export function cpuCompilerName(tinycc = false): string {
  const compiler = tinycc ? null : findSystemCompiler();
  if (!compiler) return "tinycc (Bun built-in, 1 thread)";
  return `${compiler.command} ${compiler.flags.filter((f) => f.startsWith("-O") || f === "-fopenmp").join(" ")}`;
}

let tinyccBuilds = 0;

/** Compiles `prelude + source + launchers` and binds every launcher. */
export function compileCpuKernels(options: {
  /** The kernels/ file stem, naming the cached library: "blend". */
  family: string;
  /** Shown in errors, e.g. "kernels/blend.cu". */
  sourceName: string;
  prelude: string;
  source: string;
  entries: readonly CpuEntry[];
  /** Force TinyCC (tests compare both paths). */
  tinycc?: boolean;
}): CpuKernelLibrary {
  const { sourceName, prelude, source, entries } = options;
  const full = `${prelude}\n#line 1 "${sourceName}"\n${source}\n${generateLaunchers(entries)}`;
  const symbols = Object.fromEntries(
    entries.flatMap((e) => {
      const signature = { args: e.params.map((p) => ffiTypes[p]), returns: "void" as const };
      return [
        [`ll_launch_${e.name}`, signature],
        [`ll_serial_${e.name}`, signature],
      ];
    }),
  );
  const compiler = options.tinycc ? null : findSystemCompiler();

  let lib: { symbols: Record<string, (...args: unknown[]) => unknown>; close(): void };
  let compilerName: string;
  let build: KernelBuild | undefined;
  let so: string | undefined;
  if (compiler) {
    build = { backend: "cpu", source: full, compiler: `${compiler.command} ${compiler.version}`, flags: compiler.flags, arch: cpuArch() };
    so = kernelCacheFile(options.family, build);
    if (!existsSync(so)) {
      const src = `${so}.${process.pid}.c`;
      const tmp = `${so}.${process.pid}.tmp`;
      writeFileSync(src, full);
      const r = host.runSync([compiler.command, ...compiler.flags, src, "-o", tmp, "-lm"]);
      rmSync(src, { force: true });
      if (r.exitCode !== 0) throw new KernelCompileError(sourceName, r.stderr, [compiler.command, ...compiler.flags]);
      renameSync(tmp, so); // atomic: concurrent processes never load a half-written library
    }
    // OpenMP's default busy-waiting between regions starves ONNX Runtime's threads on small
    // machines (measured here: an 8-step txt2img took 1.39 s with it, 0.84 s without). libgomp
    // reads this when the library loads; a user's own setting wins.
    process.env.OMP_WAIT_POLICY ??= "passive";
    lib = native.open(so, symbols) as unknown as typeof lib;
    compilerName = cpuCompilerName();
  } else {
    if (!native.compileC) {
      throw new KernelCompileError(sourceName, `no C compiler found (cc, gcc, clang or LATENTLOOM_CC); ${native.runtime} has no built-in one to fall back on`, []);
    }
    const src = join(kernelCacheDir(), `tcc-${process.pid}-${++tinyccBuilds}.c`);
    writeFileSync(src, full);
    try {
      lib = native.compileC(src, symbols) as unknown as typeof lib;
    } catch (e) {
      throw new KernelCompileError(sourceName, String((e as Error).message ?? e), ["tinycc"]);
    } finally {
      rmSync(src, { force: true });
    }
    compilerName = cpuCompilerName(true);
  }

  const fns = new Map(entries.map((e) => [e.name, [lib.symbols[`ll_launch_${e.name}`]!, lib.symbols[`ll_serial_${e.name}`]!]]));
  return {
    compiler: compilerName,
    cacheFile: so,
    build,
    call(name, args, serial) {
      const fn = fns.get(name);
      if (!fn) throw new Error(`no CPU kernel named ${name} in ${sourceName}`);
      fn[serial ? 1 : 0]!(...args.map(toNative));
    },
    close: () => lib.close(),
  };
}

/** What -march=native compiles for: the ISA and the processor model. */
function cpuArch(): string {
  return `${process.arch} ${cpus()[0]?.model ?? "unknown processor"}`;
}

function toNative(arg: CpuArg): number | Pointer {
  return typeof arg === "number" ? arg : native.addressOf(arg.buffer, arg.byteOffset);
}
