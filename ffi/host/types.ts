/**
 * What the layers above ffi/ need from the JavaScript runtime beyond the standard library and
 * node:fs: child processes, the standard streams, a clock and YAML. Bun and Deno each
 * implement it in their own file, so nothing above ffi/ knows which runtime it runs on.
 */

/** A byte stream we write into (our stdout, a child's stdin). */
export interface StreamWriter {
  /** Resolves once `bytes` have reached the OS: a closed pipe then fails this write, not a later one. */
  write(bytes: Uint8Array): Promise<void>;
  flush(): Promise<void>;
  /** Ends the stream, which is how a child process sees EOF. */
  end(): Promise<void>;
}

export type StdioMode = "pipe" | "ignore";

export interface SpawnOptions {
  readonly cmd: readonly string[];
  readonly stdin?: StdioMode;
  readonly stdout?: StdioMode;
  readonly stderr?: StdioMode;
}

export interface HostProcess {
  readonly pid: number;
  /** Present when spawned with stdin "pipe". */
  readonly stdin?: StreamWriter;
  readonly stdout?: ReadableStream<Uint8Array>;
  readonly stderr?: ReadableStream<Uint8Array>;
  /** The exit code (signal deaths give a non-zero code). */
  readonly exited: Promise<number>;
  kill(signal?: "SIGTERM" | "SIGKILL" | "SIGINT"): void;
}

export interface SyncResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Host {
  readonly runtime: "bun" | "deno";
  /** A monotonic clock in nanoseconds, for the timing counters. */
  nanoseconds(): number;
  /** The executable `command` resolves to on PATH, or null. */
  which(command: string): string | null;
  spawn(options: SpawnOptions): HostProcess;
  /** Runs to completion, collecting stdout and stderr as text. */
  runSync(cmd: readonly string[]): SyncResult;
  stdin(): ReadableStream<Uint8Array>;
  stdout(): StreamWriter;
  /** A file's bytes as a stream, read as they are consumed. */
  readFileStream(path: string): ReadableStream<Uint8Array>;
  /** Parses YAML text; throws an Error whose message says what is wrong. */
  parseYaml(text: string): unknown;
}
