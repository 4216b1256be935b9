/**
 * The tiny ContinuitySeq UNet (shared/specs/continuity-seq.md, "Model interface"): a video UNet
 * with a second, never-noised conditioning stream whose frame axis is dynamic.
 *
 *   sample                      [batch_size, 4, frames, height, width]               f32, noisy
 *   conditioning_hidden_states  [batch_size, 4, conditioning_frames, height, width]  f32, clean
 *   timestep                    [] int64: one t for every frame and the conditioning stream
 *   encoder_hidden_states       [batch_size, sequence_length, 64]                    f32
 *   → out_sample                [batch_size, 4, frames, height, width]               ε
 *
 * Topology, one level deep (the spec's pieces at tiny widths): conv_in beside conditioning_conv_in;
 * one resnet per stream (the conditioning stream runs per frame with its own norms and time
 * projection, as ContinuitySeq's `conditioning_conv`s do); a ConditioningBlock (h ← h + SiLU(Wg·h)⊙c
 * + SiLU(Wb·h), c = the LAST conditioning frame's features); a spatial transformer with text
 * cross-attention; a temporal self-attention over frames; the ConditionalTransformer (at every
 * pixel the F main frames attend to the conditioning frames, left-padded with zeros to F); conv_out.
 * The attn2 mask quirk of the trained model is not reproduced: a real export carries its own graph.
 *
 * Why it continues a video: as tiny/unet.ts, ε = (x − a·x̂₀)/s with x̂₀ built from the frame's own
 * estimate e = m·x/a + U (U = conv_out), smoothed along frames (each frame mixed with its two
 * neighbours, λ = 0.6) and blurred by G; then pulled towards the last conditioning latent ĉ with a
 * weight that falls along the clip, w_f = W₀·ρ^f (frame 0 nearly copies ĉ, so a join has no jump,
 * later frames drift where the prompt takes them). Earlier conditioning frames act through the
 * ConditionalTransformer (and so through U).
 *
 * With zero conditioning frames (or `conditioning: false`, a graph without that input) every
 * conditioning path is multiplied by presence p = min(F_c, 1) = 0 and adds exactly 0, so the output
 * equals the unconditional model's bit for bit.
 */
import { attention, conv, groupNorm, layerNorm, linear, silu } from "../layers.ts";
import { Net, timestepTables, type ValueRef } from "../net.ts";
import { resnet, transformer2d, UNET_SHAPE, type UnetContext, timeEmbedding } from "../unet-blocks.ts";
import { convIn, priorTables, smoothBlur, UNET_GAINS } from "../unet.ts";
import type { Rng } from "../../random.ts";

export const CONTINUATION_UNET_SHAPE = { channels: 16, heads: 2 } as const;

/** W₀ and ρ of the pull towards the last conditioning frame, and λ of the neighbour mix. */
export const CONTINUATION_PRIOR = { pull: 0.85, decay: 0.8, neighbours: 0.6 } as const;
/** conv_out gain (U in x̂₀ units), lower than the image UNet's: frames must stay alike. */
const OUT_GAIN = 0.4;

export interface TinyContinuationUnetOptions {
  /** false: no conditioning input at all (the unconditional reference graph). Default true. */
  readonly conditioning?: boolean;
}

interface Ctx {
  readonly net: Net;
  readonly batch: ValueRef;
  readonly frames: ValueRef;
  readonly hw: ValueRef;
}

