/**
 * The picture sizes a UNet can run, read from its graph: sides must be multiples of 8·2^L, L the
 * deepest level any attention block sits at (tiny: 2 → 32; SD 1.5: 3 → 64), or a down block's
 * latent would not halve evenly and the up path's skip concatenation fails inside ONNX Runtime.
 * Image and video UNets alike (both are HookableModels).
 */
import { UsageError } from "../errors.ts";
import type { HookableModel } from "./unet-hooks.ts";

export function sizeMultiple(unet: HookableModel): number {
  const levels = unet.blocks.map((b) => b.level).filter((l): l is number => typeof l === "number");
  return 8 * 2 ** Math.max(0, ...levels);
}

/**
 * Throws a UsageError for a size the UNet cannot run: sides not positive multiples of 8, or (read
 * from the graph only off multiples of 64, which every SD UNet takes) not of sizeMultiple.
 */
export function checkUnetSize(unet: HookableModel, width: number, height: number): void {
  for (const [what, v] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(v) || v <= 0 || v % 8 !== 0) throw new UsageError(`${what} ${v} is not a positive multiple of 8`);
  }
  if (width % 64 === 0 && height % 64 === 0) return;
  const m = sizeMultiple(unet);
  if (width % m === 0 && height % m === 0) return;
  const near = (v: number) => Math.max(m, Math.round(v / m) * m);
  throw new UsageError(
    `size ${width}x${height}: this UNet halves the latent ${Math.log2(m / 8)} times, so both sides must be multiples of ${m}`,
    `try --size ${near(width)}x${near(height)}`,
  );
}
