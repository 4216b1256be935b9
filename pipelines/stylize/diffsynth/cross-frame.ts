/**
 * Cross-frame attention through the UNet hooks (shared/specs/diffsynth.md, "Cross-frame attention";
 * docs/diffsynth.md). In DiffSynth every self-attention of a frame attends over the tokens of all
 * the frames its combine_pattern picks: softmax(Q·[K_a; K_b; …]ᵀ·scale)·[V_a; V_b; …].
 *
 * The reference batches the B pattern frames through the whole UNet and keeps one row. We run
 * only the frame whose output is kept, and take the other frames' K and V from a per-step cache:
 *
 * - a `record` pass of a frame (or reference image) at this step stores its K and V at every
 *   self-attention site, leaving the model's output alone;
 * - an `attend` pass of frame i keeps its own Q, K, V at each site, computes the joint attention
 *   O over [own; cached…] in pattern order, and hands it to the model through two same-shaped
 *   replacements: V ← O and probs ← I (identity), so the model's own P·V product yields O exactly.
 *
 * Hooks must return tensors of the site's shape (docs/unet-hooks.md), which K/V of B·N tokens are
 * not; the V ← O, probs ← I pair stays within that rule. Works on "classic" and "sdpa" blocks
 * (they have a probs site); scale = 1/√d, the SD attention processors' default.
 */
import { UsageError } from "../../errors.ts";
import { cast } from "../../runtime/blend-ops.ts";
import { Tensor } from "../../runtime/tensor.ts";
import type { HookContext, HookHandle, SiteSelector, UnetHook } from "../../sd/unet-hooks.ts";

/** Anything with the hook API: the UNet and a ControlNet. */
export interface Hookable {
  hook(selector: SiteSelector, fn: UnetHook): HookHandle;
}

/**
 * softmax(q·kᵀ·scale)·v over the concatenated keys: q [R, N, d]; keys[s], values[s] [R, M_s, d]
 * (R = batch·heads rows, each attending within its own row). Returns [R, N, d]. Plain loops:
 * the reference every test can read.
 */
export function jointAttention(
  q: Float32Array,
  keys: readonly Float32Array[],
  values: readonly Float32Array[],
  rows: number,
  d: number,
  scale = 1 / Math.sqrt(d),
): Float32Array {
  const n = q.length / (rows * d);
  const counts = keys.map((k) => k.length / (rows * d));
  const total = counts.reduce((a, b) => a + b, 0);
  const out = new Float32Array(q.length);
  const scores = new Float64Array(total);
  const acc = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) {
      const qo = (r * n + i) * d;
      let max = -Infinity;
      let m = 0;
      for (let s = 0; s < keys.length; s++) {
        const k = keys[s]!, c = counts[s]!;
        for (let j = 0; j < c; j++) {
          const ko = (r * c + j) * d;
          let dot = 0;
          for (let e = 0; e < d; e++) dot += q[qo + e]! * k[ko + e]!;
          const v = dot * scale;
          scores[m++] = v;
          if (v > max) max = v;
        }
      }
      let sum = 0;
      for (let j = 0; j < total; j++) sum += scores[j] = Math.exp(scores[j]! - max);
      acc.fill(0);
      m = 0;
      for (let s = 0; s < values.length; s++) {
        const v = values[s]!, c = counts[s]!;
        for (let j = 0; j < c; j++) {
          const p = scores[m++]! / sum;
          const vo = (r * c + j) * d;
          for (let e = 0; e < d; e++) acc[e] = acc[e]! + p * v[vo + e]!;
        }
      }
      for (let e = 0; e < d; e++) out[qo + e] = acc[e]!;
    }
  }
  return out;
}

export type PassMode = "off" | "record" | "attend";

export interface CrossFrameStats {
  /** Site calls that stored K/V (record) or replaced V and probs (attend). */
  recorded: number;
  attended: number;
  /** K/V values held in the cache now and at most (f32 elements × 4 = bytes). */
  heldBytes: number;
  peakBytes: number;
}

interface SiteState {
  q?: Float32Array;
  k?: Float32Array;
  v?: Float32Array;
}

/**
 * The K/V cache and the hooks. Set `pass(mode, self, sources)` before each model call:
 * `self` names the image this call computes ("f3", "r0"), `sources` the images it attends over
 * in pattern order (only for attend; an entry equal to `self` is the call's own K/V).
 */
export class CrossFrameAttention implements Disposable {
  readonly stats: CrossFrameStats = { recorded: 0, attended: 0, heldBytes: 0, peakBytes: 0 };
  #mode: PassMode = "off";
  #self = "";
  #sources: readonly string[] = [];
  /** `${model}/${site}` → image → its K and V at this step. */
  readonly #cache = new Map<string, Map<string, { k: Float32Array; v: Float32Array }>>();
  readonly #current = new Map<string, SiteState>();
  readonly #identity = new Map<string, Tensor>();
  /** Replacements handed to the model in this call; theirs to read until it returns. */
  readonly #pending: Tensor[] = [];
  readonly #handles: HookHandle[] = [];

