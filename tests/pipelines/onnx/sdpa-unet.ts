/**
 * A small UNet-like test graph built the way real SD exports with AttnProcessor2_0 look
 * (reference/sd-onnx-layout.md §7): 4-D heads, √scale multiplied into Q and Kᵀ (computed in-graph
 * from Q's shape in the self-attentions, a constant in the cross-attentions), node names under a
 * `/unet/` wrapper prefix, an f32 rank-1 timestep, a skip connection across the mid attention,
 * weights as external data. Blocks: down_blocks.0 (attn1, attn2), mid_block (attn1),
 * up_blocks.0 (attn1, attn2).
 */
import { join } from "node:path";
import { GraphBuilder, type ValueRef } from "../../../pipelines/onnx/model-builder.ts";
import { Rng } from "../../../pipelines/sd/random.ts";

export const SDPA_CHANNELS = 8;
export const SDPA_HEADS = 2;
export const SDPA_CONTEXT = 6;

export interface ExpectedBlock {
  name: string;
  self: boolean;
  block: "down" | "mid" | "up";
  level: number;
  tensors: { q: string; k: string; v: string; probs: string; out: string };
}

export function writeSdpaUnet(dir: string, seed = 7): { path: string; blocks: ExpectedBlock[] } {
  const g = new GraphBuilder("sdpa_unet");
  const rng = new Rng(seed);
  const counts = new Map<string, number>();
  const op = (scope: string, type: string, inputs: (ValueRef | null)[], attrs?: Record<string, number | number[]>) => {
    const base = `${scope}/${type}`;
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    return g.node(type, inputs, { name: n ? `${base}_${n}` : base, attrs });
  };
  let initCount = 0;
  const weight = (shape: number[], std: number) => {
    const data = rng.normal(new Float32Array(shape.reduce((a, b) => a * b, 1)));
    for (let i = 0; i < data.length; i++) data[i]! *= std;
    return g.initializer(`onnx::W_${initCount++}`, data, shape);
  };
  const ints = (values: number[]) => g.initializer(`onnx::I_${initCount++}`, BigInt64Array.from(values.map(BigInt)), [values.length]);
  const scalar = (v: number) => g.initializer(`onnx::S_${initCount++}`, Float32Array.of(v), []);
  const C = SDPA_CHANNELS;
  const d = C / SDPA_HEADS;

  const sample = g.input("sample", "f32", ["batch", 4, "height", "width"]);
  const timestep = g.input("timestep", "f32", [1]);
  const context = g.input("encoder_hidden_states", "f32", ["batch", "sequence", SDPA_CONTEXT]);

  const conv = (scope: string, x: ValueRef, cin: number, cout: number, stride = 1) =>
    op(scope, "Conv", [x, weight([cout, cin, 3, 3], 1 / Math.sqrt(cin * 9)), weight([cout], 0.05)], {
      kernel_shape: [3, 3],
      pads: [1, 1, 1, 1],
      strides: [stride, stride],
    });
  const blocks: ExpectedBlock[] = [];

  const heads4 = (scope: string, t: ValueRef) => op(scope, "Transpose", [op(scope, "Reshape", [t, ints([0, -1, SDPA_HEADS, d])])], { perm: [0, 2, 1, 3] });
  const attention = (scope: string, x: ValueRef, kv: ValueRef | null, level: number, place: ExpectedBlock["block"]) => {
    const kvIn = kv ?? x;
    const kvC = kv ? SDPA_CONTEXT : C;
    const q = op(`${scope}/to_q`, "MatMul", [x, weight([C, C], 1.5 / Math.sqrt(C))]);
    const k = op(`${scope}/to_k`, "MatMul", [kvIn, weight([kvC, C], 1.5 / Math.sqrt(kvC))]);
    const v = op(`${scope}/to_v`, "MatMul", [kvIn, weight([kvC, C], 1 / Math.sqrt(kvC))]);
    const q4 = heads4(scope, q);
    const k4 = heads4(scope, k);
    const v4 = heads4(scope, v);
    let s: ValueRef;
    if (kv) s = scalar(d ** -0.25);
    else {
      // scale = 1/√d from Q's last dim, then √scale, as torch.onnx writes F.scaled_dot_product_attention.
      const dim = op(scope, "Slice", [op(scope, "Shape", [q4]), ints([-1]), ints([1_000_000_000])]);
      const df = op(scope, "Cast", [dim], { to: 1 });
      s = op(scope, "Sqrt", [op(scope, "Div", [scalar(1), op(scope, "Sqrt", [df])])]);
    }
    const kt = op(scope, "Transpose", [k4], { perm: [0, 1, 3, 2] });
    const scores = op(scope, "MatMul", [op(scope, "Mul", [q4, s]), op(scope, "Mul", [kt, s])]);
    const probs = g.node("Softmax", [scores], { name: `${scope}/Softmax`, attrs: { axis: -1 } });
    const mixed = op(scope, "MatMul", [probs, v4]);
    const merged = op(scope, "Reshape", [op(scope, "Transpose", [mixed], { perm: [0, 2, 1, 3] }), ints([0, -1, C])]);
    const proj = op(`${scope}/to_out.0`, "MatMul", [merged, weight([C, C], 0.7 / Math.sqrt(C))]);
    const out = op(`${scope}/to_out.0`, "Add", [proj, weight([C], 0.05)]);
    blocks.push({
      name: scope.slice(1),
      self: !kv,
      block: place,
      level,
      tensors: { q: q4.name, k: k4.name, v: v4.name, probs: probs.name, out: out.name },
    });
    return out;
  };
  /** Transformer2DModel: NCHW → tokens, attn1 (+ attn2), residual adds, back to NCHW, outer residual. */
  const transformer = (scope: string, h: ValueRef, level: number, place: ExpectedBlock["block"], cross: boolean) => {
    const shape = op(scope, "Shape", [h]);
    let x = op(scope, "Reshape", [op(scope, "Transpose", [h], { perm: [0, 2, 3, 1] }), ints([0, -1, C])]);
    const block = `${scope}/transformer_blocks.0`;
    const ln = (name: string, t: ValueRef) => op(`${block}/${name}`, "LayerNormalization", [t, weight([C], 0.05), weight([C], 0.05)], { axis: -1 });
    x = op(block, "Add", [attention(`${block}/attn1`, ln("norm1", x), null, level, place), x]);
    if (cross) x = op(block, "Add", [attention(`${block}/attn2`, ln("norm2", x), context, level, place), x]);
    const nhwc = op(scope, "Concat", [op(scope, "Gather", [shape, ints([0, 2, 3])], { axis: 0 }), ints([C])], { axis: 0 });
    const back = op(scope, "Transpose", [op(scope, "Reshape", [x, nhwc])], { perm: [0, 3, 1, 2] });
    return op(scope, "Add", [back, h]);
  };

  const batch = op("/unet", "Slice", [op("/unet", "Shape", [sample]), ints([0]), ints([1])]);
  const t = op("/unet/time_proj", "Unsqueeze", [op("/unet", "Expand", [timestep, batch]), ints([1])]);
  const temb = op("/unet/time_embedding", "MatMul", [op("/unet/time_embedding", "Div", [t, scalar(1000)]), weight([1, C], 1)]);
  let h = op("/unet", "Add", [conv("/unet/conv_in", sample, 4, C), op("/unet", "Unsqueeze", [temb, ints([2, 3])])]);
  const skip = transformer("/unet/down_blocks.0/attentions.0", h, 0, "down", true);
  h = conv("/unet/down_blocks.0/downsamplers.0/conv", skip, C, C, 2);
  h = transformer("/unet/mid_block/attentions.0", h, 1, "mid", false);
  const up = op("/unet/up_blocks.0/upsamplers.0", "Resize", [h, null, g.initializer("onnx::scales", Float32Array.of(1, 1, 2, 2), [4])], {});
  h = conv("/unet/up_blocks.0/resnets.0/conv1", op("/unet/up_blocks.0", "Concat", [up, skip], { axis: 1 }), 2 * C, C);
  h = transformer("/unet/up_blocks.0/attentions.0", h, 0, "up", true);
  g.output(conv("/unet/conv_out", h, C, 4), "f32", ["batch", 4, "height", "width"], "out_sample");
  const path = join(dir, "model.onnx");
  g.save(path, { opset: 17, externalData: { location: "model.onnx_data", minBytes: 100 } });
  return { path, blocks };
}
