/**
 * The FIFO job's smaller parts: the prompt schedule's ranges and ramps, the checkpoint file
 * (round trip, damage, other settings), and the Q-cache's pairing of up with down blocks, which
 * must reproduce the reference's VideoCrafter map.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../../pipelines/errors.ts";
import { CheckpointError, loadCheckpoint, pairUp, PromptSchedule, type QueueState, saveCheckpoint } from "../../../pipelines/fifo/index.ts";
import type { AttentionBlock } from "../../../pipelines/onnx/attention-sites.ts";
import type { HookSite } from "../../../pipelines/sd/unet-hooks.ts";

const dir = mkdtempSync(join(tmpdir(), "latentloom-fifo-parts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("PromptSchedule", () => {
  test("gives each prompt its range, and the last prompt the rest", () => {
    const s = new PromptSchedule(["a", "b", "c"], [10, 5], 0);
    expect([-3, 0, 9, 10, 14, 15, 1000].map((i) => s.at(i))).toEqual([[[0, 1]], [[0, 1]], [[0, 1]], [[1, 1]], [[1, 1]], [[2, 1]], [[2, 1]]]);
  });

  test("ramps linearly across a boundary over `blend` frames", () => {
    const s = new PromptSchedule(["a", "b"], [10], 4);
    expect([7, 8, 9, 10, 11, 12].map((i) => s.at(i))).toEqual([[[0, 1]], [[0, 1]], [[0, 0.75], [1, 0.25]], [[0, 0.5], [1, 0.5]], [[0, 0.25], [1, 0.75]], [[1, 1]]]);
  });

  test("needs one length fewer than prompts, each at least one frame", () => {
    expect(() => new PromptSchedule(["a", "b"], [], 0)).toThrow(UsageError);
    expect(() => new PromptSchedule(["a", "b"], [0], 0)).toThrow(/prompt_frames 0/);
  });
});

describe("checkpoints", () => {
  const settings = { model: "/m", seed: 3, prompts: ["a"] };
  const state: QueueState = {
    iteration: 17,
    emitted: 9,
    frameIds: [5, 6, 7],
    nextFrameId: 8,
    slotSize: 4,
    slots: Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.5),
    image: { shape: [1, 2, 2], cond: Float32Array.of(1, 2, 3, 4), uncond: Float32Array.of(-1, -2, -3, -4) },
  };
  const path = join(dir, "q.fifo");

  test("round-trip every value exactly", () => {
    saveCheckpoint(path, settings, state);
    expect(loadCheckpoint(path, settings)).toEqual(state);
  });

  test("a flipped byte, a truncated file or a stranger's file is a CheckpointError saying it is corrupt", () => {
    saveCheckpoint(path, settings, state);
    const bytes = readFileSync(path);
    const cases: [string, Uint8Array][] = [
      ["flipped", Uint8Array.from(bytes, (b, i) => (i === bytes.length - 40 ? b ^ 1 : b))],
      ["truncated", bytes.subarray(0, bytes.length - 5)],
      ["stranger", new TextEncoder().encode("not a checkpoint at all, but long enough to be read as one maybe")],
    ];
    for (const [name, data] of cases) {
      const p = join(dir, `${name}.fifo`);
      writeFileSync(p, data);
      expect(() => loadCheckpoint(p, settings)).toThrow(CheckpointError);
      expect(() => loadCheckpoint(p, settings)).toThrow(/^checkpoint .* is corrupt: /);
    }
  });

  test("other settings are a UsageError naming each key that differs", () => {
    saveCheckpoint(path, settings, state);
    expect(() => loadCheckpoint(path, { ...settings, seed: 4 })).toThrow(UsageError);
    expect(() => loadCheckpoint(path, { ...settings, seed: 4 })).toThrow(/other settings: seed 3 → 4$/);
    expect(() => loadCheckpoint(join(dir, "missing.fifo"), settings)).toThrow(/no checkpoint at /);
  });
});

describe("Q-cache pairs", () => {
  /** VideoCrafter's input blocks 1, 2 (level 0), 4, 5 (1), 7, 8 (2) and output blocks 3 … 11 (levels 2, 1, 0). */
  const site = (name: string, block: "down" | "up", level: number): HookSite => ({
    block: { name, level, place: { block } } as unknown as AttentionBlock,
    kind: "q",
    name: `${name}:q`,
    tensor: name,
  });
  const sites = [
    site("in1", "down", 0), site("in2", "down", 0), site("in4", "down", 1), site("in5", "down", 1), site("in7", "down", 2), site("in8", "down", 2),
    site("out3", "up", 2), site("out4", "up", 2), site("out5", "up", 2), site("out6", "up", 1), site("out7", "up", 1), site("out8", "up", 1),
    site("out9", "up", 0), site("out10", "up", 0), site("out11", "up", 0),
  ];

  test("reproduce the reference's map {3:8, 4:7, 5:7, 6:5, 7:4, 8:4, 9:2, 10:1, 11:1}", () => {
    const pairs = Object.fromEntries([...pairUp(sites)].map(([u, d]) => [u.replace(/^out(\d+):q$/, "$1"), Number(d.replace(/^in(\d+):q$/, "$1"))]));
    expect(pairs).toEqual({ 3: 8, 4: 7, 5: 7, 6: 5, 7: 4, 8: 4, 9: 2, 10: 1, 11: 1 });
  });
});