  /** Hooks every self-attention (q, k, v, probs) of `model`, named `name` in the cache. */
  install(model: Hookable, name: string): void {
    const hook: UnetHook = (tensor, ctx) => this.#hook(name, tensor, ctx);
    this.#handles.push(model.hook({ site: ["q", "k", "v", "probs"], self: true }, hook));
  }

  /** Sets what the next model calls do. */
  pass(mode: PassMode, self = "", sources: readonly string[] = []): void {
    this.release();
    this.#mode = mode;
    this.#self = self;
    this.#sources = sources;
    this.#current.clear();
  }

  /** Whether `image` has K/V recorded at this step. */
  has(image: string): boolean {
    const first = this.#cache.values().next().value;
    return first?.has(image) ?? false;
  }

  /** Forgets every recorded K/V (a new step: K/V depend on the noise level). */
  newStep(): void {
    this.#cache.clear();
    this.stats.heldBytes = 0;
  }

  /** Frees the replacements of the last model call (call after it returned). */
  release(): void {
    for (const t of this.#pending.splice(0)) t.dispose();
  }

  #hook(model: string, tensor: Tensor, ctx: HookContext): Tensor | void {
    if (this.#mode === "off") return;
    if (ctx.site.block.pattern === "fused") {
      throw new UsageError(`cross-frame attention needs q, k, v and probs sites; ${ctx.site.block.name} is a fused attention op`);
    }
    const key = `${model}/${ctx.site.block.name}`;
    const kind = ctx.site.kind;
    if (this.#mode === "record") {
      if (kind !== "k" && kind !== "v") return;
      let images = this.#cache.get(key);
      if (!images) this.#cache.set(key, (images = new Map()));
      const entry = images.get(this.#self) ?? { k: new Float32Array(0), v: new Float32Array(0) };
      const values = tensor.readF32();
      entry[kind] = values;
      images.set(this.#self, entry);
      this.stats.heldBytes += 4 * values.length;
      this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.heldBytes);
      this.stats.recorded++;
      return;
    }
    // attend
    let state = this.#current.get(key);
    if (!state) this.#current.set(key, (state = {}));
    if (kind === "q" || kind === "k") {
      state[kind] = tensor.readF32();
      return;
    }
    if (kind === "probs") return this.#identityLike(tensor);
    // v: the last of q, k, v in graph order (q·kᵀ → softmax needs q and k first)
    if (!state.q || !state.k) throw new Error(`cross-frame attention at ${key}: v came before q and k; this graph's order is not supported`);
    const own = { k: state.k, v: tensor.readF32() };
    const cached = this.#cache.get(key);
    const pick = (image: string) => {
      if (image === this.#self) return own;
      const kv = cached?.get(image);
      if (!kv) throw new Error(`cross-frame attention at ${key}: no K/V recorded for ${image} at this step`);
      return kv;
    };
    const chosen = this.#sources.map(pick);
    const [rows = 0, , d = 0] = tensor.shape.length === 4 ? [tensor.shape[0]! * tensor.shape[1]!, 0, tensor.shape[3]!] : tensor.shape;
    const o = jointAttention(state.q, chosen.map((c) => c.k), chosen.map((c) => c.v), rows, d);
    this.stats.attended++;
    this.#current.delete(key);
    let out = Tensor.from(tensor.backend, "f32", tensor.shape, o);
    if (tensor.dtype !== "f32") {
      const narrowed = cast(out, tensor.dtype as "f16");
      out.dispose();
      out = narrowed;
    }
    this.#pending.push(out);
    return out;
  }

  /** I per row, shaped like probs [R, N, N] (or [B, h, N, N]); cached per shape. */
  #identityLike(probs: Tensor): Tensor {
    const id = `${probs.dtype}:${probs.shape.join("x")}`;
    let t = this.#identity.get(id);
    if (!t) {
      const n = probs.shape.at(-1)!;
      const values = new Float32Array(probs.size);
      for (let r = 0; r < probs.size / (n * n); r++) for (let i = 0; i < n; i++) values[r * n * n + i * n + i] = 1;
      const f32 = Tensor.from(probs.backend, "f32", probs.shape, values);
      t = probs.dtype === "f32" ? f32 : cast(f32, probs.dtype as "f16");
      if (t !== f32) f32.dispose();
      this.#identity.set(id, t);
    }
    return t;
  }

  dispose(): void {
    this.release();
    for (const h of this.#handles.splice(0)) h.remove();
    for (const t of this.#identity.values()) t.dispose();
    this.#identity.clear();
    this.#cache.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
