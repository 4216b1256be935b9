/**
 * The tiny ControlNetModel as community converters export it (reference/sd-onnx-layout.md §4.2):
 * inputs `sample`, `timestep` ([steps], 1-D as in those exports), `encoder_hidden_states`,
 * `controlnet_cond` [B,3,8h,8w] in [0, 1]; outputs by position: the 6 down residuals
 * (`down_block_0…5`, shaped like the tiny UNet's skips) then `mid_block_additional_residual`.
 *
 * Structure: the conditioning embedding (convs with three stride-2 steps, ÷8) added to conv_in's
 * features, a copy of the UNet's down/mid blocks (own weights), and 1×1 "zero convs". A trained
 * ControlNet starts those at zero; here they are small but not zero, so the control image visibly
 * moves the picture (through the UNet's U term) without swamping it.
 */
import { conv, silu } from "./layers.ts";
import { Net } from "./net.ts";
import { encoder, timeEmbedding, UNET_SHAPE, type UnetContext } from "./unet-blocks.ts";
import { UNET_GAINS } from "./unet.ts";
import type { Rng } from "../random.ts";

/** Gain of the controlnet_down_blocks / controlnet_mid_block 1×1 convs. */
export const CONTROL_OUT_GAIN = 1.0;
/**
 * Gain of each conditioning-embedding conv: without norms between them, SiLU roughly halves the
 * signal per layer, so unit gains would leave the control image ~1/100 of the features.
 */
const COND_EMBED_GAIN = 2.0;

export function buildTinyControlNetNet(rng: Rng): Net {
  const net = new Net("tiny_controlnet", rng);
  const g = net.g;
  const [c0, , c2] = UNET_SHAPE.channels;
  const sample = g.input("sample", "f32", ["batch_size", 4, "height", "width"]);
  const timestep = g.input("timestep", "f32", ["steps"]);
  const context = g.input("encoder_hidden_states", "f32", ["batch_size", "sequence_length", UNET_SHAPE.contextDim]);
  const cond = g.input("controlnet_cond", "f32", ["batch_size", 3, "image_height", "image_width"]);
  const u: UnetContext = { net, temb: timeEmbedding(net, sample, timestep), context, gains: UNET_GAINS };

  const embed = "/controlnet_cond_embedding";
  let e = silu(net, `${embed}/conv_in`, conv(net, `${embed}/conv_in`, cond, 3, 8, { gain: COND_EMBED_GAIN }));
  const steps: [number, number, number][] = [[8, 8, 1], [8, 16, 2], [16, 16, 1], [16, 32, 2], [32, 32, 1], [32, 32, 2]];
  steps.forEach(([cin, cout, stride], i) => {
    e = silu(net, `${embed}/blocks.${i}`, conv(net, `${embed}/blocks.${i}`, e, cin, cout, { stride, gain: COND_EMBED_GAIN }));
  });
  e = conv(net, `${embed}/conv_out`, e, 32, c0, { gain: COND_EMBED_GAIN });

  const h0 = net.op("", "Add", [conv(net, "/conv_in", sample, 4, c0), e]);
  const { skips, skipChannels, mid } = encoder(u, h0);
  const latentDims = [["height", "width"], ["height", "width"], ["height2", "width2"], ["height2", "width2"], ["height4", "width4"], ["height4", "width4"]];
  skips.forEach((skip, i) => {
    const c = skipChannels[i]!;
    const out = conv(net, `/controlnet_down_blocks.${i}`, skip, c, c, { kernel: 1, gain: CONTROL_OUT_GAIN });
    g.output(out, "f32", ["batch_size", c, ...latentDims[i]!], `down_block_${i}`);
  });
  const midOut = conv(net, "/controlnet_mid_block", mid, c2, c2, { kernel: 1, gain: CONTROL_OUT_GAIN });
  g.output(midOut, "f32", ["batch_size", c2, "height4", "width4"], "mid_block_additional_residual");
  return net;
}
