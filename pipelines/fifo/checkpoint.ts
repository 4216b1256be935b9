/**
 * The FIFO queue on disk, so that `--resume` continues a killed run with the very frames the
 * uninterrupted run would have made. One file:
 *
 *   "LLFIFOQ1"  u32 header bytes (LE)  header JSON  f32 payload (LE)  sha256 of all before it
 *
 * The header says what the payload holds (the queue's latents slot by slot, then any image
 * tokens) and the settings the run was started with; the checksum catches a torn or damaged
 * file. Saves go to a temporary name that is renamed into place, so a kill mid-save leaves the
 * previous checkpoint whole.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { LatentloomError, UsageError } from "../errors.ts";

const MAGIC = "LLFIFOQ1";
const VERSION = 1;

/** A checkpoint that cannot be used: missing, damaged, or written by a run with other settings. */
export class CheckpointError extends LatentloomError {}

export interface QueueState {
  /** The next iteration to run. */
  readonly iteration: number;
  /** Output frames already emitted (and written) before this state. */
  readonly emitted: number;
  /** Frame id of each slot, and the id the next new frame gets. */
  readonly frameIds: readonly number[];
  readonly nextFrameId: number;
  /** Elements of one slot's latent [1, 4, h, w]. */
  readonly slotSize: number;
  /** The latents, slot after slot. */
  readonly slots: Float32Array;
  /** Image tokens for the conditional and unconditional halves, when the run has any. */
  readonly image: { readonly shape: readonly number[]; readonly cond: Float32Array; readonly uncond: Float32Array } | null;
}

interface Header {
  version: number;
  settings: Record<string, unknown>;
  iteration: number;
  emitted: number;
  frameIds: number[];
  nextFrameId: number;
  slotSize: number;
  imageShape: number[] | null;
}

export function saveCheckpoint(path: string, settings: Record<string, unknown>, state: QueueState): void {
  const header: Header = {
    version: VERSION,
    settings,
    iteration: state.iteration,
    emitted: state.emitted,
    frameIds: [...state.frameIds],
    nextFrameId: state.nextFrameId,
    slotSize: state.slotSize,
    imageShape: state.image ? [...state.image.shape] : null,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const arrays = [state.slots, ...(state.image ? [state.image.cond, state.image.uncond] : [])];
  const payload = arrays.reduce((n, a) => n + a.byteLength, 0);
  const bytes = new Uint8Array(8 + 4 + json.length + payload + 32);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, json.length, true);
  bytes.set(json, 12);
  let at = 12 + json.length;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++, at += 4) view.setFloat32(at, a[i]!, true);
  }
  bytes.set(createHash("sha256").update(bytes.subarray(0, at)).digest(), at);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } finally {
    if (existsSync(tmp)) rmSync(tmp, { force: true });
  }
}

/**
 * Reads a checkpoint written with `settings`. Any damage is a CheckpointError (exit 1) naming the
 * file; settings that differ are a UsageError naming the keys, since the remaining frames would
 * not be the ones the run started out to make.
 */
export function loadCheckpoint(path: string, settings: Record<string, unknown>): QueueState {
  const { header, state } = readCheckpoint(path);
  const differing = Object.keys({ ...settings, ...header.settings }).filter((k) => JSON.stringify(settings[k]) !== JSON.stringify(header.settings[k]));
  if (differing.length > 0) {
    const show = (v: unknown) => (v === undefined ? "(none)" : JSON.stringify(v));
    const list = differing.map((k) => `${k} ${show(header.settings[k])} → ${show(settings[k])}`).join(", ");
    throw new UsageError(`--resume: checkpoint ${path} was written with other settings: ${list}`, "resume with the settings of the run that wrote it");
  }
  return state;
}

/** How many output frames the run that wrote the checkpoint at `path` had made (checked like loadCheckpoint, settings aside). */
export function checkpointProgress(path: string): number {
  return readCheckpoint(path).state.emitted;
}

function readCheckpoint(path: string): { header: Header; state: QueueState } {
  if (!existsSync(path)) throw new CheckpointError(`--resume: no checkpoint at ${path}`, "a run writes one every checkpoint_every frames; start without --resume");
  const bytes = new Uint8Array(readFileSync(path));
  const corrupt = (why: string) => new CheckpointError(`checkpoint ${path} is corrupt: ${why}`, "delete it and start the run again without --resume");
  if (bytes.length < 12 + 32 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw corrupt("it is not a FIFO queue checkpoint");
  const body = bytes.subarray(0, bytes.length - 32);
  if (Buffer.compare(createHash("sha256").update(body).digest(), bytes.subarray(bytes.length - 32)) !== 0) throw corrupt("its checksum does not match its contents");
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const jsonLength = view.getUint32(8, true);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLength))) as Header;
  } catch {
    throw corrupt("its header is not JSON");
  }
  if (header === null || typeof header !== "object") throw corrupt("its header is not a JSON object");
  if (header.version !== VERSION) throw corrupt(`it is version ${header.version}, this build reads ${VERSION}`);
  const wholes = (v: unknown, min: number) => Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= min);
  const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  const fields = typeof header.settings === "object" && header.settings !== null && !Array.isArray(header.settings) &&
    count(header.iteration) && count(header.emitted) && count(header.nextFrameId) && count(header.slotSize) &&
    wholes(header.frameIds, 0) && (header.imageShape === null || wholes(header.imageShape, 1));
  if (!fields) throw corrupt("its header lacks the queue's counters, frame ids or settings");
  const slotCount = header.frameIds.length;
  const imageSize = header.imageShape ? header.imageShape.reduce((a, b) => a * b, 1) : 0;
  const floats = slotCount * header.slotSize + 2 * imageSize;
  if (body.length !== 12 + jsonLength + 4 * floats) throw corrupt(`it holds ${body.length - 12 - jsonLength} bytes of latents, its header says ${4 * floats}`);
  let at = 12 + jsonLength;
  const read = (n: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++, at += 4) out[i] = view.getFloat32(at, true);
    return out;
  };
  const slots = read(slotCount * header.slotSize);
  const image = header.imageShape ? { shape: header.imageShape, cond: read(imageSize), uncond: read(imageSize) } : null;
  return { header, state: { iteration: header.iteration, emitted: header.emitted, frameIds: header.frameIds, nextFrameId: header.nextFrameId, slotSize: header.slotSize, slots, image } };
}
