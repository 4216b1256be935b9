/**
 * The tiny image embedder of the video family: what VideoCrafter's OpenCLIP ViT-H/14 + Resampler
 * pair does, in one graph, `pixel_values` [batch_size, 3, 224, 224] (CLIP-normalised) →
 * `image_embeds` [batch_size, 16, 64] (the UNet's image tokens). A small strided conv stack and
 * the picture's mean colour feed one projection to 16 tokens, so pictures of different colour or
 * layout give different tokens; the LayerNorm keeps them at the text embeddings' scale.
 */
import { conv, layerNorm, linear, silu } from "../layers.ts";
import { Net } from "../net.ts";
import { UNET_SHAPE } from "../unet-blocks.ts";
import type { Rng } from "../../random.ts";
import { VIDEO_UNET_SHAPE } from "./unet3d.ts";

export const IMAGE_ENCODER_SIZE = 224;

export function buildTinyImageEncoderNet(rng: Rng): Net {
  const net = new Net("tiny_image_encoder", rng);
  const g = net.g;
  const tokens = VIDEO_UNET_SHAPE.imageTokens;
  const D = UNET_SHAPE.contextDim;
  const pixels = g.input("pixel_values", "f32", ["batch_size", 3, IMAGE_ENCODER_SIZE, IMAGE_ENCODER_SIZE]);
  const small = net.op("/patch_pool", "AveragePool", [pixels], { kernel_shape: [8, 8], strides: [8, 8] });
  let h = silu(net, "/encoder/act1", conv(net, "/encoder/conv1", small, 3, 16, { stride: 2 }));
  h = silu(net, "/encoder/act2", conv(net, "/encoder/conv2", h, 16, 32, { stride: 2 }));
  const features = net.op("/pool", "Flatten", [net.op("/pool", "GlobalAveragePool", [h])], { axis: 1 });
  const colour = net.op("/pool", "Flatten", [net.op("/pool", "GlobalAveragePool", [pixels])], { axis: 1 });
  const joined = net.op("/pool", "Concat", [features, net.op("/pool", "Mul", [colour, net.floats([3])])], { axis: 1 });
  const projected = linear(net, "/resampler/proj", joined, 35, tokens * D);
  const grid = net.op("/resampler", "Reshape", [projected, net.ints([-1, tokens, D])]);
  const out = layerNorm(net, "/resampler/norm_out", grid, D);
  g.output(out, "f32", ["batch_size", tokens, D], "image_embeds");
  return net;
}
