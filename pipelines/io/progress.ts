/**
 * Progress on stderr (stdout may be carrying frames): a redrawn bar when stderr is a terminal,
 * else one plain line every few seconds, so logs stay readable. `quiet` silences it.
 *
 *   const progress = createProgress({ total: 120, label: "frames", quiet: args.quiet });
 *   for (…) { …; progress.tick(); }
 *   progress.done();
 */
export interface ProgressOptions {
  /** Steps expected; unknown (no bar, no ETA) when absent. */
  total?: number;
  label: string;
  quiet?: boolean;
  /** Where text goes; stderr unless given (tests). */
  write?: (text: string) => void;
  /** Draw a bar with carriage returns; default: whether stderr is a TTY. */
  tty?: boolean;
  /** Milliseconds clock; default performance.now (tests pass a fake one). */
  now?: () => number;
  /** Seconds between plain lines when not a TTY; default 5. */
  intervalSeconds?: number;
  /**
   * "json": one line per tick and a last one from done(), for tools that wrap us:
   * {"label","done","total","elapsed_s","eta_s","final"} (total and eta_s null when unknown).
   */
  format?: "text" | "json";
}

export interface Progress {
  tick(n?: number): void;
  done(): void;
}

/** Redraw the bar at most this often: redrawing per step can cost more than the step. */
const TTY_REDRAW_MS = 100;
const BAR_WIDTH = 24;

/** "1:05" or "1:02:03". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return "? it/s";
  return perSecond >= 1 || perSecond === 0 ? `${perSecond.toFixed(2)} it/s` : `${(1 / perSecond).toFixed(2)} s/it`;
}

function jsonProgress(label: string, total: number | undefined, write: (text: string) => void, now: () => number): Progress {
  const start = now();
  let count = 0;
  let finished = false;
  const emit = (final: boolean) => {
    const elapsed = (now() - start) / 1000;
    const eta = total !== undefined && count > 0 ? (elapsed / count) * Math.max(0, total - count) : null;
    const round = (s: number) => Math.round(s * 1000) / 1000;
    write(JSON.stringify({ label, done: count, total: total ?? null, elapsed_s: round(elapsed), eta_s: eta === null ? null : round(eta), final }) + "\n");
  };
  return {
    tick(n = 1) {
      if (finished) return;
      count += n;
      emit(false);
    },
    done() {
      if (finished) return;
      finished = true;
      emit(true);
    },
  };
}

export function createProgress(opts: ProgressOptions): Progress {
  if (opts.quiet) return { tick() {}, done() {} };
  const write = opts.write ?? ((text: string) => void process.stderr.write(text));
  const tty = opts.tty ?? Boolean(process.stderr.isTTY);
  const now = opts.now ?? (() => performance.now());
  const intervalMs = (opts.intervalSeconds ?? 5) * 1000;
  const total = opts.total !== undefined && opts.total > 0 ? opts.total : undefined;
  const start = now();
  let count = 0;
  // Plain lines start one interval in, so short runs print only the final line.
  let lastDraw = tty ? -Infinity : start;
  let finished = false;
  if (opts.format === "json") return jsonProgress(opts.label, total, write, now);

  function status(t: number): string {
    const elapsed = (t - start) / 1000;
    const rate = elapsed > 0 ? count / elapsed : NaN;
    const parts = [total ? `${count}/${total}` : `${count}`, `elapsed ${formatDuration(elapsed)}`, formatRate(rate)];
    if (total && count > 0 && count < total) parts.push(`ETA ${formatDuration((total - count) / rate)}`);
    return parts.join("  ");
  }

  function bar(): string {
    if (!total) return "";
    const filled = Math.min(BAR_WIDTH, Math.round((count / total) * BAR_WIDTH));
    return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] `;
  }

  function draw(t: number): void {
    lastDraw = t;
    if (tty) write(`\r\x1b[2K${opts.label} ${bar()}${status(t)}`);
    else write(`${opts.label}: ${status(t)}\n`);
  }

  return {
    tick(n = 1) {
      if (finished) return;
      count += n;
      const t = now();
      if (t - lastDraw >= (tty ? TTY_REDRAW_MS : intervalMs)) draw(t);
    },
    done() {
      if (finished) return;
      finished = true;
      draw(now());
      if (tty) write("\n");
    },
  };
}
