/**
 * The tiny AutoencoderKL halves, optimum ≥ 1.23 I/O: vae_encoder `sample` [B,3,H,W] in [−1, 1] →
 * `latent_parameters` [B,8,H/8,W/8] (mean, logvar); vae_decoder `latent_sample` [B,4,h,w]
 * (= latents / 0.18215) → `sample` [B,3,8h,8w] in (−1, 1).
 *
 * Colour by design: the decoder's main path upsamples the latent smoothly (bilinear ×8) and mixes
 * its 4 channels into RGB with a fixed matrix whose columns are four distinct hues (red/cyan,
 * green/magenta, blue/yellow, light/dark), then tanh, so any smooth latent of unit size decodes to
 * saturated colour fields. A random VAE-shaped path (post_quant_conv, conv_in, a resnet, three
 * nearest+conv upsamplers, conv_out) adds a faint texture on top. The encoder inverts that main
 * path (atanh, 8×8 average, the mixing matrix's pseudo-inverse), so img2img keeps the picture's
 * layout; its random path only nudges the mean, and logvar sits near −10 (std ≈ 0.007) like SD's.
 */
import { conv, groupNorm, silu } from "./layers.ts";
import { Net, type ValueRef } from "./net.ts";
import type { Rng } from "../random.ts";

export const VAE_SCALING_FACTOR = 0.18215;

/** Latent channel → RGB, as columns: red/cyan, green/magenta, blue/yellow, light/dark. */
export const COLOUR_MIX = [
  [0.9, -0.4, -0.4, 0.45],
  [-0.35, 0.85, -0.25, 0.45],
  [-0.55, -0.35, 0.9, 0.35],
];
/** Gain before tanh: a unit-size latent lands at ±1.5, well into tanh's saturated shoulder. */
export const COLOUR_GAIN = 1.4;
/** Weight of the random decoder path before tanh. */
const DECODER_TEXTURE_GAIN = 0.06;
const ENCODER_RANDOM_GAIN = 0.05;
const LOGVAR = -10;

const GROUPS = 4;

function vaeResnet(net: Net, scope: string, x: ValueRef, channels: number): ValueRef {
  let h = conv(net, `${scope}/conv1`, silu(net, `${scope}/nonlinearity`, groupNorm(net, `${scope}/norm1`, x, channels, GROUPS, 1e-6)), channels, channels);
  h = conv(net, `${scope}/conv2`, silu(net, `${scope}/nonlinearity`, groupNorm(net, `${scope}/norm2`, h, channels, GROUPS, 1e-6)), channels, channels, { gain: 0.7 });
  return net.op(scope, "Add", [x, h]);
}