export function buildTinyContinuationUnetNet(rng: Rng, options: TinyContinuationUnetOptions = {}): Net {
  const net = new Net("tiny_continuation_unet", rng);
  const g = net.g;
  const C = CONTINUATION_UNET_SHAPE.channels;
  const D = UNET_SHAPE.contextDim;
  const sample = g.input("sample", "f32", ["batch_size", 4, "frames", "height", "width"]);
  const cond = options.conditioning === false ? null : g.input("conditioning_hidden_states", "f32", ["batch_size", 4, "conditioning_frames", "height", "width"]);
  const timestep = g.input("timestep", "i64", []);
  const text = g.input("encoder_hidden_states", "f32", ["batch_size", "sequence_length", D]);

  const shape = net.op("", "Shape", [sample]);
  const dim = (s: ValueRef, i: number) => net.op("", "Slice", [s, net.ints([i]), net.ints([i + 1]), net.ints([0])]);
  const c: Ctx = { net, batch: dim(shape, 0), frames: dim(shape, 2), hw: net.op("", "Slice", [shape, net.ints([3]), net.ints([5]), net.ints([0])]) };
  const x = framesToBatch(c, sample, 4, c.frames);
  const t = net.op("/timesteps", "Cast", [timestep], { to: 1 });
  const temb = timeEmbedding(net, x, t);
  const u: UnetContext = { net, temb, context: repeatPerFrame(c, text), gains: UNET_GAINS };

  let h = convIn(net, x, C);
  h = resnet(u, "/down_blocks.0/resnets.0", h, C, C);
  let presence: ValueRef | null = null;
  let condFeatures: ValueRef | null = null;
  let condFrames: ValueRef | null = null;
  let condLatents: ValueRef | null = null;
  if (cond) {
    const given = dim(net.op("", "Shape", [cond]), 2);
    presence = net.op("/presence", "Min", [net.op("/presence", "Cast", [given], { to: 1 }), net.floats([1], [1])]);
    // An empty frame axis trips ORT's reshapes (GroupNorm's [0, groups, -1]): with no frames the
    // stream runs on one zero frame instead, and presence 0 keeps everything it makes out.
    const missing = net.op("/presence", "Max", [net.op("/presence", "Sub", [net.ints([1]), given]), net.ints([0])]);
    const pads = net.op("/presence", "Concat", [net.ints([0, 0]), missing, net.ints([0, 0, 0, 0, 0, 0, 0])], { axis: 0 });
    condLatents = net.op("/presence", "Pad", [cond, pads, net.floats([0])], { mode: "constant" });
    condFrames = net.op("/presence", "Max", [given, net.ints([1])]);
    const cond5 = condLatents;
    // The conditioning stream: per frame, its own conv_in and resnet; the time embedding of the one t.
    const cx = framesToBatch(c, cond5, 4, condFrames);
    const tembRow = net.op("/conditioning", "Slice", [temb, net.ints([0]), net.ints([1]), net.ints([0])]);
    const cu: UnetContext = { ...u, temb: tembRow };
    let ch = conv(net, "/conditioning_conv_in", cx, 4, C);
    ch = resnet(cu, "/down_blocks.0/resnets.0/conditioning", ch, C, C);
    condFeatures = ch;
    h = conditioningBlock(c, "/down_blocks.0/conditioning_block", h, lastFrame(c, ch, C, condFrames), presence, C);
  }
  h = transformer2d(u, "/down_blocks.0/attentions.0", h, C);
  h = temporalAttention(c, "/down_blocks.0/temp_attentions.0", h, C);
  if (cond) h = conditionalTransformer(c, "/down_blocks.0/conditional_attentions.0", h, condFeatures!, condFrames!, presence!, C);
  h = silu(net, "/conv_act", groupNorm(net, "/conv_norm_out", h, C, UNET_SHAPE.groups));
  const U = conv(net, "/conv_out", h, C, 4, { gain: OUT_GAIN, zeroMean: true, bias: false });

  const eps = prior(c, x, U, t, condLatents && { latents: framesToBatch(c, condLatents, 4, condFrames!), frames: condFrames!, presence: presence! });
  const out = net.op("", "Transpose", [net.op("", "Reshape", [eps, net.op("", "Concat", [c.batch, c.frames, net.ints([4]), c.hw], { axis: 0 })])], { perm: [0, 2, 1, 3, 4] });
  g.output(out, "f32", ["batch_size", 4, "frames", "height", "width"], "out_sample");
  return net;
}

/** [B, ch, T, H, W] → [B·T, ch, H, W] (b-major). */
function framesToBatch(c: Ctx, x: ValueRef, channels: number, _frames: ValueRef): ValueRef {
  const { net } = c;
  return net.op("", "Reshape", [net.op("", "Transpose", [x], { perm: [0, 2, 1, 3, 4] }), net.op("", "Concat", [net.ints([-1, channels]), c.hw], { axis: 0 })]);
}

/** [B, S, D] → [B·T, S, D]. */
function repeatPerFrame(c: Ctx, x: ValueRef): ValueRef {
  const { net } = c;
  const scope = "/context_repeat";
  const tail = net.op(scope, "Slice", [net.op(scope, "Shape", [x]), net.ints([1]), net.ints([3]), net.ints([0])]);
  const grid = net.op(scope, "Expand", [net.op(scope, "Unsqueeze", [x, net.ints([1])]), net.op(scope, "Concat", [c.batch, c.frames, net.ints([1, 1])], { axis: 0 })]);
  return net.op(scope, "Reshape", [grid, net.op(scope, "Concat", [net.ints([-1]), tail], { axis: 0 })]);
}

/**
 * The last frame of per-frame features [B·Fc, ch, H, W] → [B·F, ch, H, W], broadcast over the main
 * frames. Written as a one-hot sum over the frame axis, not a Gather, so that Fc = 0 gives zeros.
 */
