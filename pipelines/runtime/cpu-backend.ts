import { readFileSync } from "node:fs";
import { compileCpuKernels, cpuCompilerName, SERIAL_BELOW, type CParam, type CpuArg, type CpuKernelLibrary } from "../../ffi/cpu/compile.ts";
import { KernelCompileError } from "../../ffi/kernel-compile-error.ts";
import type { DType, KernelFamily, KernelSignature } from "../../kernels/signature.ts";
import { findKernel } from "../../kernels/variants.ts";
import type { Backend, LaunchArg, Storage } from "./backend.ts";
import { BufferPool, type BufferPoolStats } from "./buffer-pool.ts";

/** The most freed host memory the CPU pool keeps; past it the least recently freed goes to the collector. */
export const CPU_POOL_LIMIT_BYTES = 512 * 2 ** 20;

const preludePath = new URL("../../kernels/prelude-cpu.h", import.meta.url).pathname;

function paramsOf(kernel: KernelSignature): CParam[] {
  return kernel.args.map((a) => (a.kind === "buffer" ? "ptr" : a.type));
}

/** Host memory and kernels compiled from kernels/*.cu as C (see ffi/cpu/compile.ts). */
export class CpuBackend implements Backend {
  readonly device = "cpu" as const;
  private readonly libraries = new Map<string, CpuKernelLibrary>();
  /** Families whose C build failed, by source path: their kernels are unsupported from then on. */
  readonly #buildFailures = new Set<string>();
  /** Freed buffers for reuse; the ones it lets go are left to the garbage collector. */
  readonly #pool: BufferPool<ArrayBuffer>;
  /** Buffers in the pool now, so a second free of one is ignored instead of pooling it twice. */
  readonly #pooled = new Set<ArrayBuffer>();

  constructor(private readonly options: { tinycc?: boolean; poolLimitBytes?: number } = {}) {
    this.#pool = new BufferPool<ArrayBuffer>(
      {
        device: "cpu",
        allocate: (bytes) => new ArrayBuffer(bytes),
        release: (buffer) => void this.#pooled.delete(buffer),
        isOutOfMemory: (e) => e instanceof RangeError && /out of memory/i.test(e.message),
      },
      options.poolLimitBytes ?? CPU_POOL_LIMIT_BYTES,
    );
  }

  get description(): string {
    return `cpu (kernels: ${cpuCompilerName(this.options.tinycc)})`;
  }

  alloc(bytes: number, zero = true): Storage {
    if (bytes === 0) return { kind: "cpu", buffer: new ArrayBuffer(0) };
    const { storage, reused } = this.#pool.take(bytes);
    this.#pooled.delete(storage);
    // A new ArrayBuffer is zeroed already; a reused one holds its last user's bytes.
    if (reused && zero) new Uint8Array(storage).fill(0);
    return { kind: "cpu", buffer: storage };
  }

  /** The buffer goes to the pool (a second free of the same buffer is ignored). */
  free(storage: Storage): void {
    const buffer = host(storage);
    if (buffer.byteLength === 0 || this.#pooled.has(buffer)) return;
    this.#pooled.add(buffer);
    this.#pool.give(buffer, buffer.byteLength);
  }

  trimPool(): number {
    return this.#pool.trim();
  }

  get poolStats(): BufferPoolStats {
    return this.#pool.stats;
  }

  write(storage: Storage, byteOffset: number, src: ArrayBufferView): void {
    new Uint8Array(host(storage), byteOffset, src.byteLength).set(
      new Uint8Array(src.buffer, src.byteOffset, src.byteLength),
    );
  }

  read(storage: Storage, byteOffset: number, dst: ArrayBufferView): void {
    new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(
      new Uint8Array(host(storage), byteOffset, dst.byteLength),
    );
  }

  copy(dst: Storage, dstOffset: number, src: Storage, srcOffset: number, bytes: number): void {
    new Uint8Array(host(dst), dstOffset, bytes).set(new Uint8Array(host(src), srcOffset, bytes));
  }

  /**
   * The C build holds exactly the declared kernels (a declared one missing from the source fails
   * the build, and tests/kernels/cpu-build.test.ts checks the preprocessed source against the
   * declarations), so: declared, and the family's build has not failed.
   */
  supports(family: KernelFamily, op: string, dtype: DType): boolean {
    return findKernel(family, op, dtype) !== undefined && !this.#buildFailures.has(family.source);
  }

  launch(family: KernelFamily, kernel: KernelSignature, args: readonly LaunchArg[], count: number): void {
    this.library(family).call(
      kernel.name,
      args.map((a): CpuArg => (a.kind === "scalar" ? a.value : { buffer: host(a.storage), byteOffset: a.byteOffset })),
      // A row kernel's items are whole rows, worth a thread each; an elementwise one's are single values.
      kernel.grid.kind === "elementwise" ? count < SERIAL_BELOW : count < 2,
    );
  }

  synchronize(): void {}

  dispose(): void {
    this.#pool.trim();
    for (const lib of this.libraries.values()) lib.close();
    this.libraries.clear();
  }

  private library(family: KernelFamily): CpuKernelLibrary {
    let lib = this.libraries.get(family.source);
    if (!lib) {
      try {
        lib = compileCpuKernels({
          family: family.name,
          sourceName: `kernels/${family.name}.cu`,
          prelude: readFileSync(preludePath, "utf8"),
          source: readFileSync(family.source, "utf8"),
          entries: Object.values(family.kernels).map((k) => ({ name: k.name, params: paramsOf(k) })),
          tinycc: this.options.tinycc,
        });
      } catch (e) {
        if (e instanceof KernelCompileError) this.#buildFailures.add(family.source);
        throw e;
      }
      this.libraries.set(family.source, lib);
    }
    return lib;
  }
}

function host(storage: Storage): ArrayBuffer {
  if (storage.kind !== "cpu") throw new Error(`cpu backend was given ${storage.kind} memory`);
  return storage.buffer;
}
