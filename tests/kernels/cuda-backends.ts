import type { Backend } from "../../pipelines/runtime/backend.ts";

/** CUDA backends for the conformance test; none (and the reason printed once) without a GPU. */
export function cudaBackendsForTests(): [string, () => Backend][] {
  console.warn("conformance: cuda backend not wired yet; running CPU backends only");
  return [];
}
