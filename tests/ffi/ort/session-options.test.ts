import { describe, expect, test } from "bun:test";
import { OrtError, Session, Value } from "../../../ffi/ort/index.ts";
import { NativeSessionOptions } from "../../../ffi/ort/session-options.ts";
import { GraphBuilder } from "../../../pipelines/onnx/model-builder.ts";

function batchModel(): Uint8Array {
  const g = new GraphBuilder("batch");
  const x = g.input("x", "f32", ["batch", 2]);
  g.output(g.node("Neg", [x]), "f32", ["batch", 2], "y");
  return g.toModel();
}

describe("SessionOptions", () => {
  test("accept every documented setting together", () => {
    using session = Session.create(batchModel(), {
      intraOpThreads: 1,
      interOpThreads: 1,
      graphOptimization: "extended",
      executionMode: "sequential",
      memPattern: false,
      cpuArena: false,
      config: { "session.intra_op.allow_spinning": "0" },
      logLevel: "error",
    });
    using x = Value.fromTypedArray("f32", [1, 2], Float32Array.of(1, -1));
    using y = session.run({ x }).y as Value<"f32">;
    expect(Array.from(y.data)).toEqual([-1, 1]);
  });

  test("sharedThreadPool runs sessions on the Env's pool, alongside sessions with their own", () => {
    using shared = Session.create(batchModel(), { sharedThreadPool: true });
    using own = Session.create(batchModel(), { intraOpThreads: 1 });
    using x = Value.fromTypedArray("f32", [2, 2], Float32Array.of(1, -2, 3, -4));
    for (const session of [shared, own]) {
      using y = session.run({ x }).y as Value<"f32">;
      expect(Array.from(y.data)).toEqual([-1, 2, -3, 4]);
    }
  });

  describe("freeDimensions", () => {
    test("pins a symbolic dimension, so the metadata shows it and other sizes are refused", () => {
      using session = Session.create(batchModel(), { freeDimensions: { batch: 2 } });
      expect(session.inputs[0]?.dims).toEqual([2, 2]);
      using ok = Value.fromTypedArray("f32", [2, 2], new Float32Array(4));
      session.run({ x: ok }).y?.dispose();
      using wrong = Value.fromTypedArray("f32", [3, 2], new Float32Array(6));
      expect(() => session.run({ x: wrong })).toThrow(/invalid dimensions for input: x/);
    });

    test("refuses a negative size", () => {
      expect(() => Session.create(batchModel(), { freeDimensions: { batch: -2 } })).toThrow(
        /freeDimensions\.batch must be a non-negative integer, got -2/,
      );
    });
  });

  test("name the valid graph optimization levels when given another", () => {
    expect(() => NativeSessionOptions.create({ graphOptimization: "max" as never })).toThrow(
      /graphOptimization "max" is not one of disable, basic, extended, layout, all/,
    );
  });

  test("name the valid execution modes when given another", () => {
    expect(() => NativeSessionOptions.create({ executionMode: "async" as never })).toThrow(
      /executionMode "async" is not one of sequential, parallel/,
    );
  });

  test("refuse a fractional thread count", () => {
    expect(() => NativeSessionOptions.create({ intraOpThreads: 1.5 })).toThrow(/intraOpThreads must be a non-negative integer/);
  });

  describe("with the CUDA execution provider on a machine without its libraries", () => {
    test("fails with an OrtError naming the provider library ORT could not load", () => {
      let caught: unknown;
      try {
        NativeSessionOptions.create({ cuda: { deviceId: 0, stream: 0x1234n, options: { arena_extend_strategy: "kSameAsRequested" } } });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(OrtError);
      expect((caught as OrtError).message).toMatch(/libonnxruntime_providers_(shared|cuda)/);
    });

    test("leaves session creation usable afterwards", () => {
      expect(() => Session.create(batchModel(), { cuda: {} })).toThrow(/providers_(shared|cuda)/);
      using session = Session.create(batchModel());
      expect(session.inputs.length).toBe(1);
    });
  });

  test("dispose idempotently", () => {
    const so = NativeSessionOptions.create({ intraOpThreads: 1 });
    so.dispose();
    so.dispose();
    expect(() => so.ptr).toThrow(/after dispose/);
  });
});
