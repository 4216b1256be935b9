/**
 * The tiny CLIPTextModel (optimum I/O: int64 `input_ids` [batch_size, sequence_length] →
 * `last_hidden_state` [batch_size, sequence_length, 64], `pooler_output` [batch_size, 64]):
 * token + position embeddings, two pre-LN layers with causal self-attention and quick-GELU MLPs,
 * the final LayerNorm, and the pooled hidden state at the first highest id (the EOS).
 *
 * Token embeddings are drawn larger than position embeddings so that the words, not where they
 * stand, dominate what the UNet's cross-attention reads; with causal attention the padding EOS
 * positions after the prompt carry a mix of the prompt too, as in real CLIP.
 */
import { TINY_VOCAB_SIZE } from "./vocab.ts";
import { attention, layerNorm, linear } from "./layers.ts";
import { Net, type ValueRef } from "./net.ts";
import type { Rng } from "../random.ts";

export const TEXT_SHAPE = { hidden: 64, heads: 2, layers: 2, positions: 77, mlp: 256 } as const;

export function buildTinyTextEncoderNet(rng: Rng): Net {
  const net = new Net("tiny_text_encoder", rng);
  const g = net.g;
  const D = TEXT_SHAPE.hidden;
  const ids = g.input("input_ids", "i64", ["batch_size", "sequence_length"]);
  const emb = "/text_model/embeddings";
  const tokens = net.op(`${emb}/token_embedding`, "Gather", [net.normal("text_model.embeddings.token_embedding.weight", [TINY_VOCAB_SIZE, D], 1.0), ids], { axis: 0 });
  const seq = net.op(emb, "Gather", [net.op(emb, "Shape", [ids]), net.ints([1])], { axis: 0 });
  const positionIds = net.g.initializer("text_model.embeddings.position_ids", BigInt64Array.from({ length: TEXT_SHAPE.positions }, (_, i) => BigInt(i)), [1, TEXT_SHAPE.positions]);
  const positions = net.op(emb, "Slice", [positionIds, net.ints([0]), seq, net.ints([1])]);
  const posEmb = net.op(`${emb}/position_embedding`, "Gather", [net.normal("text_model.embeddings.position_embedding.weight", [TEXT_SHAPE.positions, D], 0.3), positions], { axis: 0 });
  let h = net.op(emb, "Add", [tokens, posEmb]);

  const n = TEXT_SHAPE.positions;
  const causal = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) causal[i * n + j] = -1e9;
  const fullMask = net.fixed("text_model.causal_attention_mask", causal, [n, n]);
  const seqSquare = net.op("/text_model", "Concat", [seq, seq], { axis: 0 });
  const mask = net.op("/text_model", "Slice", [fullMask, net.ints([0, 0]), seqSquare, net.ints([0, 1])]);

  for (let l = 0; l < TEXT_SHAPE.layers; l++) {
    const scope = `/text_model/encoder/layers.${l}`;
    const attn = attention(net, `${scope}/self_attn`, layerNorm(net, `${scope}/layer_norm1`, h, D), D, null, {
      heads: TEXT_SHAPE.heads,
      names: { q: "q_proj", k: "k_proj", v: "v_proj", out: "out_proj" },
      qkvBias: true,
      qkGain: 1.5,
      outGain: 0.8,
      mask,
    });
    h = net.op(scope, "Add", [h, attn]);
    h = net.op(scope, "Add", [h, mlp(net, `${scope}/mlp`, layerNorm(net, `${scope}/layer_norm2`, h, D))]);
  }
  const last = layerNorm(net, "/text_model/final_layer_norm", h, D);
  g.output(last, "f32", ["batch_size", "sequence_length", D], "last_hidden_state");
  const eos = net.op("/text_model", "ArgMax", [ids], { axis: -1, keepdims: 0 });
  const index = net.op("/text_model", "Unsqueeze", [eos, net.ints([1])]);
  const pooled = net.op("/text_model", "GatherND", [last, index], { batch_dims: 1 });
  g.output(pooled, "f32", ["batch_size", D], "pooler_output");
  return net;
}

/** CLIPMLP: fc1 → quick GELU (x · sigmoid(1.702x)) → fc2. */
function mlp(net: Net, scope: string, x: ValueRef): ValueRef {
  const h = linear(net, `${scope}/fc1`, x, TEXT_SHAPE.hidden, TEXT_SHAPE.mlp);
  const act = `${scope}/activation_fn`;
  const gated = net.op(act, "Mul", [h, net.op(act, "Sigmoid", [net.op(act, "Mul", [h, net.floats([1.702])])])]);
  return linear(net, `${scope}/fc2`, gated, TEXT_SHAPE.mlp, TEXT_SHAPE.hidden, { gain: 0.8 });
}
