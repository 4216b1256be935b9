/**
 * Logs for recipes: always on stderr (stdout may be carrying frames). `log` is silenced by
 * --quiet; `debug` shows only with --verbose.
 */
import { formatWithOptions } from "node:util";

export interface Logger {
  readonly verbose: boolean;
  readonly quiet: boolean;
  log(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

export function createLogger(o: { verbose: boolean; quiet: boolean }, write = writeStderr): Logger {
  return {
    verbose: o.verbose,
    quiet: o.quiet,
    log(...args) {
      if (!o.quiet) write(format(args));
    },
    debug(...args) {
      if (o.verbose) write(`debug: ${format(args)}`);
    },
  };
}

function format(args: unknown[]): string {
  return formatWithOptions({ colors: false }, ...args);
}

export function writeStderr(line: string): void {
  process.stderr.write(line.endsWith("\n") ? line : `${line}\n`);
}
