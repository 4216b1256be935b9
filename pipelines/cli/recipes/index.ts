/**
 * Every recipe by its command name, for `latentloom <command>` (bin/latentloom.ts). A new job adds
 * its spec here; the script it runs is recipes/<spec.recipe>.ts.
 */
import { attentionInterp } from "./attention-interp.ts";
import { continueSpec } from "./continue.ts";
import { deflicker } from "./deflicker.ts";
import { fifo } from "./fifo.ts";
import { latentBlend } from "./latent-blend.ts";
import { stylize } from "./stylize.ts";
import { img2img, txt2img } from "./txt2img.ts";

export const COMMANDS = {
  blend: latentBlend,
  interp: attentionInterp,
  txt2img,
  img2img,
  deflicker,
  fifo,
  stylize,
  continue: continueSpec,
} as const;
