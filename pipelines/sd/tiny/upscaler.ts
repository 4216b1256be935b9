/**
 * The tiny SD x4 upscaler (`tiny-upscaler`): a UNet and a ×4 VAE decoder shaped like
 * stabilityai/stable-diffusion-x4-upscaler run by diffusers' (Onnx)StableDiffusionUpscalePipeline.
 *
 * What the real layout is (diffusers' OnnxStableDiffusionUpscalePipeline and
 * StableDiffusionUpscalePipeline, read through the search tools): the UNet gets `sample` =
 * concat(scaled latents [B,4,h,w], noise-augmented low-res image [B,3,h,w] in [−1, 1]) — 7
 * channels, the latents at the LOW-RES pixel size —, `timestep` passed as `np.array([t])`,
 * `encoder_hidden_states`, and `class_labels` = the augmentation noise level as int64 [B]
 * (repeated for the CFG batch; the UNet embeds it with num_class_embeds = 1000). The low-res
 * image is noised by a separate DDPM `low_res_scheduler` (add_noise at that level, default 20,
 * at most max_noise_level = 350). The VAE decoder gets latents / 0.08333 and gives 4× the size.
 * The main scheduler predicts v.
 * Assumed (not found written down): the folder names — optimum has no upscaler export, so we
 * take the optimum layout of the other pipelines (unet/, vae_decoder/, text_encoder/,
 * tokenizer/, scheduler/) plus low_res_scheduler/ as diffusers saves it; both schedules
 * scaled_linear 0.0001…0.02 over 1000 steps (the x4 model's configs as we remember them);
 * rank-1 float timestep.
 *
 * Weight design, as for the tiny UNet (unet.ts): the prediction follows a fixed prior,
 * x̂₀ = B(E(image)) + U, where E inverts the decoder's colour path per pixel (atanh, the mixing
 * matrix's pseudo-inverse), B is a 3×3 blur that softens the augmentation noise, and U is a
 * small random-UNet term (conv_in sees all 7 channels; one self/cross-attention block at ÷8,
 * where the time + noise-level embedding enters). The output is v = a·ε − s·x̂₀ with
 * ε = (x − a·x̂₀)/s, so the decode of the result is the low-res picture upscaled (bilinear
 * ×4, like the tiny VAE's ×8) with a faint prompt- and seed-dependent texture.
 */
import { conv, groupNorm, silu } from "./layers.ts";
import { Net, timestepTables, type ValueRef } from "./net.ts";
import { resnet, timeEmbedding, transformer2d, UNET_SHAPE, type UnetContext, downsample, upsample } from "./unet-blocks.ts";
import { convIn, UNET_GAINS } from "./unet.ts";
import { COLOUR_GAIN, COLOUR_MIX, mixPseudoInverse } from "./vae.ts";
import type { Rng } from "../random.ts";
import { cumulativeAlphas, makeBetas } from "../schedulers/noise-schedule.ts";

export const UPSCALER_VAE_SCALING_FACTOR = 0.08333;
export const UPSCALER_NUM_CLASS_EMBEDS = 1000;
/** β range of both the main and the low-res schedule (scaled_linear). */
export const UPSCALER_BETAS = { start: 0.0001, end: 0.02 } as const;
/** Gain of the random term U: 0.25 recoloured the picture (MAD 30 vs the low-res one, 64→256); 0.08 keeps it (MAD 12, 0 gives 2.7). */
const UPSCALER_OUT_GAIN = 0.08;
const TEXTURE_GAIN = 0.06;

/** √ᾱ and √(1 − ᾱ) at a fractional timestep, linearly interpolated from 1001-entry tables. */
function signalAndNoise(net: Net, timestep: ValueRef): { a: ValueRef; s: ValueRef } {
  const scope = "/tiny_prior";
  const ac = cumulativeAlphas(makeBetas("scaled_linear", UPSCALER_BETAS.start, UPSCALER_BETAS.end, 1000));
  const at = (i: number) => ac[Math.min(i, 999)]!;
  const tables = {
    a: Float32Array.from({ length: 1001 }, (_, i) => Math.sqrt(at(i))),
    s: Float32Array.from({ length: 1001 }, (_, i) => Math.sqrt(1 - at(i))),
  };
  return timestepTables(net, scope, timestep, tables);
}

