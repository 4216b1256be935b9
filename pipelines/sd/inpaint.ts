/**
 * Inpainting pieces (shared/specs/latent-blending.md §F; reference/sd-onnx-layout.md §2.2):
 * a mask picture becomes a binary field (1 = regenerate, 0 = keep; luma thresholded at ½,
 * nearest-resized), and a 9-channel inpainting UNet gets [latents, mask, masked-image latents]
 * concatenated on the channel axis at every step, for the uncond and cond rows alike. Ordinary
 * 4-channel models keep a region by pasting it back instead (`maskPaste`, runtime/mask-ops.ts).
 *
 *   using c = inpaintConditioning(sd, picture, maskFrame);   // picture and mask: rgb24 frames
 *   const denoise = inpaintDenoiser(sd, conditioning, c);
 */
import { UsageError } from "../errors.ts";
import type { Frame } from "../io/frame.ts";
import type { Backend } from "../runtime/backend.ts";
import { axpby } from "../runtime/blend-ops.ts";
import { maskFillRgb24, maskThresholdNearest } from "../runtime/mask-ops.ts";
import { Tensor } from "../runtime/tensor.ts";
import type { Denoise } from "./sampler.ts";
import type { Conditioning, StableDiffusion } from "./stable-diffusion.ts";

/** Grey that stands for 0 in [−1, 1] (diffusers blanks the regenerated region to 0 there). */
const BLANK = 128;

/** The binary mask [1, 1, h, w] of a mask picture at another size (nearest, luma ≥ ½ → 1). */
export function maskField(backend: Backend, picture: Frame, width: number, height: number): Tensor {
  using rgb = Tensor.from(backend, "u8", [picture.height, picture.width, 3], picture.data);
  return maskThresholdNearest(rgb, Tensor.empty(backend, "f32", [1, 1, height, width]));
}

/** The picture with the regenerated region blanked to grey: image·(mask < ½). */
export function blankMasked(backend: Backend, picture: Frame, mask: Frame): Frame {
  using field = maskField(backend, mask, picture.width, picture.height);
  using rgb = Tensor.from(backend, "u8", [picture.height, picture.width, 3], picture.data);
  using out = maskFillRgb24(rgb, field, BLANK);
  return { width: picture.width, height: picture.height, data: out.read() as Uint8Array };
}

/** What a 9-channel UNet gets beside the latents: the latent-size mask and masked-image latents. */
export interface InpaintConditioning extends Disposable {
  mask: Tensor;
  maskedLatents: Tensor;
}

/**
 * The conditioning for `picture` under `mask` (sizes may differ: the mask is nearest-resized).
 * The masked-image latents are the VAE mean (deterministic) of the blanked picture.
 */
export function inpaintConditioning(sd: StableDiffusion, picture: Frame, mask: Frame): InpaintConditioning {
  if (picture.width % 8 || picture.height % 8) throw new UsageError(`inpainting picture ${picture.width}x${picture.height} is not a multiple of 8`);
  const latentMask = maskField(sd.backend, mask, picture.width / 8, picture.height / 8);
  try {
    const maskedLatents = sd.vae.encode(blankMasked(sd.backend, picture, mask), sd.backend);
    return { mask: latentMask, maskedLatents, [Symbol.dispose]: () => (latentMask.dispose(), maskedLatents.dispose()) };
  } catch (e) {
    latentMask.dispose();
    throw e;
  }
}

/** The guided inpainting UNet: ε from [x, mask, masked latents] per batch row, then CFG. */
export function inpaintDenoiser(sd: StableDiffusion, conditioning: Conditioning, c: InpaintConditioning): Denoise<Tensor> {
  if (sd.unet.inChannels !== 9) throw new UsageError(`the inpainting conditioning needs a 9-channel UNet; this model's has ${sd.unet.inChannels}`);
  const { context, guidance } = conditioning;
  const batch = context.shape[0]!;
  return (x, t, index) => {
    const [, , h = 0, w = 0] = x.shape;
    if (c.mask.shape[2] !== h || c.mask.shape[3] !== w) throw new RangeError(`inpainting mask [${c.mask.shape}] does not match latents [${x.shape}]`);
    using input = Tensor.empty(sd.backend, "f32", [batch, 9, h, w]);
    const row = 9 * h * w * 4;
    for (let b = 0; b < batch; b++) {
      let at = b * row;
      for (const part of [x, c.mask, c.maskedLatents]) {
        sd.backend.copy(input.storage, at, part.storage, part.byteOffset, part.byteLength);
        at += part.byteLength;
      }
    }
    const eps = sd.unet.predict(input, t, context, {}, { index });
    // condition() batches [uncond; cond] exactly when guidance > 1
    if (batch === 1) return eps;
    using both = eps;
    using uncond = both.slice(0, 1);
    using cond = both.slice(1, 2);
    return axpby(1 - guidance, uncond, guidance, cond);
  };
}
