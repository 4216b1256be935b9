/**
 * Runs a campaign in a child process and watches it: a crash (a signal or a non-zero exit) and a
 * hang (no new mutation index for `hangSeconds`) are caught here, where the process that had them
 * cannot report them itself.
 */
import { join } from "node:path";
import type { CampaignResult } from "./run.ts";
import type { Format } from "./targets.ts";

export interface Supervised {
  result?: CampaignResult;
  crash?: { index: number; exit: number | null; signal: string | null };
  hang?: { index: number };
}

export async function supervise(format: Format, count: number, seed: number, hangSeconds = 20): Promise<Supervised> {
  const proc = Bun.spawn([process.execPath, "run", join(import.meta.dir, "run.ts"), format, String(count), String(seed)], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  let index = -1;
  let last = Date.now();
  let hung = false;
  const watchdog = setInterval(() => {
    if (Date.now() - last > hangSeconds * 1000) {
      hung = true;
      proc.kill("SIGKILL");
    }
  }, 500);
  const decoder = new TextDecoder();
  const readIndices = (async () => {
    let rest = "";
    for await (const chunk of proc.stderr) {
      rest += decoder.decode(chunk, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const l of lines) if (/^\d+$/.test(l)) (index = Number(l)), (last = Date.now());
    }
  })();
  const [stdout, exit] = await Promise.all([new Response(proc.stdout).text(), proc.exited, readIndices]);
  clearInterval(watchdog);
  if (hung) return { hang: { index } };
  if (exit !== 0 || proc.signalCode) return { crash: { index, exit, signal: proc.signalCode === null ? null : String(proc.signalCode) } };
  return { result: JSON.parse(stdout) as CampaignResult };
}
