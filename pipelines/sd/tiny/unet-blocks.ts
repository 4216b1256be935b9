/**
 * UNet2DConditionModel's pieces at tiny widths — ResnetBlock2D, Transformer2DModel (SD 1.x style:
 * 1×1 proj_in/proj_out, one BasicTransformerBlock with attn1, attn2 and a GEGLU feed-forward),
 * down/upsamplers, the sinusoidal time embedding — and the encoder half (conv_in, down blocks,
 * mid block) that the UNet and the ControlNet share in structure.
 */
import { attention, conv, gelu, groupNorm, layerNorm, linear, silu } from "./layers.ts";
import type { Net, ValueRef } from "./net.ts";

/** Widths of the tiny UNet (and of the ControlNet's copy of its encoder). */
export const UNET_SHAPE = {
  /** block_out_channels of down_blocks.0/1/2 (attention in the first two). */
  channels: [32, 64, 64],
  groups: 8,
  heads: 2,
  /** cross_attention_dim = the text encoder's hidden size. */
  contextDim: 64,
  timeProjDim: 32,
  timeEmbedDim: 128,
} as const;

/** How strongly each random path writes into the residual stream (see unet.ts for the choice). */
export interface BlockGains {
  readonly resnet: number;
  readonly attnQk: number;
  readonly attnOut: number;
  readonly crossQk: number;
  readonly crossOut: number;
}

export interface UnetContext {
  readonly net: Net;
  readonly temb: ValueRef;
  readonly context: ValueRef;
  readonly gains: BlockGains;
}

const S = UNET_SHAPE;

/** ResnetBlock2D: norm1 → SiLU → conv1 (+ time_emb_proj) → norm2 → SiLU → conv2, plus the shortcut. */
export function resnet(u: UnetContext, scope: string, x: ValueRef, cin: number, cout: number): ValueRef {
  const { net } = u;
  let h = silu(net, `${scope}/nonlinearity`, groupNorm(net, `${scope}/norm1`, x, cin, S.groups));
  h = conv(net, `${scope}/conv1`, h, cin, cout);
  const t = linear(net, `${scope}/time_emb_proj`, silu(net, `${scope}/nonlinearity`, u.temb), S.timeEmbedDim, cout);
  h = net.op(scope, "Add", [h, net.op(scope, "Unsqueeze", [t, net.ints([2, 3])])]);
  h = silu(net, `${scope}/nonlinearity`, groupNorm(net, `${scope}/norm2`, h, cout, S.groups));
  h = conv(net, `${scope}/conv2`, h, cout, cout, { gain: u.gains.resnet });
  const shortcut = cin === cout ? x : conv(net, `${scope}/conv_shortcut`, x, cin, cout, { kernel: 1 });
  return net.op(scope, "Add", [shortcut, h]);
}

/** Transformer2DModel with one BasicTransformerBlock (self-attn, cross-attn, GEGLU feed-forward). */
export function transformer2d(u: UnetContext, scope: string, x: ValueRef, channels: number): ValueRef {
  const { net, gains } = u;
  const shape = net.op(scope, "Shape", [x]);
  let h = groupNorm(net, `${scope}/norm`, x, channels, S.groups, 1e-6);
  h = conv(net, `${scope}/proj_in`, h, channels, channels, { kernel: 1 });
  h = net.op(scope, "Reshape", [net.op(scope, "Transpose", [h], { perm: [0, 2, 3, 1] }), net.ints([0, -1, channels])]);
  const block = `${scope}/transformer_blocks.0`;
  const self = attention(net, `${block}/attn1`, layerNorm(net, `${block}/norm1`, h, channels), channels, null, {
    heads: S.heads,
    qkGain: gains.attnQk,
    outGain: gains.attnOut,
  });
  h = net.op(block, "Add", [self, h]);
  const cross = attention(net, `${block}/attn2`, layerNorm(net, `${block}/norm2`, h, channels), channels, u.context, {
    heads: S.heads,
    contextChannels: S.contextDim,
    qkGain: gains.crossQk,
    outGain: gains.crossOut,
  });
  h = net.op(block, "Add", [cross, h]);
  h = net.op(block, "Add", [feedForward(net, `${block}/ff`, layerNorm(net, `${block}/norm3`, h, channels), channels), h]);
  const nhwc = net.op(scope, "Concat", [net.op(scope, "Gather", [shape, net.ints([0, 2, 3])], { axis: 0 }), net.ints([channels])], { axis: 0 });
  h = net.op(scope, "Transpose", [net.op(scope, "Reshape", [h, nhwc])], { perm: [0, 3, 1, 2] });
  h = conv(net, `${scope}/proj_out`, h, channels, channels, { kernel: 1 });
  return net.op(scope, "Add", [h, x]);
}

