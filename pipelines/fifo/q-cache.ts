/**
 * Weighted Q-caches (the YCmove fork's TTqcache, shared/specs/fifo-diffusion.md trick (b)):
 * within one UNet call, the query of each down block's temporal attention (attn1 or attn2) is
 * kept, and each up block's temporal query of the same resolution is replaced by
 * q ← (1 − w)·q + w·q_down. Pairs follow the reference's map: at each resolution the up blocks
 * take the down blocks in reverse order, the extra ones the first (VideoCrafter's
 * {3:8, 4:7, 5:7, 6:5, 7:4, 8:4, 9:2, 10:1, 11:1}). w = 1 replaces the query outright.
 *
 *   using cache = new QCache(unet, { weight: 0.9, attn: "attn1" });
 *   cache.begin(); const eps = unet.predict(…); cache.end();   // per UNet call
 */
import { UsageError } from "../errors.ts";
import { lerp } from "../runtime/blend-ops.ts";
import type { Tensor } from "../runtime/tensor.ts";
import type { HookHandle, HookSite } from "../sd/unet-hooks.ts";
import type { VideoUnet } from "../sd/video-unet.ts";

export const Q_CACHE_ATTNS = ["attn1", "attn2"] as const;
export type QCacheAttn = (typeof Q_CACHE_ATTNS)[number];

export interface QCacheOptions {
  readonly weight: number;
  readonly attn: QCacheAttn;
}

export class QCache implements Disposable {
  /** Up-block site name → the down-block site whose query it takes. */
  readonly pairs: ReadonlyMap<string, string>;
  readonly #kept = new Map<string, Tensor>();
  readonly #made: Tensor[] = [];
  readonly #handle: HookHandle;
  /** Queries replaced since construction (for logs and tests). */
  replaced = 0;

  constructor(unet: VideoUnet, readonly options: QCacheOptions) {
    if (!(options.weight >= 0 && options.weight <= 1)) throw new UsageError(`q_cache ${options.weight} must be a weight from 0 to 1`);
    const temporal = unet.sites.filter((s) => s.kind === "q" && s.block.place.temporal && s.block.place.attn === options.attn);
    this.pairs = pairUp(temporal);
    if (this.pairs.size === 0) {
      throw new UsageError(
        `--q-cache needs temporal attention (${options.attn}) in both the down and the up blocks of the UNet; ` +
          `it has ${temporal.length} such sites (docs/video-models.md says how they are named)`,
      );
    }
    const down = new Set(this.pairs.values());
    const up = this.pairs;
    this.#handle = unet.hook({ site: "q", where: (s) => down.has(s.name) || up.has(s.name) }, (q, ctx) => {
      const name = ctx.site.name;
      if (down.has(name)) this.#kept.set(name, q.to(q.backend));
      const source = up.get(name);
      if (source === undefined) return;
      const kept = this.#kept.get(source);
      if (!kept || kept.size !== q.size) throw new Error(`q-cache: ${name} has no query of its size from ${source} in this call`);
      const replaced = lerp(q, kept, options.weight);
      this.#made.push(replaced);
      this.replaced++;
      return replaced;
    });
  }

  /** Before a UNet call: nothing kept from the last one. */
  begin(): void {
    this.end();
  }

  /** After a UNet call: frees what it kept and made. */
  end(): void {
    for (const t of this.#kept.values()) t.dispose();
    this.#kept.clear();
    for (const t of this.#made.splice(0)) t.dispose();
  }

  dispose(): void {
    this.end();
    this.#handle.remove();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Up sites paired with down sites of the same level, in the reference's mirrored order. */
export function pairUp(sites: readonly HookSite[]): Map<string, string> {
  const byLevel = (place: "down" | "up") => {
    const levels = new Map<number, HookSite[]>();
    for (const s of sites) {
      if (s.block.place.block !== place || s.block.level === null) continue;
      const list = levels.get(s.block.level) ?? [];
      list.push(s);
      levels.set(s.block.level, list);
    }
    return levels;
  };
  const down = byLevel("down");
  const pairs = new Map<string, string>();
  for (const [level, ups] of byLevel("up")) {
    const downs = [...(down.get(level) ?? [])].reverse();
    if (downs.length === 0) continue;
    ups.forEach((u, i) => pairs.set(u.name, downs[Math.min(i, downs.length - 1)]!.name));
  }
  return pairs;
}
