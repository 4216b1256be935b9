/**
 * Where written frames go: a file, stdout, or a child process's stdin. Each write resolves
 * only once its bytes have reached the OS, which is what lets an interrupted run keep every
 * frame it finished.
 */
import { open } from "node:fs/promises";
import { dirname } from "node:path";
import { host, type StreamWriter } from "../../ffi/host/index.ts";
import { FrameError } from "../errors.ts";
import { makeFolder, type ByteSink } from "./frame.ts";

/** A file created (or truncated) at `path`, parent folders included. */
export async function openFileSink(path: string): Promise<ByteSink> {
  makeFolder(dirname(path));
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "w");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FrameError(`cannot write ${path}: ${err.code ?? err.message}`);
  }
  let closed = false;
  return {
    async write(bytes: Uint8Array): Promise<void> {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
        done += bytesWritten;
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/**
 * Wraps a runtime stream (our stdout, a spawned process's stdin). `end` decides whether
 * close() ends the underlying stream: yes for a child's stdin (that is how it sees EOF), no for
 * our own stdout, which other code may still flush.
 */
export function streamSink(sink: StreamWriter, end: boolean): ByteSink {
  let closed = false;
  return {
    async write(bytes: Uint8Array): Promise<void> {
      // Await the write itself: a closed pipe (EPIPE) then stops the recipe at this frame
      // instead of surfacing later, after all remaining work was done.
      await sink.write(bytes);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await sink.flush();
      if (end) await sink.end();
    },
  };
}

export function stdoutSink(): ByteSink {
  return streamSink(host.stdout(), false);
}
