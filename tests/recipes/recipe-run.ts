/** What the recipe tests share: running a recipe script, and y4m streams in and out of it. */
import type { ByteSink, Frame } from "../../pipelines/io/frame.ts";
import { openY4m } from "../../pipelines/io/y4m-reader.ts";
import { createY4mWriter } from "../../pipelines/io/y4m-writer.ts";

const root = new URL("../../", import.meta.url).pathname;

/** Runs recipes/<name>.ts to its end: stdout as bytes, stderr as text, the exit code. */
export async function runRecipe(name: string, args: string[], stdin?: Uint8Array) {
  await using proc = Bun.spawn([process.execPath, "run", `${root}recipes/${name}.ts`, ...args], {
    stdin: stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const [stdout, stderr, exitCode] = await Promise.all([proc.stdout.bytes(), proc.stderr.text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

/** `frames` as one y4m stream (C420, 12 fps), as `ffmpeg -f yuv4mpegpipe` would send them. */
export async function y4mBytes(frames: readonly Frame[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const sink: ByteSink = { write: (b) => void parts.push(b.slice()) };
  const w = createY4mWriter(sink, { width: frames[0]!.width, height: frames[0]!.height, fps: { num: 12, den: 1 } });
  for (const f of frames) await w.write(f);
  await w.close();
  return Buffer.concat(parts);
}

/** The frames of a whole y4m stream. */
export async function decodeY4m(bytes: Uint8Array): Promise<Frame[]> {
  const stream = await openY4m((async function* () {
    yield bytes;
  })());
  const out: Frame[] = [];
  for await (const f of stream.frames) out.push(f);
  return out;
}
