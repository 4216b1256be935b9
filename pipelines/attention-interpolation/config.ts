/**
 * What to blend where: the reference's pipe_config / unet_config / controlnet_config, typed.
 * Ref: shared/specs/attention-interpolation.md "Parameters"; configs/attention-interp.yaml.
 */
import { UsageError } from "../errors.ts";
import type { StateDtype } from "./blend-state.ts";
import { checkSchedule, DEFAULT_PIPE_SCHEDULE, DEFAULT_UNET_SCHEDULE, type BlendSchedule } from "./schedules.ts";

/** Blend sites inside an attention layer (the reference's query, key, value, attention_probs, out_linear). */
export const SITE_NAMES = ["q", "k", "v", "probs", "out"] as const;
export type SiteName = (typeof SITE_NAMES)[number];

/** The reference's `use_interpolation` key of each site. */
export const REFERENCE_SITE_NAMES: Readonly<Record<SiteName, string>> = {
  q: "query",
  k: "key",
  v: "value",
  probs: "attention_probs",
  out: "out_linear",
};

export const PLACES = ["down", "mid", "up"] as const;
export type Place = (typeof PLACES)[number];

export interface AttentionBlendConfig extends BlendSchedule {
  /** use_interpolation per site. */
  sites: Readonly<Record<SiteName, boolean>>;
  /** Probabilities are blended only where keys ≤ attentionRes² (q/k/v/out have no size filter). */
  attentionRes: number;
  /** allow_names: the UNet parts whose self-attention layers blend. */
  blocks: readonly Place[];
}

export interface InterpolationConfig {
  /** Latents after each scheduler step. */
  pipe: BlendSchedule;
  unet: AttentionBlendConfig;
  controlnet: AttentionBlendConfig;
  /** dtype the stored past is kept in (f16 halves the memory; blending runs in f32). */
  stateDtype: StateDtype;
}

const OFF: Record<SiteName, boolean> = { q: false, k: false, v: false, probs: false, out: false };

export const DEFAULT_UNET_CONFIG: AttentionBlendConfig = {
  ...DEFAULT_UNET_SCHEDULE,
  sites: { ...OFF, probs: true, out: true },
  attentionRes: 32,
  blocks: ["down", "mid", "up"],
};

/** Same numbers as the UNet's, every site off: the reference's no-op default. */
export const DEFAULT_CONTROLNET_CONFIG: AttentionBlendConfig = { ...DEFAULT_UNET_CONFIG, sites: OFF, blocks: ["down", "mid"] };

export const DEFAULT_INTERPOLATION: InterpolationConfig = {
  pipe: DEFAULT_PIPE_SCHEDULE,
  unet: DEFAULT_UNET_CONFIG,
  controlnet: DEFAULT_CONTROLNET_CONFIG,
  stateDtype: "f32",
};

/** Every site and the latents off (ema 0 is not "off": it still stores the state). */
export function interpolationOff(): InterpolationConfig {
  const none = { start: 0, end: 0 };
  return {
    pipe: { ...DEFAULT_PIPE_SCHEDULE, ...none },
    unet: { ...DEFAULT_UNET_CONFIG, ...none, sites: OFF },
    controlnet: { ...DEFAULT_CONTROLNET_CONFIG, ...none, sites: OFF },
    stateDtype: "f32",
  };
}

export function checkInterpolation(c: InterpolationConfig): void {
  checkSchedule(c.pipe, "pipe");
  for (const [what, a] of [["unet", c.unet], ["controlnet", c.controlnet]] as const) {
    checkSchedule(a, what);
    if (!Number.isInteger(a.attentionRes) || a.attentionRes < 1) {
      throw new UsageError(`${what} attention_res ${a.attentionRes} is invalid: expected a positive integer`);
    }
    for (const b of a.blocks) {
      if (!PLACES.includes(b)) throw new UsageError(`${what} allow_names has "${b}": expected any of ${PLACES.join(", ")}`);
    }
  }
}

/** Whether any attention site of `a` can blend at all (no hooks are installed otherwise). */
export function anySite(a: AttentionBlendConfig): boolean {
  return a.blocks.length > 0 && SITE_NAMES.some((s) => a.sites[s]);
}
