/**
 * The tiny video UNet: UNet3DConditionModel-shaped (diffusers' block and module names, with
 * `temp_attentions` beside every spatial `attentions`), taking VideoCrafter's inputs:
 *
 *   sample                [batch_size, 4, frames, height, width]   f32
 *   timestep              [batch_frames] int64, one per (clip, frame) in row order (b, t)
 *                         ([batch_size, frames] with `timesteps: "grid"`; [batch_size] with "batch")
 *   encoder_hidden_states [batch_size, sequence_length, 64]        f32, repeated per frame inside
 *   fps                   [batch_size] int64: sinusoid → MLP, added to every frame's time embedding
 *   image_embeds          [batch_size, image_tokens, 64]           f32: a second cross-attention
 *                         branch (attn_ip, VideoCrafter's to_k_ip/to_v_ip); zeros add exactly nothing
 *   → out_sample          [batch_size, 4, frames, height, width]   ε
 *
 * Spatial layers see the frames as a batch of images [B·T, C, H, W]; temporal attention sees, at
 * every pixel, the sequence of frames [B·H·W, T, C] (attn1 and attn2 both attend over frames, as
 * VideoCrafter 2's temporal transformer does; no positional encoding).
 *
 * Why it denoises: the prior of the tiny image UNet (tiny/unet.ts), per frame with its own
 * timestep, ε = (x − a·G(ẽ))/s, where e = m·x/a + U is the frame's own estimate of its clean
 * latent and ẽ = (1 − λ)·e + λ·ê mixes in ê, the precision-weighted (ᾱ/(1 − ᾱ)) mean of e over the
 * frame and its two neighbours. So a frame in a noisy part of a window borrows the layout of its
 * cleaner neighbours: FIFO's queue then grows each new frame out of the ones before it, and the
 * video drifts instead of flickering. λ = 0 (`temporalGain: 0`, which also zeroes every temporal
 * attention's proj_out) makes frames independent: each is then the tiny image UNet at its own t.
 */
import { attention, conv, groupNorm, layerNorm, linear, silu } from "../layers.ts";
import { Net, timestepTables, type ValueRef } from "../net.ts";
import { downsample, feedForward, resnet, UNET_SHAPE, type UnetContext, upsample } from "../unet-blocks.ts";
import { convIn, priorTables, smoothBlur, UNET_GAINS, UNET_OUT_GAIN } from "../unet.ts";
import type { Rng } from "../../random.ts";

export const VIDEO_UNET_SHAPE = {
  /** block_out_channels of down_blocks.0/1/2: half the image UNet's, the frames are many. */
  channels: [16, 32, 32],
  heads: 2,
  /** Tokens of one image embedding (VideoCrafter's Resampler: 16 queries). */
  imageTokens: 16,
} as const;

/** λ: weight of the neighbours' estimate in each frame's clean-latent estimate. */
export const TEMPORAL_PRIOR_MIX = 0.6;
/** Gain of the image branch's output (VideoCrafter adds it at scale 1 to the text branch). */
const IMAGE_OUT_GAIN = 0.3;
/** Gain of the temporal transformers' proj_out. */
const TEMPORAL_OUT_GAIN = 0.5;

/** How an export takes its timesteps (docs/video-models.md). */
export type TimestepLayout = "frames" | "grid" | "batch";

export interface TinyVideoUnetOptions {
  /** "frames" [B·T] (default), "grid" [B, T], or "batch" [B]: one per clip, which FIFO cannot use. */
  readonly timesteps?: TimestepLayout;
  /** 1 (default): the design above; 0: no temporal path at all, every frame on its own. */
  readonly temporalGain?: number;
  /** Take `image_embeds` (default true). */
  readonly imageEmbeds?: boolean;
  /** Take `fps` (default true). */
  readonly fps?: boolean;
}

interface VideoContext extends UnetContext {
  readonly batch: ValueRef;
  readonly frames: ValueRef;
  readonly image: ValueRef | null;
  readonly temporalGain: number;
}

