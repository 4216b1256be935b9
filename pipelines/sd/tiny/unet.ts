/**
 * The tiny UNet2DConditionModel (optimum ≥ 1.24 I/O: `sample` [batch_size,4,height,width],
 * rank-0 float `timestep`, `encoder_hidden_states` [batch_size,sequence_length,64] → `out_sample`),
 * optionally taking ControlNet residuals (`down_block_0…5`, `mid_block_additional_residual`,
 * reference/sd-onnx-layout.md §4.2). Both variants draw the same weights from the same seed, so
 * with all-zero residuals they compute the same thing.
 *
 * Why untrained weights still denoise (the design the whole tiny model rests on):
 * random weights through a deep net give static or flat grey, so the UNet's output is
 *
 *   ε = (x − G(m(t)·x + a(t)·U)) / s(t)
 *
 * x = the latent (4 identity channels of conv_in), G = a fixed normalised blur (three 7×7
 * AveragePools, σ ≈ 3.5 latent pixels), U = the random UNet's conv_out (the prompt, the
 * attention and ControlNet residuals act through it), a = √ᾱ(t), s = √(1 − ᾱ(t)) and
 * m = ᾱc²/(ᾱc² + 1 − ᾱ), all interpolated from tables of the SD 1.x schedule. The x̂₀ this implies,
 * (x − s·ε)/a = G(m·x/a + U), is the Gaussian (Wiener) denoiser for smooth "data" of spatial scale
 * G and per-mode amplitude c, shifted by the smooth field G(U): high frequencies are treated as
 * noise and removed, low frequencies of the starting noise grow into large blobs (seed-dependent),
 * and U adds prompt-dependent colour and layout. c bounds the blob amplitude so that 8 or 50 steps
 * give latents of similar size; with CFG 7.5 the cond − uncond difference of U is amplified, so the
 * cross-attention output gain is set to make that difference visible but not saturating.
 *
 * Tuned by eye on 8-step DDIM, CFG 7.5, 256×256 contact sheets (several seeds × prompts):
 * crossOut 1.2 let the prompt swamp the seed (flat single-hue images, latent std 3–5); 0.2 keeps
 * the seed's blob layout while prompts recolour it (latent std ≈ 0.7–1.6, final latents ~15×
 * smoother than the starting noise by mean neighbour difference). conv_out is zero-mean per
 * channel, else SiLU's positive mean gave every image the same magenta cast. Three blur passes
 * give 2–4 blobs across a 32×32 latent. Cost: batch 2 at 32×32 ≈ 40 ms on 2 threads.
 */
import { conv, groupNorm, silu } from "./layers.ts";
import { Net, timestepTables, type ValueRef } from "./net.ts";
import { encoder, resnet, transformer2d, UNET_SHAPE, type UnetContext, upsample, timeEmbedding, type BlockGains } from "./unet-blocks.ts";
import type { Rng } from "../random.ts";
import { cumulativeAlphas, makeBetas } from "../schedulers/noise-schedule.ts";

/** Per-mode amplitude of the blobs the prior pulls out of the noise (see the file comment). */
export const PRIOR_AMPLITUDE = 24;
/** Gain of conv_out, i.e. of U in x̂₀ units. */
export const UNET_OUT_GAIN = 0.6;
/** Passes of the 7×7 box filter that make G. */
const BLUR_PASSES = 3;

export const UNET_GAINS: BlockGains = { resnet: 0.7, attnQk: 1.5, attnOut: 0.7, crossQk: 2.0, crossOut: 0.2 };

/** The SD 1.x training schedule (scaled_linear, 0.00085 … 0.012, 1000 steps): ᾱ(t) for t = 0…999. */
export function sdAlphasCumprod(): Float64Array {
  return cumulativeAlphas(makeBetas("scaled_linear", 0.00085, 0.012, 1000));
}

/** Per-timestep gains of the prior: m, a = √ᾱ and 1/s, one entry past the end for interpolation. */
export function priorTables(): { m: Float32Array; a: Float32Array; invS: Float32Array } {
  const ac = sdAlphasCumprod();
  const c2 = PRIOR_AMPLITUDE * PRIOR_AMPLITUDE;
  const m = new Float32Array(1001);
  const a = new Float32Array(1001);
  const invS = new Float32Array(1001);
  for (let i = 0; i <= 1000; i++) {
    const abar = ac[Math.min(i, 999)]!;
    m[i] = (abar * c2) / (abar * c2 + 1 - abar);
    a[i] = Math.sqrt(abar);
    invS[i] = 1 / Math.sqrt(1 - abar);
  }
  return { m, a, invS };
}

/** Linear interpolation of the prior tables at a (possibly fractional) scalar timestep. */
function priorGains(net: Net, timestep: ValueRef): { m: ValueRef; a: ValueRef; invS: ValueRef } {
  return timestepTables(net, "/tiny_prior", timestep, priorTables());
}

/** G: a normalised blur (AveragePool ignores the padding, so edges keep their level). */
export function smoothBlur(net: Net, scope: string, x: ValueRef, passes = BLUR_PASSES): ValueRef {
  let h = x;
  for (let i = 0; i < passes; i++) {
    h = net.op(scope, "AveragePool", [h], { kernel_shape: [7, 7], pads: [3, 3, 3, 3], strides: [1, 1], count_include_pad: 0 });
  }
  return h;
}

/**
 * conv_in whose first 4 output channels copy the latent exactly (the prior reads x there); the
 * other channels are ordinary random features.
 */
