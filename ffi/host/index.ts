/**
 * The runtime's processes, streams, clock and YAML behind one interface (./types.ts).
 * Each implementation is imported only on its own runtime.
 */
import type { Host } from "./types.ts";

export type { Host, HostProcess, SpawnOptions, StreamWriter, SyncResult } from "./types.ts";

export const host: Host = "Deno" in globalThis ? (await import("./deno.ts")).denoHost : (await import("./bun.ts")).bunHost;

/** "bun 1.4.5" or "deno 2.9.6": which runtime this is, for logs and provenance. */
export function runtimeDescription(): string {
  const versions = process.versions as Record<string, string | undefined>;
  return host.runtime === "deno" ? `deno ${versions.deno ?? "?"}` : `bun ${versions.bun ?? "?"}`;
}
