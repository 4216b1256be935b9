/**
 * The diffusers/transformers layers the tiny models are made of, written as the op patterns
 * torch.onnx exports for them (reference/sd-onnx-layout.md §7): GroupNorm as
 * Reshape → InstanceNormalization → Reshape → Mul → Add, SiLU as Sigmoid → Mul, GELU through Erf,
 * and attention as the classic unfused AttnProcessor pattern, so hook finders and graph cutters
 * meet in the tiny model what they meet in a real export.
 *
 * Random weights use std = gain/√fan_in, so with a norm before every conv the activations stay O(1)
 * however deep the net is; each caller picks the gain that sets how much a path contributes.
 */
import { type Net, paramName, type ValueRef } from "./net.ts";

export interface ConvOptions {
  readonly kernel?: number;
  readonly stride?: number;
  readonly gain?: number;
  readonly bias?: boolean;
  /** Make each output channel's weights sum to zero, so a uniform input (SiLU's positive mean) adds no offset. */
  readonly zeroMean?: boolean;
}

/** nn.Conv2d with "same" padding (stride 2 halves even sizes). Node `${scope}/Conv`. */
export function conv(net: Net, scope: string, x: ValueRef, cin: number, cout: number, options: ConvOptions = {}): ValueRef {
  const k = options.kernel ?? 3;
  const shape = [cout, cin, k, k];
  const data = net.draw(paramName(scope, "weight"), shape, (options.gain ?? 1) / Math.sqrt(cin * k * k));
  if (options.zeroMean) {
    const per = cin * k * k;
    for (let o = 0; o < cout; o++) {
      const row = data.subarray(o * per, (o + 1) * per);
      const mean = row.reduce((a, b) => a + b, 0) / per;
      for (let i = 0; i < per; i++) row[i]! -= mean;
    }
  }
  const inputs = [x, net.fixed(paramName(scope, "weight"), data, shape)];
  if (options.bias !== false) inputs.push(net.normal(paramName(scope, "bias"), [cout], 0.02));
  const p = (k - 1) / 2;
  return net.op(scope, "Conv", inputs, { kernel_shape: [k, k], pads: [p, p, p, p], strides: [options.stride ?? 1, options.stride ?? 1] });
}

/** nn.GroupNorm as exported: per-group InstanceNormalization between two Reshapes, then the affine. */
export function groupNorm(net: Net, scope: string, x: ValueRef, channels: number, groups: number, epsilon = 1e-5): ValueRef {
  const grouped = net.op(scope, "Reshape", [x, net.ints([0, groups, -1])]);
  const ones = net.fixed(paramName(scope, "instance_norm_scale"), new Float32Array(groups).fill(1), [groups]);
  const zeros = net.fixed(paramName(scope, "instance_norm_bias"), new Float32Array(groups), [groups]);
  const normed = net.op(scope, "InstanceNormalization", [grouped, ones, zeros], { epsilon });
  const shape = net.op(scope, "Shape", [x]);
  const back = net.op(scope, "Reshape", [normed, shape]);
  const gamma = net.normal(paramName(scope, "weight"), [channels, 1, 1], 0.05, 1);
  const beta = net.normal(paramName(scope, "bias"), [channels, 1, 1], 0.05);
  return net.op(scope, "Add", [net.op(scope, "Mul", [back, gamma]), beta]);
}

/** SiLU as exported: x · sigmoid(x). */
export function silu(net: Net, scope: string, x: ValueRef): ValueRef {
  return net.op(scope, "Mul", [x, net.op(scope, "Sigmoid", [x])]);
}

/** nn.Linear: MatMul with the transposed [in, out] weight, then Add of the bias. */
export function linear(net: Net, scope: string, x: ValueRef, cin: number, cout: number, options: { gain?: number; bias?: boolean } = {}): ValueRef {
  const weight = net.normal(paramName(scope, "weight"), [cin, cout], (options.gain ?? 1) / Math.sqrt(cin));
  const y = net.op(scope, "MatMul", [x, weight]);
  if (options.bias === false) return y;
  return net.op(scope, "Add", [y, net.normal(paramName(scope, "bias"), [cout], 0.02)]);
}

/** nn.LayerNorm over the last axis (opset 17 LayerNormalization). */
export function layerNorm(net: Net, scope: string, x: ValueRef, channels: number, epsilon = 1e-5): ValueRef {
  const gamma = net.normal(paramName(scope, "weight"), [channels], 0.05, 1);
  const beta = net.normal(paramName(scope, "bias"), [channels], 0.05);
  return net.op(scope, "LayerNormalization", [x, gamma, beta], { axis: -1, epsilon });
}

