/**
 * Fuzz targets: for each input format a valid seed file and the loader a user's bytes go through.
 * A loader may accept a mutated input or refuse it with one of our errors; anything else (a
 * TypeError, a RangeError, a crash, a hang) is a bug.
 */
import { OrtError } from "../../ffi/ort/index.ts";
import { Session } from "../../ffi/ort/session.ts";
import { parseConfig } from "../../pipelines/cli/config.ts";
import { txt2img } from "../../pipelines/cli/recipes/txt2img.ts";
import type { Schema } from "../../pipelines/cli/schema.ts";
import { LatentloomError } from "../../pipelines/errors.ts";
import { ByteReader } from "../../pipelines/io/byte-reader.ts";
import { encodePng, decodePng } from "../../pipelines/io/png-files.ts";
import { encodePpm, openPpm } from "../../pipelines/io/ppm.ts";
import { openY4m } from "../../pipelines/io/y4m-reader.ts";
import { GraphBuilder } from "../../pipelines/onnx/model-builder.ts";
import { readModel } from "../../pipelines/onnx/model-reader.ts";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { checkpointClip, loadClipCheckpoint, saveClipCheckpoint } from "../../pipelines/continuation/checkpoint.ts";
import { checkpointProgress, loadCheckpoint, saveCheckpoint } from "../../pipelines/fifo/checkpoint.ts";
import { tmpdir } from "node:os";
import { readFileSync, rmSync } from "node:fs";

export const FORMATS = ["y4m", "ppm", "png", "yaml", "onnx", "fifo-checkpoint", "continue-checkpoint"] as const;
export type Format = (typeof FORMATS)[number];

export interface Target {
  seed(): Uint8Array;
  /** Loads the bytes as a user's file would be loaded; resolves or throws. */
  load(bytes: Uint8Array, scratch: string): Promise<void>;
  /** Errors that count as a clean refusal. */
  handled(e: unknown): boolean;
}

function picture(width: number, height: number) {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) & 255;
  return { width, height, data };
}

function oneChunk(bytes: Uint8Array) {
  return new ByteReader((async function* () {
    yield bytes;
  })());
}

async function drain(frames: AsyncIterable<unknown>, limit = 64) {
  let n = 0;
  for await (const _ of frames) if (++n >= limit) break;
}

const ours = (e: unknown) => e instanceof LatentloomError;

/**
 * A checkpoint's bytes as its writer makes them, for settings `SETTINGS`. Mutations are re-signed
 * before loading (the last 32 bytes are the sha256 of the rest), so they reach the parser behind
 * the checksum instead of all stopping at it.
 */
const SETTINGS = { model: "/m", seed: 3, prompts: ["a fox"] };
function written(save: (path: string) => void): Uint8Array {
  const path = `${tmpdir()}/latentloom-fuzz-seed-${process.pid}`;
  save(path);
  const bytes = new Uint8Array(readFileSync(path));
  rmSync(path, { force: true });
  return bytes;
}
function resigned(bytes: Uint8Array, scratch: string, name: string): string {
  const signed = new Uint8Array(bytes);
  if (signed.length >= 32) signed.set(createHash("sha256").update(signed.subarray(0, signed.length - 32)).digest(), signed.length - 32);
  const path = `${scratch}/${name}`;
  writeFileSync(path, signed);
  return path;
}

export const TARGETS: Record<Format, Target> = {
  y4m: {
    seed() {
      const frame = new Uint8Array((8 * 6 * 3) / 2).fill(90);
      const header = new TextEncoder().encode("YUV4MPEG2 W8 H6 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n");
      const tag = new TextEncoder().encode("FRAME\n");
      return Buffer.concat([header, tag, frame, tag, frame]);
    },
    async load(bytes) {
      const s = await openY4m(oneChunk(bytes));
      await drain(s.frames);
    },
    handled: ours,
  },
  ppm: {
    seed: () => Buffer.concat([encodePpm(picture(7, 5)), encodePpm(picture(7, 5))]),
    async load(bytes) {
      const s = await openPpm(oneChunk(bytes));
      await drain(s.frames);
    },
    handled: ours,
  },
  png: {
    seed: () => encodePng(picture(9, 7)),
    async load(bytes) {
      decodePng(bytes, "fuzz.png");
    },
    handled: ours,
  },
  yaml: {
    seed: () => new TextEncoder().encode("prompt: a fox\nsteps: 4\nguidance: 7.5\nsize: 64x64\nseed: 3\nscheduler: euler\n"),
    async load(bytes, scratch) {
      const path = `${scratch}/fuzz.yaml`;
      writeFileSync(path, bytes);
      parseConfig(txt2img.schema as Schema, { recipe: "txt2img", argv: ["--config", path] });
    },
    handled: ours,
  },
  onnx: {
    seed() {
      const g = new GraphBuilder("fuzz");
      const x = g.input("x", "f32", [1, 4]);
      g.output(g.node("Add", [x, x]), "f32", [1, 4], "y");
      return g.toModel({ opset: 17 });
    },
    async load(bytes) {
      readModel(bytes, "fuzz.onnx");
      using _session = Session.create(bytes, { intraOpThreads: 1 });
    },
    handled: (e) => ours(e) || e instanceof OrtError,
  },
  "fifo-checkpoint": {
    seed: () =>
      written((path) =>
        saveCheckpoint(path, SETTINGS, {
          iteration: 9, emitted: 4, frameIds: [4, 5, 6], nextFrameId: 7, slotSize: 4,
          slots: Float32Array.from({ length: 12 }, (_, i) => i / 7), image: { shape: [1, 2, 2], cond: Float32Array.of(1, 2, 3, 4), uncond: Float32Array.of(0, 0, 0, 0) },
        })),
    async load(bytes, scratch) {
      const path = resigned(bytes, scratch, "fuzz.fifo-queue");
      checkpointProgress(path);
      loadCheckpoint(path, SETTINGS);
    },
    handled: ours,
  },
  "continue-checkpoint": {
    seed: () =>
      written((path) => saveClipCheckpoint(path, SETTINGS, { clip: 2, shape: [1, 4, 2, 2, 2], latents: Float32Array.from({ length: 32 }, (_, i) => i), stats: { means: [1], stds: [2] } })),
    async load(bytes, scratch) {
      const path = resigned(bytes, scratch, "fuzz.continue-state");
      checkpointClip(path);
      loadClipCheckpoint(path, SETTINGS);
    },
    handled: ours,
  },
};
