/** The host interface (./types.ts) on Bun: its built-ins, which are the fast path for our streams. */
import type { FileSink } from "bun";
import type { Host, StreamWriter } from "./types.ts";

function sinkWriter(sink: FileSink): StreamWriter {
  return {
    async write(bytes) {
      const pending = sink.write(bytes);
      if (typeof pending !== "number") await pending;
      await sink.flush();
    },
    async flush() {
      await sink.flush();
    },
    async end() {
      await sink.end();
    },
  };
}

export const bunHost: Host = {
  runtime: "bun",
  nanoseconds: Bun.nanoseconds,
  which: (command) => Bun.which(command),
  spawn({ cmd, stdin = "ignore", stdout = "ignore", stderr = "ignore" }) {
    const proc = Bun.spawn({ cmd: [...cmd], stdin, stdout, stderr });
    return {
      pid: proc.pid,
      stdin: proc.stdin && typeof proc.stdin !== "number" ? sinkWriter(proc.stdin as FileSink) : undefined,
      stdout: proc.stdout instanceof ReadableStream ? proc.stdout : undefined,
      stderr: proc.stderr instanceof ReadableStream ? proc.stderr : undefined,
      exited: proc.exited,
      kill: (signal) => proc.kill(signal),
    };
  },
  runSync(cmd) {
    const r = Bun.spawnSync([...cmd], { stdout: "pipe", stderr: "pipe" });
    return { exitCode: r.exitCode ?? 1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  },
  stdin: () => Bun.stdin.stream(),
  stdout: () => sinkWriter(Bun.stdout.writer()),
  readFileStream: (path) => Bun.file(path).stream(),
  parseYaml: (text) => Bun.YAML.parse(text),
};