/** Builds the graph; `rng` is the model's stream. */
export function buildTinyVideoUnetNet(rng: Rng, options: TinyVideoUnetOptions = {}): Net {
  const layout = options.timesteps ?? "frames";
  const temporalGain = options.temporalGain ?? 1;
  const net = new Net("tiny_video_unet", rng);
  const g = net.g;
  const [c0, c1, c2] = VIDEO_UNET_SHAPE.channels;
  const D = UNET_SHAPE.contextDim;
  const sample = g.input("sample", "f32", ["batch_size", 4, "frames", "height", "width"]);
  const timestepDims = { frames: ["batch_frames"], grid: ["batch_size", "frames"], batch: ["batch_size"] }[layout];
  const timestep = g.input("timestep", "i64", timestepDims);
  const text = g.input("encoder_hidden_states", "f32", ["batch_size", "sequence_length", D]);
  const fps = options.fps === false ? null : g.input("fps", "i64", ["batch_size"]);
  const image = options.imageEmbeds === false ? null : g.input("image_embeds", "f32", ["batch_size", "image_tokens", D]);

  const sampleShape = net.op("", "Shape", [sample]);
  const dim = (i: number) => net.op("", "Slice", [sampleShape, net.ints([i]), net.ints([i + 1]), net.ints([0])]);
  const batch = dim(0);
  const frames = dim(2);
  const hw = net.op("", "Slice", [sampleShape, net.ints([3]), net.ints([5]), net.ints([0])]);
  // [B, 4, T, H, W] → [B·T, 4, H, W]: frames become a batch of images
  const x = net.op("", "Reshape", [
    net.op("", "Transpose", [sample], { perm: [0, 2, 1, 3, 4] }),
    net.op("", "Concat", [net.ints([-1, 4]), hw], { axis: 0 }),
  ]);
  const t = frameTimesteps(net, timestep, layout, batch, frames);
  const temb = timeEmbedding(net, t, fps, batch, frames);
  const perFrame = (scope: string, v: ValueRef) => repeatPerFrame(net, scope, v, batch, frames);
  const v: VideoContext = {
    net,
    temb,
    context: perFrame("/context_repeat", text),
    gains: UNET_GAINS,
    batch,
    frames,
    image: image && perFrame("/image_repeat", image),
    temporalGain,
  };

  const h0 = convIn(net, x, c0);
  const skips: [ValueRef, number][] = [[h0, c0]];
  let h = h0;
  h = attentions(v, "/down_blocks.0", 0, resnet(v, "/down_blocks.0/resnets.0", h, c0, c0), c0);
  skips.push([h, c0]);
  h = downsample(v, "/down_blocks.0", h, c0);
  skips.push([h, c0]);
  h = attentions(v, "/down_blocks.1", 0, resnet(v, "/down_blocks.1/resnets.0", h, c0, c1), c1);
  skips.push([h, c1]);
  h = downsample(v, "/down_blocks.1", h, c1);
  skips.push([h, c1]);
  h = resnet(v, "/down_blocks.2/resnets.0", h, c1, c2);
  skips.push([h, c2]);
  h = resnet(v, "/mid_block/resnets.0", h, c2, c2);
  h = attentions(v, "/mid_block", 0, h, c2);
  h = resnet(v, "/mid_block/resnets.1", h, c2, c2);

  const cat = (scope: string, y: ValueRef, cy: number): [ValueRef, number] => {
    const [skip, cs] = skips.pop()!;
    return [net.op(scope, "Concat", [y, skip], { axis: 1 }), cy + cs];
  };
  let [y, cy] = cat("/up_blocks.0", h, c2);
  h = resnet(v, "/up_blocks.0/resnets.0", y, cy, c2);
  [y, cy] = cat("/up_blocks.0", h, c2);
  h = upsample(v, "/up_blocks.0", resnet(v, "/up_blocks.0/resnets.1", y, cy, c2), c2);
  for (const [block, cout, last] of [["/up_blocks.1", c1, false], ["/up_blocks.2", c0, true]] as const) {
    let cin: number = block === "/up_blocks.1" ? c2 : c1;
    for (let j = 0; j < 2; j++) {
      [y, cy] = cat(block, h, cin);
      h = attentions(v, block, j, resnet(v, `${block}/resnets.${j}`, y, cy, cout), cout);
      cin = cout;
    }
    if (!last) h = upsample(v, block, h, cout);
  }
  h = silu(net, "/conv_act", groupNorm(net, "/conv_norm_out", h, c0, UNET_SHAPE.groups));
  const unetOut = conv(net, "/conv_out", h, c0, 4, { gain: UNET_OUT_GAIN, zeroMean: true, bias: false });

  const eps = prior(v, x, unetOut, t);
  const out = net.op("", "Transpose", [net.op("", "Reshape", [eps, net.op("", "Concat", [batch, frames, net.ints([4]), hw], { axis: 0 })])], {
    perm: [0, 2, 1, 3, 4],
  });
  g.output(out, "f32", ["batch_size", 4, "frames", "height", "width"], "out_sample");
  return net;
}

