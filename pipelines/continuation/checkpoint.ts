/**
 * The carried conditioning latents on disk, so that `--resume` makes the remaining clips exactly as
 * the whole run would have (each clip's noise and k come from the seed and the clip index alone).
 * One file: "LLCONT01", u32 header length (LE), header JSON, f32 latents (LE), sha256 of all before.
 * Written to a temporary name and renamed, so a kill mid-save leaves the previous one whole.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { LatentloomError } from "../errors.ts";

const MAGIC = "LLCONT01";

/** A checkpoint that cannot be used: missing, damaged, or from a run with other settings. */
export class CheckpointError extends LatentloomError {}

export interface ClipCheckpoint {
  /** The next clip to make. */
  readonly clip: number;
  readonly shape: readonly number[];
  readonly latents: Float32Array;
  /** The running clip statistics of --normalize (the clips before), when it is on. */
  readonly stats?: { readonly means: readonly number[]; readonly stds: readonly number[] } | null;
}

export function saveClipCheckpoint(path: string, settings: Record<string, unknown>, state: ClipCheckpoint): void {
  const header = Buffer.from(JSON.stringify({ settings, clip: state.clip, shape: state.shape, stats: state.stats ?? null }));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  const payload = Buffer.from(state.latents.buffer, state.latents.byteOffset, state.latents.byteLength);
  const body = Buffer.concat([Buffer.from(MAGIC), length, header, payload]);
  const digest = createHash("sha256").update(body).digest();
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, Buffer.concat([body, digest]));
  renameSync(tmp, path);
}

export function loadClipCheckpoint(path: string, settings: Record<string, unknown>): ClipCheckpoint {
  if (!existsSync(path)) throw new CheckpointError(`--resume: no checkpoint at ${path}`);
  const { header, payload } = readCheckpoint(path);
  if (JSON.stringify(header.settings) !== JSON.stringify(settings)) {
    const keys = Object.keys({ ...settings, ...header.settings });
    const differing = keys.filter((k) => JSON.stringify(settings[k]) !== JSON.stringify(header.settings[k]));
    throw new CheckpointError(`--resume: ${path} was written with other settings (${differing.join(", ")})`);
  }
  const latents = new Float32Array(payload.byteLength / 4);
  new Uint8Array(latents.buffer).set(payload);
  return { clip: header.clip, shape: header.shape, latents, stats: header.stats };
}

/** The next clip a checkpoint would make (0 when there is none), checked like loadClipCheckpoint but for its settings. */
export function checkpointClip(path: string): number {
  if (!existsSync(path)) return 0;
  return readCheckpoint(path).header.clip;
}

interface Header {
  settings: Record<string, unknown>;
  clip: number;
  shape: number[];
  stats: ClipCheckpoint["stats"];
}

/** The header and latent bytes of a checkpoint, every field checked: damage is a CheckpointError, never a TypeError. */
function readCheckpoint(path: string): { header: Header; payload: Uint8Array } {
  const file = readFileSync(path);
  const bad = (why: string) => new CheckpointError(`--resume: ${path} ${why}`);
  if (file.length < 12 + 32 || file.subarray(0, 8).toString() !== MAGIC) throw bad("is not a continuation checkpoint");
  const body = file.subarray(0, file.length - 32);
  if (!createHash("sha256").update(body).digest().equals(file.subarray(file.length - 32))) throw bad("is damaged (checksum mismatch)");
  const n = body.readUInt32LE(8);
  if (12 + n > body.length) throw bad("is damaged (its header runs past the end)");
  let raw: unknown;
  try {
    raw = JSON.parse(body.subarray(12, 12 + n).toString());
  } catch {
    throw bad("is damaged (its header is not JSON)");
  }
  const h = raw as Partial<Header> | null;
  const wholes = (v: unknown, min: number) => Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= min);
  const numbers = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "number");
  const statsOk = h?.stats == null || (typeof h.stats === "object" && numbers(h.stats.means) && numbers(h.stats.stds));
  const valid = h !== null && typeof h === "object" && typeof h.settings === "object" && h.settings !== null &&
    Number.isInteger(h.clip) && h.clip! >= 0 && wholes(h.shape, 1) && statsOk;
  if (!valid) throw bad("is damaged (its header lacks clip, shape or settings)");
  const payload = body.subarray(12 + n);
  if (payload.byteLength !== 4 * h.shape!.reduce((a, b) => a * b, 1)) throw bad("holds a payload of the wrong size");
  return { header: { settings: h.settings!, clip: h.clip!, shape: h.shape!, stats: h.stats ?? null }, payload };
}