export function buildTinyUpscalerUnetNet(rng: Rng): Net {
  const net = new Net("tiny_upscaler_unet", rng);
  const g = net.g;
  const [c0, c1] = UNET_SHAPE.channels;
  const sample = g.input("sample", "f32", ["batch_size", 7, "height", "width"]);
  const timestep = g.input("timestep", "f32", ["steps"]);
  const context = g.input("encoder_hidden_states", "f32", ["batch_size", "sequence_length", UNET_SHAPE.contextDim]);
  const labels = g.input("class_labels", "i64", ["batch_size"]);
  const classTable = net.normal("class_embedding.weight", [UPSCALER_NUM_CLASS_EMBEDS, UNET_SHAPE.timeEmbedDim], 0.5);
  const classEmb = net.op("/class_embedding", "Gather", [classTable, labels], { axis: 0 });
  const temb = net.op("", "Add", [timeEmbedding(net, sample, timestep), classEmb]);
  const u: UnetContext = { net, temb, context, gains: UNET_GAINS };

  // Random UNet-shaped term: full-resolution resnet, attention at ÷8, back up, skip added.
  const h0 = convIn(net, sample, c0, 7);
  const skip = resnet(u, "/down_blocks.0/resnets.0", h0, c0, c0);
  let h = downsample(u, "/down_blocks.0", skip, c0);
  h = downsample(u, "/down_blocks.1", resnet(u, "/down_blocks.1/resnets.0", h, c0, c1), c1);
  h = downsample(u, "/down_blocks.2", h, c1);
  h = transformer2d(u, "/mid_block/attentions.0", resnet(u, "/mid_block/resnets.0", h, c1, c1), c1);
  for (const i of [0, 1, 2]) h = upsample(u, `/up_blocks.${i}`, h, c1);
  h = net.op("", "Add", [conv(net, "/up_blocks.2/conv_shortcut", h, c1, c0, { kernel: 1 }), skip]);
  h = silu(net, "/conv_act", groupNorm(net, "/conv_norm_out", h, c0, UNET_SHAPE.groups));
  const unetOut = conv(net, "/conv_out", h, c0, 4, { gain: UPSCALER_OUT_GAIN, zeroMean: true, bias: false });

  // Prior: x̂₀ = blur(E(image)) + U, predicted as v.
  const scope = "/tiny_prior";
  const x = net.op(scope, "Slice", [sample, net.ints([0]), net.ints([4]), net.ints([1])]);
  const image = net.op(scope, "Slice", [sample, net.ints([4]), net.ints([7]), net.ints([1])]);
  const pinv = mixPseudoInverse();
  const unmix = new Float32Array(12);
  for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) unmix[k * 3 + j] = pinv[k]![j]! / COLOUR_GAIN;
  const linear = net.op(scope, "Atanh", [net.op(scope, "Clip", [image, net.floats([-0.97]), net.floats([0.97])])]);
  const encoded = net.op(scope, "Conv", [linear, net.fixed("tiny_prior.unmix.weight", unmix, [4, 3, 1, 1])], { kernel_shape: [1, 1] });
  const soft = net.op(scope, "AveragePool", [encoded], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1], count_include_pad: 0 });
  const x0 = net.op(scope, "Add", [soft, unetOut]);
  const { a, s } = signalAndNoise(net, timestep);
  const eps = net.op(scope, "Div", [net.op(scope, "Sub", [x, net.op(scope, "Mul", [x0, a])]), s]);
  const v = net.op(scope, "Sub", [net.op(scope, "Mul", [eps, a]), net.op(scope, "Mul", [x0, s])]);
  g.output(v, "f32", ["batch_size", 4, "height", "width"], "out_sample");
  return net;
}

/** ×4 decoder: `latent_sample` (= latents / 0.08333) [B,4,h,w] → `sample` [B,3,4h,4w]. */
export function buildTinyUpscalerVaeDecoderNet(rng: Rng): Net {
  const net = new Net("tiny_upscaler_vae_decoder", rng);
  const g = net.g;
  const z = g.input("latent_sample", "f32", ["batch_size", 4, "latent_height", "latent_width"]);
  const unscaled = net.op("/colour", "Mul", [z, net.floats([UPSCALER_VAE_SCALING_FACTOR])]);
  const smooth = net.op("/colour", "Resize", [unscaled, null, net.floats([1, 1, 4, 4], [4])], { mode: "linear", coordinate_transformation_mode: "half_pixel" });
  const mix = new Float32Array(12);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) mix[r * 4 + c] = COLOUR_GAIN * COLOUR_MIX[r]![c]!;
  const colour = net.op("/colour/mix", "Conv", [smooth, net.fixed("colour.mix.weight", mix, [3, 4, 1, 1])], { kernel_shape: [1, 1] });

  let h = conv(net, "/post_quant_conv", unscaled, 4, 4, { kernel: 1 });
  h = conv(net, "/decoder/conv_in", h, 4, 16);
  const widths = [16, 16, 8];
  for (let i = 0; i < 2; i++) {
    const scope = `/decoder/up_blocks.${i}/upsamplers.0`;
    const up = net.op(scope, "Resize", [h, null, net.floats([1, 1, 2, 2], [4])], { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" });
    h = conv(net, `${scope}/conv`, up, widths[i]!, widths[i + 1]!);
  }
  h = silu(net, "/decoder/conv_act", groupNorm(net, "/decoder/conv_norm_out", h, 8, 4, 1e-6));
  const texture = conv(net, "/decoder/conv_out", h, 8, 3, { gain: TEXTURE_GAIN });
  g.output(net.op("/colour", "Tanh", [net.op("/colour", "Add", [colour, texture])]), "f32", ["batch_size", 3, "height", "width"], "sample");
  return net;
}
