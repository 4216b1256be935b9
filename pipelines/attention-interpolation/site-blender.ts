/**
 * The blend at one attention site of one model (UNet or ControlNet), as a hook body.
 * Ref: shared/specs/attention-interpolation.md §5–6.
 *
 * A call blends when: the site's flag is on, the layer is SELF-attention (cross-attention is never
 * touched), its block is in allow_names, for probs the key count is ≤ attention_res², and the
 * step is inside start < i < end. Every site tensor is laid out with its rows on the last axis
 * (q/k/v: one per token per head after the head split; probs: one per query; out: one channel
 * vector per token), so the slerp row length is always the last dimension.
 */
import type { BlendState } from "./blend-state.ts";
import type { AttentionBlendConfig, SiteName } from "./config.ts";
import { blendsAt, emaAt } from "./schedules.ts";
import type { Tensor } from "../runtime/tensor.ts";

/** What a hook call tells about where it is. */
export interface SiteCall {
  kind: SiteName;
  /** A name unique within the model (the module scope, e.g. down_blocks.0/attentions.0/…/attn1). */
  block: string;
  self: boolean;
  place: "down" | "mid" | "up" | "unknown";
  /** Keys each query attends over. */
  keys: number;
  /** The scheduler's step index (never a call counter). */
  step: number;
  /** Steps this run makes. */
  total: number;
}

export interface SiteStats {
  /** Hook calls seen, per `${block}/${kind}@${step}`. */
  calls: Map<string, number>;
  blends: number;
}

export class SiteBlender {
  readonly stats: SiteStats = { calls: new Map(), blends: 0 };

  constructor(
    /** Prefix of this model's state keys ("unet", "controlnet"). */
    readonly model: string,
    readonly config: AttentionBlendConfig,
    readonly state: BlendState,
  ) {}

  /** Whether this site ever blends (independent of the step). */
  accepts(call: Pick<SiteCall, "kind" | "self" | "place" | "keys">): boolean {
    const c = this.config;
    if (!c.sites[call.kind] || !call.self) return false;
    if (call.place === "unknown" || !c.blocks.includes(call.place)) return false;
    return call.kind !== "probs" || call.keys <= c.attentionRes * c.attentionRes;
  }

  /** The hook: a replacement tensor, or undefined to leave `x` as it is. */
  apply(x: Tensor, call: SiteCall): Tensor | undefined {
    const where = `${call.block}/${call.kind}@${call.step}`;
    this.stats.calls.set(where, (this.stats.calls.get(where) ?? 0) + 1);
    if (!this.accepts(call) || !blendsAt(this.config, call.step, call.total)) return undefined;
    this.stats.blends++;
    return this.state.blend(`${this.model}/${where}`, x, emaAt(this.config, call.step, call.total), x.shape.at(-1)!);
  }

  /** Steps of a `total`-step run at which this model's sites blend. */
  blendedSteps(total: number): number {
    let n = 0;
    for (let i = 0; i < total; i++) if (blendsAt(this.config, i, total)) n++;
    return n;
  }
}
