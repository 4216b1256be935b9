/**
 * The JSON files an optimum export of SD 1.x carries (reference/sd-onnx-layout.md §1.2, §5),
 * filled in with the tiny model's shapes.
 */
import { TINY_VOCAB_SIZE } from "./vocab.ts";
import { TEXT_SHAPE } from "./text-encoder.ts";
import { UNET_SHAPE } from "./unet-blocks.ts";
import { UPSCALER_BETAS, UPSCALER_NUM_CLASS_EMBEDS, UPSCALER_VAE_SCALING_FACTOR } from "./upscaler.ts";
import { VAE_SCALING_FACTOR } from "./vae.ts";

const DIFFUSERS_VERSION = "0.30.0";

export function modelIndex(controlnet: boolean): Record<string, unknown> {
  return {
    _class_name: controlnet ? "StableDiffusionControlNetPipeline" : "StableDiffusionPipeline",
    _diffusers_version: DIFFUSERS_VERSION,
    ...(controlnet ? { controlnet: ["diffusers", "ControlNetModel"] } : {}),
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ["diffusers", "DDIMScheduler"],
    text_encoder: ["transformers", "CLIPTextModel"],
    tokenizer: ["transformers", "CLIPTokenizer"],
    unet: ["diffusers", "UNet2DConditionModel"],
    vae: ["diffusers", "AutoencoderKL"],
  };
}

export const SCHEDULER_CONFIG = {
  _class_name: "DDIMScheduler",
  _diffusers_version: DIFFUSERS_VERSION,
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: "epsilon",
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  timestep_spacing: "leading",
  trained_betas: null,
};

export const TEXT_ENCODER_CONFIG = {
  architectures: ["CLIPTextModel"],
  model_type: "clip_text_model",
  hidden_act: "quick_gelu",
  hidden_size: TEXT_SHAPE.hidden,
  intermediate_size: TEXT_SHAPE.mlp,
  num_attention_heads: TEXT_SHAPE.heads,
  num_hidden_layers: TEXT_SHAPE.layers,
  max_position_embeddings: TEXT_SHAPE.positions,
  vocab_size: TINY_VOCAB_SIZE,
  layer_norm_eps: 1e-5,
  projection_dim: TEXT_SHAPE.hidden,
  bos_token_id: TINY_VOCAB_SIZE - 2,
  eos_token_id: TINY_VOCAB_SIZE - 1,
  pad_token_id: TINY_VOCAB_SIZE - 1,
  torch_dtype: "float32",
};

const unetCommon = {
  _diffusers_version: DIFFUSERS_VERSION,
  act_fn: "silu",
  // SD 1.x configs store the head count under this (misnamed) key.
  attention_head_dim: UNET_SHAPE.heads,
  block_out_channels: [...UNET_SHAPE.channels],
  cross_attention_dim: UNET_SHAPE.contextDim,
  down_block_types: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  flip_sin_to_cos: true,
  freq_shift: 0,
  in_channels: 4,
  layers_per_block: 1,
  norm_eps: 1e-5,
  norm_num_groups: UNET_SHAPE.groups,
  use_linear_projection: false,
};

export const UNET_CONFIG = {
  _class_name: "UNet2DConditionModel",
  ...unetCommon,
  center_input_sample: false,
  mid_block_type: "UNetMidBlock2DCrossAttn",
  out_channels: 4,
  sample_size: 32,
  up_block_types: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
};

export const CONTROLNET_CONFIG = {
  _class_name: "ControlNetModel",
  ...unetCommon,
  conditioning_embedding_out_channels: [8, 16, 32, 32],
  controlnet_conditioning_channel_order: "rgb",
};

export const VAE_CONFIG = {
  _class_name: "AutoencoderKL",
  _diffusers_version: DIFFUSERS_VERSION,
  act_fn: "silu",
  block_out_channels: [8, 16, 32, 32],
  down_block_types: ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
  up_block_types: ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
  in_channels: 3,
  out_channels: 3,
  latent_channels: 4,
  layers_per_block: 1,
  norm_num_groups: 4,
  sample_size: 256,
  scaling_factor: VAE_SCALING_FACTOR,
};

export const INPAINT_MODEL_INDEX = { ...modelIndex(false), _class_name: "StableDiffusionInpaintPipeline" };

/** diffusers' inpainting UNet config: 9 input channels (latents, mask, masked-image latents). */
export const INPAINT_UNET_CONFIG = { ...UNET_CONFIG, in_channels: 9 };

/** StableDiffusionUpscalePipeline's index (the x4 upscaler: max_noise_level 350). */
export const UPSCALER_MODEL_INDEX = {
  _class_name: "StableDiffusionUpscalePipeline",
  _diffusers_version: DIFFUSERS_VERSION,
  low_res_scheduler: ["diffusers", "DDPMScheduler"],
  max_noise_level: 350,
  scheduler: ["diffusers", "DDIMScheduler"],
  text_encoder: ["transformers", "CLIPTextModel"],
  tokenizer: ["transformers", "CLIPTokenizer"],
  unet: ["diffusers", "UNet2DConditionModel"],
  vae: ["diffusers", "AutoencoderKL"],
};

const upscalerBetas = { beta_start: UPSCALER_BETAS.start, beta_end: UPSCALER_BETAS.end, beta_schedule: "scaled_linear", num_train_timesteps: 1000 };

export const UPSCALER_SCHEDULER_CONFIG = { ...SCHEDULER_CONFIG, ...upscalerBetas, prediction_type: "v_prediction" };

export const UPSCALER_LOW_RES_SCHEDULER_CONFIG = {
  _class_name: "DDPMScheduler",
  _diffusers_version: DIFFUSERS_VERSION,
  ...upscalerBetas,
  clip_sample: false,
  trained_betas: null,
  variance_type: "fixed_small",
};

export const UPSCALER_UNET_CONFIG = {
  ...UNET_CONFIG,
  in_channels: 7,
  num_class_embeds: UPSCALER_NUM_CLASS_EMBEDS,
  sample_size: 128,
};

export const UPSCALER_VAE_CONFIG = { ...VAE_CONFIG, block_out_channels: [16, 16, 8], scaling_factor: UPSCALER_VAE_SCALING_FACTOR };
