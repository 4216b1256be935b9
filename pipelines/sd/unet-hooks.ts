/**
 * Hooks inside a UNet or ControlNet: TypeScript callbacks that see, and may replace, attention
 * tensors (q, k, v, probs, out) while the model runs (docs/unet-hooks.md).
 *
 *   const handle = unet.hook({ site: "probs", self: true, maxRes: 32, blocks: ["down", "mid", "up"] },
 *     (probs, ctx) => blendWithPrevious(probs, ctx.site.name, ctx.stepIndex));
 *   …
 *   handle.remove();
 *
 * With no hooks the model runs as one session. With hooks, the sites they select for the
 * current latent size become cuts; the cut model is planned, cached on disk and loaded on first
 * use of that cut set, and kept for later calls (the two most recent cut sets stay loaded).
 */
import { readFileSync } from "node:fs";
import type { onnx } from "onnx-proto";
import { UsageError } from "../errors.ts";
import { type AttentionBlock, type BlockKind, findAttentionBlocks, SITE_KINDS, type SiteKind, tokenCounts } from "../onnx/attention-sites.ts";
import { cachedSegments } from "../onnx/graph-cut.ts";
import { readModel } from "../onnx/model-reader.ts";
import { SegmentedModel } from "../onnx/segmented-model.ts";
import type { OrtModel } from "../runtime/ort-model.ts";
import type { Tensor } from "../runtime/tensor.ts";

export type { AttentionBlock, BlockKind, SiteKind };

/** One hookable tensor: a site kind of one attention block. */
export interface HookSite {
  readonly block: AttentionBlock;
  readonly kind: SiteKind;
  /** `${block.name}:${kind}`, unique within the model. */
  readonly name: string;
  /** The graph tensor. */
  readonly tensor: string;
}

/** Which sites a hook wants. Every given field must match. */
export interface SiteSelector {
  readonly site: SiteKind | readonly SiteKind[];
  /** true: self-attention only; false: cross-attention only; omitted: both. */
  readonly self?: boolean;
  /** Only blocks whose key count is at most maxRes² (attention-interpolation's attention_res). */
  readonly maxRes?: number;
  /** Only blocks in these places (default: all, "unknown" included). */
  readonly blocks?: readonly BlockKind[];
  /**
   * Any further test, e.g. on `site.block.place.blockIndex`. Asked when the hook set or the
   * latent size changes, not on every call: a test whose answer changes must re-register.
   */
  readonly where?: (site: HookSite) => boolean;
}

export interface HookContext {
  readonly site: HookSite;
  /** The denoising step index the caller passed to predict, if any. */
  readonly stepIndex: number | undefined;
  /** Latent height and width of this call. */
  readonly latent: { readonly height: number; readonly width: number };
  /** Query and key token counts of the block at this latent size (undefined if not traceable). */
  readonly tokens: { readonly query: number; readonly key: number } | undefined;
}

/**
 * Sees the site's tensor; returns a same-shaped replacement or nothing. The tensor is valid only
 * during the call (copy it to keep it). A returned tensor stays the hook's: it is read by the
 * rest of this run and never disposed by the model.
 */
export type UnetHook = (tensor: Tensor, ctx: HookContext) => Tensor | void;

export interface HookHandle {
  remove(): void;
}

interface Registered {
  readonly selector: SiteSelector;
  readonly fn: UnetHook;
}

/** Feeds → latent size and context length, for site selection and token counts. */
export interface HookableModelOptions {
  readonly latentSize?: (feeds: Readonly<Record<string, Tensor>>) => { height: number; width: number };
  readonly contextTokens?: (feeds: Readonly<Record<string, Tensor>>) => number;
}

const KEEP_LOADED = 2;

/** The cut model and, per cut in plan order, its site and the hooks that see it. */
interface Route {
  readonly latent: { readonly height: number; readonly width: number };
  readonly contextTokens: number;
  readonly segmented: SegmentedModel | undefined;
  readonly cuts: readonly { readonly site: HookSite; readonly tokens: HookContext["tokens"]; readonly fns: readonly UnetHook[] }[];
}

/** An OrtModel whose attention tensors hooks can see and replace. */
export class HookableModel implements Disposable {
  readonly #hooks = new Set<Registered>();
  readonly #loaded = new Map<string, SegmentedModel>();
  #parsed: { bytes: Uint8Array; model: onnx.ModelProto; blocks: AttentionBlock[]; sites: readonly HookSite[] } | undefined;
  /**
   * What a call with this hook set and sizes does, worked out once: between two segment runs
   * only the hooks themselves should run (caches are cold there; see segmented-model.ts).
   */
  #route: Route | undefined;

