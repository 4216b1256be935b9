/**
 * A kernel source that failed to compile, on either backend (NVRTC or the CPU's C compiler).
 * The message carries the first error line; `log` keeps all of it.
 */
export class KernelCompileError extends Error {
  constructor(
    readonly program: string,
    readonly log: string,
    readonly options: readonly string[] = [],
  ) {
    super(`kernel source ${program} failed to compile: ${firstErrorLine(log)}`);
    this.name = "KernelCompileError";
  }
}

/** The first line that reports an error; else the first non-blank line (warnings come first sometimes). */
export function firstErrorLine(log: string): string {
  const lines = log.split(/\r?\n/).map((l) => l.trim());
  return lines.find((l) => /\berror\b/i.test(l)) ?? lines.find((l) => l.length > 0) ?? "(empty log)";
}