/** The timestep of every (clip, frame) as f32 [B·T], whatever layout the export takes. */
function frameTimesteps(net: Net, timestep: ValueRef, layout: TimestepLayout, batch: ValueRef, frames: ValueRef): ValueRef {
  const t = net.op("/timesteps", "Cast", [timestep], { to: 1 });
  if (layout === "frames") return t;
  if (layout === "grid") return net.op("/timesteps", "Reshape", [t, net.ints([-1])]);
  // one timestep per clip, tiled over its frames (VideoCrafter's normal mode)
  const grid = net.op("/timesteps", "Expand", [net.op("/timesteps", "Unsqueeze", [t, net.ints([1])]), net.op("/timesteps", "Concat", [batch, frames], { axis: 0 })]);
  return net.op("/timesteps", "Reshape", [grid, net.ints([-1])]);
}

/** Timesteps + TimestepEmbedding per frame, plus fps_embedding broadcast over each clip's frames. */
function timeEmbedding(net: Net, t: ValueRef, fps: ValueRef | null, batch: ValueRef, frames: ValueRef): ValueRef {
  const half = UNET_SHAPE.timeProjDim / 2;
  const E = UNET_SHAPE.timeEmbedDim;
  const freqs = net.fixed("time_proj.freqs", Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half)), [1, half]);
  const sinusoid = (scope: string, values: ValueRef) => {
    const args = net.op(scope, "Mul", [net.op(scope, "Unsqueeze", [values, net.ints([1])]), freqs]);
    return net.op(scope, "Concat", [net.op(scope, "Cos", [args]), net.op(scope, "Sin", [args])], { axis: 1 });
  };
  const mlp = (scope: string, x: ValueRef) =>
    linear(net, `${scope}/linear_2`, silu(net, `${scope}/act`, linear(net, `${scope}/linear_1`, x, UNET_SHAPE.timeProjDim, E)), E, E);
  const temb = mlp("/time_embedding", sinusoid("/time_proj", t));
  if (!fps) return temb;
  const fpsEmb = mlp("/fps_embedding", sinusoid("/fps_proj", net.op("/fps_proj", "Cast", [fps], { to: 1 })));
  const perFrame = net.op("/fps_embedding", "Expand", [
    net.op("/fps_embedding", "Unsqueeze", [fpsEmb, net.ints([1])]),
    net.op("/fps_embedding", "Concat", [batch, frames, net.ints([E])], { axis: 0 }),
  ]);
  return net.op("", "Add", [temb, net.op("/fps_embedding", "Reshape", [perFrame, net.ints([-1, E])])]);
}

/** [B, S, D] → [B·T, S, D], each clip's tokens once per frame (b-major, as the frames are). */
function repeatPerFrame(net: Net, scope: string, x: ValueRef, batch: ValueRef, frames: ValueRef): ValueRef {
  const shape = net.op(scope, "Shape", [x]);
  const tail = net.op(scope, "Slice", [shape, net.ints([1]), net.ints([3]), net.ints([0])]);
  const grid = net.op(scope, "Expand", [net.op(scope, "Unsqueeze", [x, net.ints([1])]), net.op(scope, "Concat", [batch, frames, net.ints([1, 1])], { axis: 0 })]);
  return net.op(scope, "Reshape", [grid, net.op(scope, "Concat", [net.ints([-1]), tail], { axis: 0 })]);
}