export function buildTinyVaeDecoderNet(rng: Rng): Net {
  const net = new Net("tiny_vae_decoder", rng);
  const g = net.g;
  const z = g.input("latent_sample", "f32", ["batch_size", 4, "latent_height", "latent_width"]);

  // Main path: smooth ×8, fixed colour mixing.
  const unscaled = net.op("/colour", "Mul", [z, net.floats([VAE_SCALING_FACTOR])]);
  const smooth = net.op("/colour", "Resize", [unscaled, null, net.floats([1, 1, 8, 8], [4])], {
    mode: "linear",
    coordinate_transformation_mode: "half_pixel",
  });
  const mix = new Float32Array(12);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) mix[r * 4 + c] = COLOUR_GAIN * COLOUR_MIX[r]![c]!;
  const colour = net.op("/colour/mix", "Conv", [smooth, net.fixed("colour.mix.weight", mix, [3, 4, 1, 1])], { kernel_shape: [1, 1] });

  // Random VAE-shaped path.
  let h = conv(net, "/post_quant_conv", unscaled, 4, 4, { kernel: 1 });
  h = conv(net, "/decoder/conv_in", h, 4, 32);
  h = vaeResnet(net, "/decoder/mid_block/resnets.0", h, 32);
  const widths = [32, 32, 16, 8];
  for (let i = 0; i < 3; i++) {
    const scope = `/decoder/up_blocks.${i}/upsamplers.0`;
    const up = net.op(scope, "Resize", [h, null, net.floats([1, 1, 2, 2], [4])], { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" });
    h = conv(net, `${scope}/conv`, up, widths[i]!, widths[i + 1]!);
  }
  h = silu(net, "/decoder/conv_act", groupNorm(net, "/decoder/conv_norm_out", h, 8, GROUPS, 1e-6));
  const texture = conv(net, "/decoder/conv_out", h, 8, 3, { gain: DECODER_TEXTURE_GAIN });

  const image = net.op("/colour", "Tanh", [net.op("/colour", "Add", [colour, texture])]);
  g.output(image, "f32", ["batch_size", 3, "height", "width"], "sample");
  return net;
}

/** Moore–Penrose pseudo-inverse of the 3×4 mixing matrix: Mᵀ(MMᵀ)⁻¹, in float64. */
export function mixPseudoInverse(): number[][] {
  const m = COLOUR_MIX;
  const mmt = [0, 1, 2].map((i) => [0, 1, 2].map((j) => m[i]!.reduce((acc, v, k) => acc + v * m[j]![k]!, 0)));
  const [a, b, c] = mmt as [number[], number[], number[]];
  const det = a[0]! * (b[1]! * c[2]! - b[2]! * c[1]!) - a[1]! * (b[0]! * c[2]! - b[2]! * c[0]!) + a[2]! * (b[0]! * c[1]! - b[1]! * c[0]!);
  const inv = [
    [b[1]! * c[2]! - b[2]! * c[1]!, a[2]! * c[1]! - a[1]! * c[2]!, a[1]! * b[2]! - a[2]! * b[1]!],
    [b[2]! * c[0]! - b[0]! * c[2]!, a[0]! * c[2]! - a[2]! * c[0]!, a[2]! * b[0]! - a[0]! * b[2]!],
    [b[0]! * c[1]! - b[1]! * c[0]!, a[1]! * c[0]! - a[0]! * c[1]!, a[0]! * b[1]! - a[1]! * b[0]!],
  ].map((row) => row.map((v) => v / det));
  return [0, 1, 2, 3].map((k) => [0, 1, 2].map((j) => [0, 1, 2].reduce((acc, i) => acc + m[i]![k]! * inv[i]![j]!, 0)));
}

export function buildTinyVaeEncoderNet(rng: Rng): Net {
  const net = new Net("tiny_vae_encoder", rng);
  const g = net.g;
  const x = g.input("sample", "f32", ["batch_size", 3, "height", "width"]);

  // Main path: undo tanh, average each 8×8 patch, unmix colours, undo the scaling factor.
  const clipped = net.op("/colour", "Clip", [x, net.floats([-0.97]), net.floats([0.97])]);
  const pooled = net.op("/colour", "AveragePool", [net.op("/colour", "Atanh", [clipped])], { kernel_shape: [8, 8], strides: [8, 8] });
  const pinv = mixPseudoInverse();
  const unmix = new Float32Array(8 * 3);
  const bias = new Float32Array(8);
  for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) unmix[k * 3 + j] = pinv[k]![j]! / (COLOUR_GAIN * VAE_SCALING_FACTOR);
  bias.fill(LOGVAR, 4);
  const params = net.op("/colour/unmix", "Conv", [pooled, net.fixed("colour.unmix.weight", unmix, [8, 3, 1, 1]), net.fixed("colour.unmix.bias", bias, [8])], { kernel_shape: [1, 1] });

  // Random VAE-shaped path: conv_in, three stride-2 downsamplers, a resnet, conv_out, quant_conv.
  let h = conv(net, "/encoder/conv_in", x, 3, 8);
  const widths = [8, 16, 32, 32];
  for (let i = 0; i < 3; i++) h = conv(net, `/encoder/down_blocks.${i}/downsamplers.0/conv`, h, widths[i]!, widths[i + 1]!, { stride: 2 });
  h = vaeResnet(net, "/encoder/mid_block/resnets.0", h, 32);
  h = silu(net, "/encoder/conv_act", groupNorm(net, "/encoder/conv_norm_out", h, 32, GROUPS, 1e-6));
  h = conv(net, "/encoder/conv_out", h, 32, 8, { gain: ENCODER_RANDOM_GAIN / VAE_SCALING_FACTOR });
  h = conv(net, "/quant_conv", h, 8, 8, { kernel: 1 });

  g.output(net.op("/colour", "Add", [params, h]), "f32", ["batch_size", 8, "latent_height", "latent_width"], "latent_parameters");
  return net;
}
