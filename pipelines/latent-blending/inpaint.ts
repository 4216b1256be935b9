/**
 * Inpainting transitions (shared/specs/latent-blending.md §F): a mask picture (white =
 * regenerate, black = keep) holds its kept region still across the whole transition, taken from
 * the FIRST keyframe. Two ways, chosen by the model:
 *  - a 9-channel inpainting UNet: every branch is conditioned on [mask, latents of the first
 *    keyframe's picture blanked under the mask] (§F2–F3). The first keyframe itself is made with
 *    the "empty" conditioning (all-regenerate mask, blank picture), as V1's init_empty did.
 *  - an ordinary 4-channel UNet: after every step the kept region is pasted back from the first
 *    keyframe's trajectory at that step, x ← m·x + (1 − m)·M₁[i] (kernels/mask.cu), so it equals
 *    the first keyframe's exactly in latent space.
 * A 9-channel model without a mask runs with the empty conditioning throughout.
 */
import type { Frame } from "../io/frame.ts";
import { openFrameSource } from "../io/frame-source.ts";
import { UsageError } from "../errors.ts";
import { maskPaste } from "../runtime/mask-ops.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { inpaintConditioning, maskField, type InpaintConditioning } from "../sd/inpaint.ts";
import type { StableDiffusion } from "../sd/stable-diffusion.ts";
import type { Latents, TreeNode } from "./trajectory.ts";

export class TransitionMask implements Disposable {
  /** What a 9-channel UNet gets now (empty before the first keyframe is known). */
  conditioning: InpaintConditioning | undefined;
  /** The trajectory the kept region is pasted from (4-channel path), and its latent-size mask. */
  private source: Latents | undefined;
  private latentMask: Tensor | undefined;

  private constructor(
    private readonly sd: StableDiffusion,
    private readonly picture: Frame | undefined,
    private readonly width: number,
    private readonly height: number,
  ) {}

  /** Undefined when there is nothing to do (no mask, 4-channel model). */
  static async open(sd: StableDiffusion, mask: Frame | string | null | undefined, width: number, height: number): Promise<TransitionMask | undefined> {
    const nineChannels = sd.unet.inChannels === 9;
    if (mask == null && !nineChannels) return undefined;
    const picture = mask == null ? undefined : await loadMaskPicture(mask);
    const m = new TransitionMask(sd, picture, width, height);
    if (nineChannels) m.conditioning = m.empty();
    else m.latentMask = maskField(sd.backend, picture!, width / 8, height / 8);
    return m;
  }

  /** Once the first keyframe exists: condition on its picture, or paste from its trajectory. */
  firstKeyframe(node: TreeNode): void {
    if (!this.picture) return;
    if (this.latentMask) {
      this.source = node.latents;
      return;
    }
    const next = inpaintConditioning(this.sd, node.image!, this.picture);
    this.conditioning?.[Symbol.dispose]();
    this.conditioning = next;
  }

  /**
   * The left keyframe of each later transition: its kept region already equals the first
   * keyframe's at every step, so it is the paste source from now on (the first one's latents
   * are freed after its transition).
   */
  nextTransition(left: TreeNode): void {
    if (this.latentMask && this.source) this.source = left.latents;
  }

  afterStep(x: Tensor, index: number): Tensor | undefined {
    const keep = this.source?.[index];
    return keep && this.latentMask ? maskPaste(x, keep, this.latentMask) : undefined;
  }

  /** All-regenerate mask over a blank picture: plain generation through a 9-channel UNet. */
  private empty(): InpaintConditioning {
    const white = { width: this.width, height: this.height, data: new Uint8Array(this.width * this.height * 3).fill(255) };
    return inpaintConditioning(this.sd, white, white);
  }

  [Symbol.dispose](): void {
    this.conditioning?.[Symbol.dispose]();
    this.latentMask?.dispose();
    this.source = undefined;
  }
}

/** The first frame of a mask file (any size: it is nearest-resized where used). */
export async function loadMaskPicture(mask: Frame | string): Promise<Frame> {
  if (typeof mask !== "string") return mask;
  const source = await openFrameSource(mask);
  for await (const f of source.frames) return f;
  throw new UsageError(`mask ${mask} holds no frame`);
}