function lastFrame(c: Ctx, x: ValueRef, channels: number, condFrames: ValueRef): ValueRef {
  const { net } = c;
  const scope = "/last_conditioning_frame";
  const grid = net.op(scope, "Reshape", [x, net.op(scope, "Concat", [c.batch, condFrames, net.ints([channels]), c.hw], { axis: 0 })]);
  const n = net.op(scope, "Squeeze", [condFrames, net.ints([0])]);
  const index = net.op(scope, "Range", [net.ints([0], []), n, net.ints([1], [])]);
  const oneHot = net.op(scope, "Cast", [net.op(scope, "Equal", [index, net.op(scope, "Sub", [n, net.ints([1], [])])])], { to: 1 });
  const weights = net.op(scope, "Reshape", [oneHot, net.ints([1, -1, 1, 1, 1])]);
  const last = net.op(scope, "ReduceSum", [net.op(scope, "Mul", [grid, weights]), net.ints([1])], { keepdims: 1 });
  const spread = net.op(scope, "Expand", [last, net.op(scope, "Concat", [c.batch, c.frames, net.ints([channels]), c.hw], { axis: 0 })]);
  return net.op(scope, "Reshape", [spread, net.op(scope, "Concat", [net.ints([-1, channels]), c.hw], { axis: 0 })]);
}

/** ContinuitySeq's ConditioningBlock, gated by presence: h + p·(SiLU(Wg·h + bg)⊙c + SiLU(Wb·h + bb)). */
function conditioningBlock(c: Ctx, scope: string, h: ValueRef, last: ValueRef, presence: ValueRef, channels: number): ValueRef {
  const { net } = c;
  const nhwc = net.op(scope, "Transpose", [h], { perm: [0, 2, 3, 1] });
  const gamma = silu(net, `${scope}/gamma_act`, linear(net, `${scope}/gamma`, nhwc, channels, channels, { gain: 0.5 }));
  const beta = silu(net, `${scope}/beta_act`, linear(net, `${scope}/beta`, nhwc, channels, channels, { gain: 0.5 }));
  const lastNhwc = net.op(scope, "Transpose", [last], { perm: [0, 2, 3, 1] });
  const added = net.op(scope, "Add", [net.op(scope, "Mul", [gamma, lastNhwc]), beta]);
  const back = net.op(scope, "Transpose", [net.op(scope, "Mul", [added, net.floats([0.3])])], { perm: [0, 3, 1, 2] });
  return net.op(scope, "Add", [h, net.op(scope, "Mul", [back, presence])]);
}

/** [B·T, ch, H, W] → [B·H·W, T, ch] for frames `frames`. */
function pixelsFirst(c: Ctx, scope: string, x: ValueRef, frames: ValueRef, channels: number): ValueRef {
  const { net } = c;
  let h = net.op(scope, "Reshape", [x, net.op(scope, "Concat", [c.batch, frames, net.ints([channels, -1])], { axis: 0 })]);
  h = net.op(scope, "Transpose", [h], { perm: [0, 3, 1, 2] });
  return net.op(scope, "Reshape", [h, net.op(scope, "Concat", [net.ints([-1]), frames, net.ints([channels])], { axis: 0 })]);
}

/** The inverse of pixelsFirst for the main frames. */
function framesFirst(c: Ctx, scope: string, x: ValueRef, like: ValueRef, channels: number): ValueRef {
  const { net } = c;
  const h = net.op(scope, "Reshape", [x, net.op(scope, "Concat", [c.batch, net.ints([-1]), c.frames, net.ints([channels])], { axis: 0 })]);
  return net.op(scope, "Reshape", [net.op(scope, "Transpose", [h], { perm: [0, 2, 3, 1] }), net.op(scope, "Shape", [like])]);
}

/** TransformerTemporal, reduced to one self-attention over the frames at every pixel. */
function temporalAttention(c: Ctx, scope: string, x: ValueRef, channels: number): ValueRef {
  const { net } = c;
  const seq = pixelsFirst(c, scope, groupNorm(net, `${scope}/norm`, x, channels, UNET_SHAPE.groups, 1e-6), c.frames, channels);
  const block = `${scope}/transformer_blocks.0`;
  const a = attention(net, `${block}/attn1`, layerNorm(net, `${block}/norm1`, seq, channels), channels, null, {
    heads: CONTINUATION_UNET_SHAPE.heads, qkGain: UNET_GAINS.attnQk, outGain: 0.5,
  });
  return net.op(scope, "Add", [x, framesFirst(c, scope, a, x, channels)]);
}

