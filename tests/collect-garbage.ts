/**
 * A full, synchronous garbage collection on either runtime: Bun.gc, or V8's gc() where Deno runs
 * with --v8-flags=--expose-gc. Without either it throws, so a soak never passes without collecting.
 */
export function collectGarbage(): void {
  const runtime = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (runtime.Bun) return runtime.Bun.gc(true);
  if (!runtime.gc) throw new Error("no gc(): run Deno with --v8-flags=--expose-gc");
  runtime.gc();
}