  constructor(
    readonly model: OrtModel,
    private readonly options: HookableModelOptions = {},
  ) {}

  /** The attention blocks of the graph (parsed on first use). */
  get blocks(): readonly AttentionBlock[] {
    return this.#parse().blocks;
  }

  /** Every hookable site. */
  get sites(): readonly HookSite[] {
    return this.#parse().sites;
  }

  get hookCount(): number {
    return this.#hooks.size;
  }

  /**
   * Registers `fn` for the sites `selector` picks; several hooks on one site run in registration
   * order. A selector no site of the model can match (whatever the latent size) is an error that
   * lists the sites the model has: a hook that silently does nothing is the worst outcome.
   */
  hook(selector: SiteSelector, fn: UnetHook): HookHandle {
    checkSelector(selector);
    if (!this.sites.some((s) => matchesAtSomeSize(selector, s))) {
      throw new UsageError(`hook ${describeSelector(selector)} matches no site of ${this.model.path}; ${describeSites(this.blocks)}`);
    }
    const entry = { selector, fn };
    this.#hooks.add(entry);
    this.#route = undefined;
    return {
      remove: () => {
        if (this.#hooks.delete(entry)) this.#route = undefined;
      },
    };
  }

  /** The sites hooks would see for a latent of `height`×`width`, in graph order. */
  selectedSites(height: number, width: number, contextTokens = 77): HookSite[] {
    return this.sites.filter((s) => [...this.#hooks].some((h) => matches(h.selector, s, height, width, contextTokens)));
  }

  /** Runs like OrtModel.run; with hooks, through the cut model. `step.index` reaches hooks as ctx.stepIndex. */
  run(feeds: Readonly<Record<string, Tensor>>, outputs: Readonly<Record<string, Tensor>>, step?: { index: number }): void {
    if (this.#hooks.size === 0) return this.model.run(feeds, outputs);
    const latent = this.options.latentSize?.(feeds) ?? defaultLatentSize(feeds);
    const contextTokens = this.options.contextTokens?.(feeds) ?? feeds.encoder_hidden_states?.shape[1] ?? 77;
    const route = this.#routeFor(latent, contextTokens);
    if (!route.segmented) return this.model.run(feeds, outputs);
    const stepIndex = step?.index;
    route.segmented.run(feeds, outputs, (cut, tensor) => {
      const { site, tokens, fns } = route.cuts[cut]!;
      const ctx: HookContext = { site, stepIndex, latent: route.latent, tokens };
      let current = tensor;
      for (const fn of fns) current = fn(current, ctx) ?? current;
      return current;
    });
  }

  #routeFor(latent: { height: number; width: number }, contextTokens: number): Route {
    const cached = this.#route;
    if (cached && cached.latent.height === latent.height && cached.latent.width === latent.width && cached.contextTokens === contextTokens) {
      return cached;
    }
    const hooks = [...this.#hooks];
    const hooked = this.sites.flatMap((site) => {
      const fns = hooks.filter((h) => matches(h.selector, site, latent.height, latent.width, contextTokens)).map((h) => h.fn);
      return fns.length === 0 ? [] : [{ site, fns }];
    });
    const size = { height: latent.height, width: latent.width };
    let route: Route = { latent: size, contextTokens, segmented: undefined, cuts: [] };
    if (hooked.length > 0) {
      const segmented = this.#segmented(hooked.map((h) => h.site.tensor));
      const byTensor = new Map(hooked.map((h) => [h.site.tensor, h]));
      const cuts = segmented.plan.cuts.map((tensor) => {
        const { site, fns } = byTensor.get(tensor)!;
        return { site, fns, tokens: tokenCounts(site.block, latent.height, latent.width, contextTokens) };
      });
      route = { latent: size, contextTokens, segmented, cuts };
    }
    this.#route = route;
    return route;
  }

  #segmented(cuts: string[]): SegmentedModel {
    const key = [...cuts].sort().join("\n");
    let seg = this.#loaded.get(key);
    if (seg) {
      this.#loaded.delete(key); // re-insert as most recent
    } else {
      const { bytes, model } = this.#parse();
      seg = SegmentedModel.load(cachedSegments(this.model.path, bytes, model, cuts), this.model.backend, { optimization: this.model.optimization });
      while (this.#loaded.size >= KEEP_LOADED) {
        const [oldest, old] = this.#loaded.entries().next().value!;
        this.#loaded.delete(oldest);
        old.dispose();
      }
    }
    this.#loaded.set(key, seg);
    return seg;
  }

  #parse() {
    if (!this.#parsed) {
      const bytes = new Uint8Array(readFileSync(this.model.path));
      const model = readModel(bytes, this.model.path);
      const blocks = findAttentionBlocks(model);
      const sites = blocks.flatMap((block) =>
        SITE_KINDS.flatMap((kind) => {
          const tensor = block.tensors[kind];
          return tensor === undefined ? [] : [{ block, kind, name: `${block.name}:${kind}`, tensor }];
        }),
      );
      this.#parsed = { bytes, model, blocks, sites };
    }
    return this.#parsed;
  }

  dispose(): void {
    for (const seg of this.#loaded.values()) seg.dispose();
    this.#loaded.clear();
    this.#hooks.clear();
    this.#route = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function defaultLatentSize(feeds: Readonly<Record<string, Tensor>>): { height: number; width: number } {
  const shape = feeds.sample?.shape;
  if (!shape || shape.length !== 4) throw new UsageError("hooks need a 4-D `sample` feed to know the latent size; pass options.latentSize");
  return { height: shape[2]!, width: shape[3]! };
}

function matches(sel: SiteSelector, site: HookSite, height: number, width: number, contextTokens: number): boolean {
  if (!matchesAtSomeSize(sel, site)) return false;
  if (sel.maxRes !== undefined) {
    const tokens = tokenCounts(site.block, height, width, contextTokens);
    if (!tokens || tokens.key > sel.maxRes * sel.maxRes) return false;
  }
  return true;
}

/** Everything but maxRes, which depends on the latent size of a call. */
function matchesAtSomeSize(sel: SiteSelector, site: HookSite): boolean {
  const kinds: readonly SiteKind[] = typeof sel.site === "string" ? [sel.site] : sel.site;
  if (!kinds.includes(site.kind)) return false;
  if (sel.self !== undefined && sel.self !== site.block.self) return false;
  if (sel.blocks && !sel.blocks.includes(site.block.place.block)) return false;
  return sel.where ? sel.where(site) : true;
}

function describeSelector(sel: SiteSelector): string {
  const parts = [`site: ${typeof sel.site === "string" ? sel.site : sel.site.join("|")}`];
  if (sel.self !== undefined) parts.push(sel.self ? "self-attention" : "cross-attention");
  if (sel.blocks) parts.push(`blocks: ${sel.blocks.join("|")}`);
  if (sel.maxRes !== undefined) parts.push(`maxRes: ${sel.maxRes}`);
  if (sel.where) parts.push("where: (function)");
  return `{ ${parts.join(", ")} }`;
}

/** One line naming every block and the sites it has. */
export function describeSites(blocks: readonly AttentionBlock[]): string {
  if (blocks.length === 0) return "it has no attention block the site finder recognises (docs/unet-hooks.md lists the known forms)";
  const list = blocks.map((b) => `${b.name} (${b.self ? "self" : "cross"}, ${b.place.block}: ${SITE_KINDS.filter((k) => b.tensors[k] !== undefined).join(",")})`);
  return `it has ${blocks.length} attention blocks: ${list.join("; ")}`;
}

/** Site counts per kind, e.g. "probs: 8 self, 0 cross; out: …", for a job's log before its first frame. */
export function countSites(sites: readonly HookSite[]): string {
  const counts = SITE_KINDS.map((kind) => {
    const of = sites.filter((s) => s.kind === kind);
    return of.length ? `${kind} ${of.filter((s) => s.block.self).length} self + ${of.filter((s) => !s.block.self).length} cross` : "";
  }).filter(Boolean);
  return counts.length ? counts.join(", ") : "no sites";
}

function checkSelector(sel: SiteSelector): void {
  const kinds: readonly string[] = typeof sel.site === "string" ? [sel.site] : (sel.site ?? []);
  const bad = kinds.find((k) => !(SITE_KINDS as readonly string[]).includes(k));
  if (kinds.length === 0 || bad !== undefined) {
    throw new UsageError(`hook site "${bad ?? ""}" is not one of ${SITE_KINDS.join(", ")}`);
  }
  const blocks = ["down", "mid", "up", "unknown"];
  const badBlock = sel.blocks?.find((b) => !blocks.includes(b));
  if (badBlock !== undefined) throw new UsageError(`hook block "${badBlock}" is not one of ${blocks.join(", ")}`);
  if (sel.maxRes !== undefined && !(Number.isInteger(sel.maxRes) && sel.maxRes > 0)) {
    throw new UsageError(`hook maxRes ${sel.maxRes} must be a positive integer`);
  }
}
