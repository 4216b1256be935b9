/**
 * The host interface (./types.ts) on Deno. Deno has no YAML built-in and JSR is out of reach
 * here, so configs parse with the npm `yaml` package on Deno only.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Host, StdioMode, StreamWriter } from "./types.ts";

interface DenoChild {
  readonly pid: number;
  readonly stdin: WritableStream<Uint8Array>;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly status: Promise<{ code: number; signal: string | null }>;
  kill(signal?: string): void;
}
interface DenoHost {
  Command: new (
    command: string,
    options: { args: string[]; stdin?: string; stdout?: string; stderr?: string },
  ) => { spawn(): DenoChild; outputSync(): { code: number; stdout: Uint8Array; stderr: Uint8Array } };
  stdin: { readable: ReadableStream<Uint8Array> };
  stdout: { writable: WritableStream<Uint8Array> };
  openSync(path: string): { readable: ReadableStream<Uint8Array> };
}

const Deno = (globalThis as unknown as { Deno: DenoHost }).Deno;
const text = new TextDecoder();
// A web stream has one writer at a time; every stdout sink shares it.
let stdoutWriter: StreamWriter | undefined;

function streamWriter(stream: WritableStream<Uint8Array>): StreamWriter {
  const writer = stream.getWriter();
  return {
    write: (bytes) => writer.write(bytes),
    flush: () => writer.ready.then(() => undefined),
    end: () => writer.close(),
  };
}

const stdio = (mode: StdioMode | undefined) => (mode === "pipe" ? "piped" : "null");

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export const denoHost: Host = {
  runtime: "deno",
  nanoseconds: () => Math.round(performance.now() * 1e6),
  which(command) {
    if (command.includes("/")) return isExecutable(command) ? command : null;
    for (const dir of (process.env.PATH ?? "").split(delimiter)) {
      const candidate = join(dir || ".", command);
      if (isAbsolute(candidate) && isExecutable(candidate)) return candidate;
    }
    return null;
  },
  spawn({ cmd, stdin, stdout, stderr }) {
    const [command, ...args] = cmd;
    const child = new Deno.Command(command!, { args, stdin: stdio(stdin), stdout: stdio(stdout), stderr: stdio(stderr) }).spawn();
    return {
      pid: child.pid,
      stdin: stdin === "pipe" ? streamWriter(child.stdin) : undefined,
      stdout: stdout === "pipe" ? child.stdout : undefined,
      stderr: stderr === "pipe" ? child.stderr : undefined,
      exited: child.status.then((s) => s.code),
      kill: (signal = "SIGTERM") => {
        try {
          child.kill(signal);
        } catch {} // already exited
      },
    };
  },
  runSync(cmd) {
    const [command, ...args] = cmd;
    try {
      const r = new Deno.Command(command!, { args, stdout: "piped", stderr: "piped" }).outputSync();
      return { exitCode: r.code, stdout: text.decode(r.stdout), stderr: text.decode(r.stderr) };
    } catch (e) {
      return { exitCode: 127, stdout: "", stderr: String((e as Error).message ?? e) };
    }
  },
  stdin: () => Deno.stdin.readable,
  stdout: () => (stdoutWriter ??= streamWriter(Deno.stdout.writable)),
  readFileStream: (path) => Deno.openSync(path).readable,
  parseYaml: (source) => parseYaml(source),
};