/** attentions.j (spatial), then temp_attentions.j (temporal), as UNet3DConditionModel orders them. */
function attentions(v: VideoContext, block: string, j: number, x: ValueRef, channels: number): ValueRef {
  const spatial = spatialTransformer(v, `${block}/attentions.${j}`, x, channels);
  return temporalTransformer(v, `${block}/temp_attentions.${j}`, spatial, channels);
}

/** Transformer2DModel with attn1 (self), attn2 (text) and attn_ip (image embedding) on one query. */
function spatialTransformer(v: VideoContext, scope: string, x: ValueRef, channels: number): ValueRef {
  const { net, gains } = v;
  const heads = VIDEO_UNET_SHAPE.heads;
  const shape = net.op(scope, "Shape", [x]);
  let h = groupNorm(net, `${scope}/norm`, x, channels, UNET_SHAPE.groups, 1e-6);
  h = conv(net, `${scope}/proj_in`, h, channels, channels, { kernel: 1 });
  h = net.op(scope, "Reshape", [net.op(scope, "Transpose", [h], { perm: [0, 2, 3, 1] }), net.ints([0, -1, channels])]);
  const block = `${scope}/transformer_blocks.0`;
  const self = attention(net, `${block}/attn1`, layerNorm(net, `${block}/norm1`, h, channels), channels, null, { heads, qkGain: gains.attnQk, outGain: gains.attnOut });
  h = net.op(block, "Add", [self, h]);
  const query = layerNorm(net, `${block}/norm2`, h, channels);
  const crossOptions = { heads, contextChannels: UNET_SHAPE.contextDim, qkGain: gains.crossQk };
  const cross = attention(net, `${block}/attn2`, query, channels, v.context, { ...crossOptions, outGain: gains.crossOut });
  h = net.op(block, "Add", [cross, h]);
  if (v.image) {
    // No biases on v and out: all-zero embeddings give V = 0, so the branch adds exactly 0.
    const ip = attention(net, `${block}/attn_ip`, query, channels, v.image, { ...crossOptions, outGain: IMAGE_OUT_GAIN, outBias: false });
    h = net.op(block, "Add", [ip, h]);
  }
  h = net.op(block, "Add", [feedForward(net, `${block}/ff`, layerNorm(net, `${block}/norm3`, h, channels), channels), h]);
  const nhwc = net.op(scope, "Concat", [net.op(scope, "Gather", [shape, net.ints([0, 2, 3])], { axis: 0 }), net.ints([channels])], { axis: 0 });
  h = net.op(scope, "Transpose", [net.op(scope, "Reshape", [h, nhwc])], { perm: [0, 3, 1, 2] });
  h = conv(net, `${scope}/proj_out`, h, channels, channels, { kernel: 1 });
  return net.op(scope, "Add", [h, x]);
}

/**
 * TransformerTemporalModel: at every pixel, the frames of one clip are the tokens. attn1 and
 * attn2 are both self-attention over frames. proj_out has no bias, so gain 0 adds exactly 0.
 */
