/**
 * Deterministic builders of the embedded default model `tiny`: small, untrained,
 * Stable-Diffusion-shaped ONNX models (same names, dtypes, ranks, attention pattern and node-name
 * scopes as optimum exports) whose fixed weight design makes smooth, colourful images.
 *
 *   const dir = await ensureTinyModel();   // built once into the model cache
 *   using unet = Session.create(`${dir}/unet/model.onnx`);
 */
export {
  buildTinyControlNet,
  buildTinyTextEncoder,
  buildTinyUnet,
  buildTinyVaeDecoder,
  buildTinyVaeEncoder,
  ensureTinyModel,
  resolveModelDir,
  TINY_BUILDER_VERSION,
  TINY_SEED,
  TINY_VARIANTS,
  type TinyVariant,
  tinyModelFolderName,
  writeTinyModelFolder,
} from "./tiny-model.ts";
export { TEXT_SHAPE } from "./text-encoder.ts";
export { UNET_SHAPE } from "./unet-blocks.ts";
export { VAE_SCALING_FACTOR } from "./vae.ts";
export { UPSCALER_VAE_SCALING_FACTOR } from "./upscaler.ts";