/**
 * ConditionalTransformerModel: at every pixel the F main frames are the queries, the conditioning
 * frames (left-padded with zeros to F when fewer) the keys and values; the result, times presence,
 * joins the residual stream.
 */
function conditionalTransformer(c: Ctx, scope: string, x: ValueRef, cond: ValueRef, condFrames: ValueRef, presence: ValueRef, channels: number): ValueRef {
  const { net } = c;
  const query = pixelsFirst(c, scope, groupNorm(net, `${scope}/norm`, x, channels, UNET_SHAPE.groups, 1e-6), c.frames, channels);
  let keys = pixelsFirst(c, `${scope}/conditioning`, cond, condFrames, channels);
  const pad = net.op(scope, "Max", [net.op(scope, "Sub", [c.frames, condFrames]), net.ints([0])]);
  const pads = net.op(scope, "Concat", [net.ints([0]), pad, net.ints([0, 0, 0, 0])], { axis: 0 });
  keys = net.op(scope, "Pad", [keys, pads, net.floats([0])], { mode: "constant" });
  const block = `${scope}/transformer_blocks.0`;
  const a = attention(net, `${block}/attn1`, layerNorm(net, `${block}/norm1`, query, channels), channels, layerNorm(net, `${block}/norm_cond`, keys, channels), {
    heads: CONTINUATION_UNET_SHAPE.heads, contextChannels: channels, qkGain: UNET_GAINS.crossQk, outGain: 0.5,
  });
  const back = framesFirst(c, scope, linear(net, `${block}/proj_out`, a, channels, channels, { bias: false }), x, channels);
  return net.op(scope, "Add", [x, net.op(scope, "Mul", [back, presence])]);
}

/** ε = (x − a·x̂₀)/s, x̂₀ as the file comment says. */
function prior(c: Ctx, x: ValueRef, U: ValueRef, t: ValueRef, cond: { latents: ValueRef; frames: ValueRef; presence: ValueRef } | null): ValueRef {
  const { net } = c;
  const scope = "/tiny_prior";
  const { m, a, invS } = timestepTables(net, scope, t, priorTables());
  const own = net.op(scope, "Add", [net.op(scope, "Div", [net.op(scope, "Mul", [x, m]), a]), U]);
  // neighbours along the frame axis: AveragePool over [B, 4·H·W, T]
  const xShape = net.op(scope, "Shape", [own]);
  const grid = net.op(scope, "Reshape", [own, net.op(scope, "Concat", [c.batch, c.frames, net.ints([-1])], { axis: 0 })]);
  const pooled = net.op(scope, "AveragePool", [net.op(scope, "Transpose", [grid], { perm: [0, 2, 1] })], {
    kernel_shape: [3], pads: [1, 1], strides: [1], count_include_pad: 0,
  });
  const neighbours = net.op(scope, "Reshape", [net.op(scope, "Transpose", [pooled], { perm: [0, 2, 1] }), xShape]);
  const lambda = CONTINUATION_PRIOR.neighbours;
  const mixed = net.op(scope, "Add", [net.op(scope, "Mul", [own, net.floats([1 - lambda])]), net.op(scope, "Mul", [neighbours, net.floats([lambda])])]);
  let estimate = smoothBlur(net, scope, mixed);
  if (cond) {
    const last = lastFrame(c, cond.latents, 4, cond.frames);
    // w_f = p·W₀·ρ^f per main frame, laid out as [B, T, 1, 1, 1] over the b-major frames
    const f = net.op(scope, "Cast", [net.op(scope, "Range", [net.ints([0], []), net.op(scope, "Squeeze", [c.frames, net.ints([0])]), net.ints([1], [])])], { to: 1 });
    const w = net.op(scope, "Mul", [net.op(scope, "Pow", [net.floats([CONTINUATION_PRIOR.decay]), f]), net.floats([CONTINUATION_PRIOR.pull])]);
    const wGrid = net.op(scope, "Mul", [net.op(scope, "Reshape", [w, net.ints([1, -1, 1, 1, 1])]), cond.presence]);
    const est5 = net.op(scope, "Reshape", [estimate, net.op(scope, "Concat", [c.batch, c.frames, net.ints([4]), c.hw], { axis: 0 })]);
    const diff = net.op(scope, "Sub", [net.op(scope, "Reshape", [last, net.op(scope, "Shape", [est5])]), est5]);
    estimate = net.op(scope, "Reshape", [net.op(scope, "Add", [est5, net.op(scope, "Mul", [diff, wGrid])]), xShape]);
  }
  return net.op(scope, "Mul", [net.op(scope, "Sub", [x, net.op(scope, "Mul", [estimate, a])]), invS]);
}
