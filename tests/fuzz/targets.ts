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
import { writeFileSync } from "node:fs";

export const FORMATS = ["y4m", "ppm", "png", "yaml", "onnx"] as const;
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
};