export function convIn(net: Net, sample: ValueRef, cout: number, cin = 4): ValueRef {
  const per = cin * 9;
  const weight = net.rng.fork(0x636f6e76).normal(new Float32Array(cout * per));
  const std = 1 / Math.sqrt(per);
  for (let i = 0; i < weight.length; i++) weight[i]! *= std;
  const bias = new Float32Array(cout);
  for (let c = 0; c < 4; c++) {
    weight.fill(0, c * per, (c + 1) * per);
    weight[c * per + c * 9 + 4] = 1;
  }
  for (let c = 4; c < cout; c++) bias[c] = 0.02 * (((c * 7) % 5) - 2);
  return net.op("/conv_in", "Conv", [sample, net.fixed("conv_in.weight", weight, [cout, cin, 3, 3]), net.fixed("conv_in.bias", bias, [cout])], {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
    strides: [1, 1],
  });
}

export interface TinyUnetOptions {
  /** Take ControlNet residuals as extra inputs (layout §4.2). */
  readonly controlResiduals?: boolean;
  /**
   * SD-inpainting shape (layout §2.2): `sample` has 9 channels, the noisy latents, the mask
   * (1 = regenerate) and the masked-image latents. Where the mask is 0 the prior's clean-latent
   * estimate is the masked-image latent itself, so the kept region reproduces the picture; where
   * it is 1 the ordinary prior applies.
   */
  readonly inpaint?: boolean;
}

/** Builds the UNet graph; `rng` is the model's stream (the same for both variants). */
export function buildTinyUnetNet(rng: Rng, options: TinyUnetOptions = {}): Net {
  const net = new Net("tiny_unet", rng);
  const g = net.g;
  const [c0, c1, c2] = UNET_SHAPE.channels;
  const sample = g.input("sample", "f32", ["batch_size", options.inpaint ? 9 : 4, "height", "width"]);
  const timestep = g.input("timestep", "f32", []);
  const context = g.input("encoder_hidden_states", "f32", ["batch_size", "sequence_length", UNET_SHAPE.contextDim]);
  const temb = timeEmbedding(net, sample, timestep);
  const u: UnetContext = { net, temb, context, gains: UNET_GAINS };

  const h0 = convIn(net, sample, c0, options.inpaint ? 9 : 4);
  const { skips, skipChannels, mid } = encoder(u, h0);
  let h = mid;
  if (options.controlResiduals) {
    const dims = ["height", "height", "height2", "height2", "height4", "height4"];
    const wdims = ["width", "width", "width2", "width2", "width4", "width4"];
    skips.forEach((skip, i) => {
      const r = g.input(`down_block_${i}`, "f32", ["batch_size", skipChannels[i]!, dims[i]!, wdims[i]!]);
      skips[i] = net.op("", "Add", [skip, r]);
    });
    const r = g.input("mid_block_additional_residual", "f32", ["batch_size", c2, "height4", "width4"]);
    h = net.op("", "Add", [h, r]);
  }

  const take = (): [ValueRef, number] => [skips.pop() as ValueRef, skipChannels.pop() as number];
  const cat = (scope: string, x: ValueRef, cx: number): [ValueRef, number] => {
    const [skip, cs] = take();
    return [net.op(scope, "Concat", [x, skip], { axis: 1 }), cx + cs];
  };
  // up_blocks.0: UpBlock2D (no attention), mirrors down_blocks.2.
  let [x, cx] = cat("/up_blocks.0", h, c2);
  h = resnet(u, "/up_blocks.0/resnets.0", x, cx, c2);
  [x, cx] = cat("/up_blocks.0", h, c2);
  h = upsample(u, "/up_blocks.0", resnet(u, "/up_blocks.0/resnets.1", x, cx, c2), c2);
  // up_blocks.1 and .2: CrossAttnUpBlock2D.
  for (const [block, cout, last] of [["/up_blocks.1", c1, false], ["/up_blocks.2", c0, true]] as const) {
    let cin: number = block === "/up_blocks.1" ? c2 : c1;
    for (let j = 0; j < 2; j++) {
      [x, cx] = cat(block, h, cin);
      h = transformer2d(u, `${block}/attentions.${j}`, resnet(u, `${block}/resnets.${j}`, x, cx, cout), cout);
      cin = cout;
    }
    if (!last) h = upsample(u, block, h, cout);
  }
  h = silu(net, "/conv_act", groupNorm(net, "/conv_norm_out", h, c0, UNET_SHAPE.groups));
  const unetOut = conv(net, "/conv_out", h, c0, 4, { gain: UNET_OUT_GAIN, zeroMean: true, bias: false });

  const scope = "/tiny_prior";
  const { m, a, invS } = priorGains(net, timestep);
  const latent = net.op(scope, "Slice", [h0, net.ints([0]), net.ints([4]), net.ints([1])]);
  const target = net.op(scope, "Add", [net.op(scope, "Mul", [latent, m]), net.op(scope, "Mul", [unetOut, a])]);
  let blurred = smoothBlur(net, scope, target);
  if (options.inpaint) {
    // a·x̂₀ = a·masked where the mask is 0: blurred + (1 − mask)·(a·masked − blurred)
    const inpaint = "/tiny_inpaint";
    const mask = net.op(inpaint, "Slice", [sample, net.ints([4]), net.ints([5]), net.ints([1])]);
    const masked = net.op(inpaint, "Slice", [sample, net.ints([5]), net.ints([9]), net.ints([1])]);
    const keep = net.op(inpaint, "Sub", [net.floats([1]), mask]);
    const pull = net.op(inpaint, "Sub", [net.op(inpaint, "Mul", [masked, a]), blurred]);
    blurred = net.op(inpaint, "Add", [blurred, net.op(inpaint, "Mul", [keep, pull])]);
  }
  const eps = net.op(scope, "Mul", [net.op(scope, "Sub", [latent, blurred]), invS]);
  g.output(eps, "f32", ["batch_size", 4, "height", "width"], "out_sample");
  return net;
}