function temporalTransformer(v: VideoContext, scope: string, x: ValueRef, channels: number): ValueRef {
  const { net, gains, batch, frames } = v;
  const heads = VIDEO_UNET_SHAPE.heads;
  const shape = net.op(scope, "Shape", [x]);
  let h = groupNorm(net, `${scope}/norm`, x, channels, UNET_SHAPE.groups, 1e-6);
  h = conv(net, `${scope}/proj_in`, h, channels, channels, { kernel: 1 });
  // [B·T, C, H, W] → [B, T, C, H·W] → [B, H·W, T, C] → [B·H·W, T, C]
  h = net.op(scope, "Reshape", [h, net.op(scope, "Concat", [batch, frames, net.ints([channels, -1])], { axis: 0 })]);
  h = net.op(scope, "Transpose", [h], { perm: [0, 3, 1, 2] });
  h = net.op(scope, "Reshape", [h, net.op(scope, "Concat", [net.ints([-1]), frames, net.ints([channels])], { axis: 0 })]);
  const block = `${scope}/transformer_blocks.0`;
  const options = { heads, qkGain: gains.attnQk, outGain: gains.attnOut };
  for (const [attn, norm] of [["attn1", "norm1"], ["attn2", "norm2"]] as const) {
    h = net.op(block, "Add", [attention(net, `${block}/${attn}`, layerNorm(net, `${block}/${norm}`, h, channels), channels, null, options), h]);
  }
  h = net.op(block, "Add", [feedForward(net, `${block}/ff`, layerNorm(net, `${block}/norm3`, h, channels), channels), h]);
  h = net.op(scope, "Reshape", [h, net.op(scope, "Concat", [batch, net.ints([-1]), frames, net.ints([channels])], { axis: 0 })]);
  h = net.op(scope, "Reshape", [net.op(scope, "Transpose", [h], { perm: [0, 2, 3, 1] }), shape]);
  h = conv(net, `${scope}/proj_out`, h, channels, channels, { kernel: 1, gain: TEMPORAL_OUT_GAIN * v.temporalGain, bias: false });
  return net.op(scope, "Add", [h, x]);
}

/** ε = (x − a·G(ẽ))/s per frame, ẽ as the file comment says. */
function prior(v: VideoContext, x: ValueRef, unetOut: ValueRef, t: ValueRef): ValueRef {
  const { net, batch, frames } = v;
  const scope = "/tiny_prior";
  const tables = priorTables();
  const precision = Float32Array.from(tables.a, (a, i) => a * a * tables.invS[i]! * tables.invS[i]!);
  const gains = timestepTables(net, scope, t, { ...tables, precision });
  const perFrame = (g: ValueRef) => net.op(scope, "Unsqueeze", [g, net.ints([1, 2, 3])]);
  const [m, a, invS, p] = [gains.m, gains.a, gains.invS, gains.precision].map(perFrame) as [ValueRef, ValueRef, ValueRef, ValueRef];
  const own = net.op(scope, "Add", [net.op(scope, "Div", [net.op(scope, "Mul", [x, m]), a]), unetOut]);
  let estimate = own;
  const lambda = TEMPORAL_PRIOR_MIX * Math.min(Math.max(v.temporalGain, 0), 1);
  if (lambda > 0) {
    // Σ p·e / Σ p over each frame and its neighbours: AveragePool along the frame axis of [B, F, T].
    const alongFrames = (y: ValueRef) => {
      const grid = net.op(scope, "Reshape", [y, net.op(scope, "Concat", [batch, frames, net.ints([-1])], { axis: 0 })]);
      const pooled = net.op(scope, "AveragePool", [net.op(scope, "Transpose", [grid], { perm: [0, 2, 1] })], {
        kernel_shape: [3],
        pads: [1, 1],
        strides: [1],
        count_include_pad: 0,
      });
      return net.op(scope, "Transpose", [pooled], { perm: [0, 2, 1] });
    };
    const ownShape = net.op(scope, "Shape", [own]);
    const weighted = alongFrames(net.op(scope, "Mul", [own, p]));
    const weights = alongFrames(net.op(scope, "Expand", [p, ownShape]));
    const neighbours = net.op(scope, "Reshape", [net.op(scope, "Div", [weighted, weights]), ownShape]);
    estimate = net.op(scope, "Add", [net.op(scope, "Mul", [own, net.floats([1 - lambda])]), net.op(scope, "Mul", [neighbours, net.floats([lambda])])]);
  }
  const blurred = net.op(scope, "Mul", [smoothBlur(net, scope, estimate), a]);
  return net.op(scope, "Mul", [net.op(scope, "Sub", [x, blurred]), invS]);
}