/** FeedForward with GEGLU: proj to 2·4C, hidden · gelu(gate), back to C. */
export function feedForward(net: Net, scope: string, x: ValueRef, channels: number): ValueRef {
  const inner = 4 * channels;
  const proj = linear(net, `${scope}/net.0/proj`, x, channels, 2 * inner);
  const geglu = `${scope}/net.0`;
  const hidden = net.op(geglu, "Slice", [proj, net.ints([0]), net.ints([inner]), net.ints([-1])]);
  const gate = net.op(geglu, "Slice", [proj, net.ints([inner]), net.ints([2 * inner]), net.ints([-1])]);
  const gated = net.op(geglu, "Mul", [hidden, gelu(net, geglu, gate)]);
  return linear(net, `${scope}/net.2`, gated, inner, channels, { gain: 0.5 });
}

export function downsample(u: UnetContext, scope: string, x: ValueRef, channels: number): ValueRef {
  return conv(u.net, `${scope}/downsamplers.0/conv`, x, channels, channels, { stride: 2 });
}

export function upsample(u: UnetContext, scope: string, x: ValueRef, channels: number): ValueRef {
  const up = u.net.op(`${scope}/upsamplers.0`, "Resize", [x, null, u.net.floats([1, 1, 2, 2], [4])], {
    mode: "nearest",
    coordinate_transformation_mode: "asymmetric",
    nearest_mode: "floor",
  });
  return conv(u.net, `${scope}/upsamplers.0/conv`, up, channels, channels);
}

/**
 * Timesteps(flip_sin_to_cos, shift 0) + TimestepEmbedding: the timestep (scalar or [1]) is
 * expanded to the sample's batch inside the graph, as diffusers does.
 */
export function timeEmbedding(net: Net, sample: ValueRef, timestep: ValueRef): ValueRef {
  const batch = net.op("", "Slice", [net.op("", "Shape", [sample]), net.ints([0]), net.ints([1]), net.ints([0])]);
  const t = net.op("", "Unsqueeze", [net.op("", "Expand", [timestep, batch]), net.ints([1])]);
  const half = S.timeProjDim / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const args = net.op("/time_proj", "Mul", [t, net.fixed("time_proj.freqs", freqs, [1, half])]);
  const proj = net.op("/time_proj", "Concat", [net.op("/time_proj", "Cos", [args]), net.op("/time_proj", "Sin", [args])], { axis: 1 });
  const h = silu(net, "/time_embedding/act", linear(net, "/time_embedding/linear_1", proj, S.timeProjDim, S.timeEmbedDim));
  return linear(net, "/time_embedding/linear_2", h, S.timeEmbedDim, S.timeEmbedDim);
}

export interface EncoderResult {
  /** Skip connections in diffusers' order (conv_in output first). */
  readonly skips: ValueRef[];
  readonly skipChannels: number[];
  readonly mid: ValueRef;
}

/**
 * down_blocks.0 (resnet + attention + downsampler), down_blocks.1 (same, wider), down_blocks.2
 * (resnet only), mid_block (resnet, attention, resnet), starting from the conv_in features.
 */
export function encoder(u: UnetContext, h0: ValueRef): EncoderResult {
  const [c0, c1, c2] = S.channels;
  const skips = [h0];
  const skipChannels: number[] = [c0];
  let h = h0;
  const keep = (x: ValueRef, c: number) => {
    skips.push(x);
    skipChannels.push(c);
  };
  h = transformer2d(u, "/down_blocks.0/attentions.0", resnet(u, "/down_blocks.0/resnets.0", h, c0, c0), c0);
  keep(h, c0);
  h = downsample(u, "/down_blocks.0", h, c0);
  keep(h, c0);
  h = transformer2d(u, "/down_blocks.1/attentions.0", resnet(u, "/down_blocks.1/resnets.0", h, c0, c1), c1);
  keep(h, c1);
  h = downsample(u, "/down_blocks.1", h, c1);
  keep(h, c1);
  h = resnet(u, "/down_blocks.2/resnets.0", h, c1, c2);
  keep(h, c2);
  h = resnet(u, "/mid_block/resnets.0", h, c2, c2);
  h = transformer2d(u, "/mid_block/attentions.0", h, c2);
  h = resnet(u, "/mid_block/resnets.1", h, c2, c2);
  return { skips, skipChannels, mid: h };
}