/** Exact GELU as torch exports it below opset 20: x · ½ · (1 + erf(x/√2)). */
export function gelu(net: Net, scope: string, x: ValueRef): ValueRef {
  const erf = net.op(scope, "Erf", [net.op(scope, "Div", [x, net.floats([Math.SQRT2])])]);
  return net.op(scope, "Mul", [net.op(scope, "Mul", [x, net.op(scope, "Add", [erf, net.floats([1])])]), net.floats([0.5])]);
}

/** [B, S, C] → [B·heads, S, d] (diffusers' head_to_batch_dim), given the shape [-1, S, d]. */
function headsToBatch(net: Net, scope: string, x: ValueRef, heads: number, headDim: number, batchShape: ValueRef): ValueRef {
  const split = net.op(scope, "Reshape", [x, net.ints([0, 0, heads, headDim])]);
  const moved = net.op(scope, "Transpose", [split], { perm: [0, 2, 1, 3] });
  return net.op(scope, "Reshape", [moved, batchShape]);
}

/** The shape [-1, S, d] for sequence length S = dim 1 of `x`. */
function sequenceShape(net: Net, scope: string, x: ValueRef, lead: number, headDim: number): ValueRef {
  const seq = net.op(scope, "Gather", [net.op(scope, "Shape", [x]), net.ints([1])], { axis: 0 });
  return net.op(scope, "Concat", [net.ints([lead]), seq, net.ints([headDim])], { axis: 0 });
}

export interface AttentionOptions {
  readonly heads: number;
  /** Channels of `context` (cross-attention); omitted for self-attention. */
  readonly contextChannels?: number;
  /** Gain of to_q/to_k: sets how peaked the attention is. */
  readonly qkGain?: number;
  /** Gain of to_out.0: how much the block adds to the residual stream. */
  readonly outGain?: number;
  /** Names of the projections (diffusers' to_q… or CLIP's q_proj…). */
  readonly names?: { q: string; k: string; v: string; out: string };
  /** Projections with bias (CLIP) or without (diffusers' attention). */
  readonly qkvBias?: boolean;
  /** Additive mask [S, S] (CLIP's causal mask), added to the scaled scores. */
  readonly mask?: ValueRef;
  /** to_out.0 with a bias (default true). */
  readonly outBias?: boolean;
}

/**
 * diffusers' classic AttnProcessor (reference/sd-onnx-layout.md §7.2): q/k/v MatMul → Reshape →
 * Transpose → Reshape (K transposed once more) → MatMul → Mul(scale) → Softmax → MatMul(V) →
 * Reshape → Transpose → Reshape → out MatMul + Add.
 */
export function attention(net: Net, scope: string, x: ValueRef, channels: number, context: ValueRef | null, options: AttentionOptions): ValueRef {
  const { heads } = options;
  const headDim = channels / heads;
  const names = options.names ?? { q: "to_q", k: "to_k", v: "to_v", out: "to_out.0" };
  const kv = context ?? x;
  const kvChannels = options.contextChannels ?? channels;
  const bias = options.qkvBias ?? false;
  const q = linear(net, `${scope}/${names.q}`, x, channels, channels, { gain: options.qkGain ?? 1, bias });
  const k = linear(net, `${scope}/${names.k}`, kv, kvChannels, channels, { gain: options.qkGain ?? 1, bias });
  const v = linear(net, `${scope}/${names.v}`, kv, kvChannels, channels, { bias });
  const queryShape = sequenceShape(net, scope, x, -1, headDim);
  const keyShape = context ? sequenceShape(net, scope, kv, -1, headDim) : queryShape;
  const qb = headsToBatch(net, scope, q, heads, headDim, queryShape);
  const kb = net.op(scope, "Transpose", [headsToBatch(net, scope, k, heads, headDim, keyShape)], { perm: [0, 2, 1] });
  const vb = headsToBatch(net, scope, v, heads, headDim, keyShape);
  let scores = net.op(scope, "Mul", [net.op(scope, "MatMul", [qb, kb]), net.floats([1 / Math.sqrt(headDim)])]);
  if (options.mask) scores = net.op(scope, "Add", [scores, options.mask]);
  const probs = net.op(scope, "Softmax", [scores], { axis: -1 });
  const mixed = net.op(scope, "MatMul", [probs, vb]);
  const seq = net.op(scope, "Gather", [net.op(scope, "Shape", [x]), net.ints([1])], { axis: 0 });
  const unbatchShape = net.op(scope, "Concat", [net.ints([-1, heads]), seq, net.ints([headDim])], { axis: 0 });
  const unbatched = net.op(scope, "Transpose", [net.op(scope, "Reshape", [mixed, unbatchShape])], { perm: [0, 2, 1, 3] });
  const merged = net.op(scope, "Reshape", [unbatched, net.ints([0, 0, channels])]);
  return linear(net, `${scope}/${names.out}`, merged, channels, channels, { gain: options.outGain ?? 1, bias: options.outBias ?? true });
}
