/** A kernel source that failed to compile. The message carries the first error line; `log` all of it. */
export class KernelCompileError extends Error {
  constructor(
    readonly kernelSource: string,
    readonly compiler: string,
    readonly log: string,
  ) {
    const first = log.split("\n").find((l) => /error/i.test(l)) ?? log.split("\n")[0] ?? "";
    super(`${compiler} could not compile ${kernelSource}: ${first.trim()}`);
    this.name = "KernelCompileError";
  }
}
