import { describe, expect, test } from "bun:test";
import { createProgress, formatDuration } from "../../../pipelines/io/progress.ts";

/** A progress reporter on a fake clock, writing into an array. */
function harness(opts: { total?: number; tty: boolean; quiet?: boolean; format?: "text" | "json" }) {
  let t = 0;
  const out: string[] = [];
  const progress = createProgress({
    label: "frames",
    ...opts,
    write: (s) => void out.push(s),
    now: () => t,
  });
  return {
    out,
    progress,
    advance(ms: number) {
      t += ms;
    },
  };
}

describe("createProgress", () => {
  describe("when stderr is not a terminal", () => {
    test("prints a plain line every 5 seconds with elapsed, rate and ETA", () => {
      const h = harness({ total: 100, tty: false });
      for (let i = 0; i < 30; i++) {
        h.advance(500);
        h.progress.tick();
      }
      // Ticks at 0.5 s steps: lines at 5.0 s (10 done) and 10.0 s (20 done), 15 s (30 done).
      expect(h.out).toEqual([
        "frames: 10/100  elapsed 0:05  2.00 it/s  ETA 0:45\n",
        "frames: 20/100  elapsed 0:10  2.00 it/s  ETA 0:40\n",
        "frames: 30/100  elapsed 0:15  2.00 it/s  ETA 0:35\n",
      ]);
    });

    test("ends with one final line at done(), slow rates shown as s/it", () => {
      const h = harness({ total: 4, tty: false });
      for (let i = 0; i < 4; i++) {
        h.advance(2000);
        h.progress.tick();
      }
      h.progress.done();
      h.progress.done();
      expect(h.out.at(-1)).toBe("frames: 4/4  elapsed 0:08  2.00 s/it\n");
      expect(h.out.length).toBe(2);
    });

    test("counts without a total when none is given", () => {
      const h = harness({ tty: false });
      h.advance(1000);
      h.progress.tick(3);
      h.progress.done();
      expect(h.out).toEqual(["frames: 3  elapsed 0:01  3.00 it/s\n"]);
    });
  });

  describe("when stderr is a terminal", () => {
    test("redraws a bar in place, at most every 100 ms, and ends the line at done()", () => {
      const h = harness({ total: 8, tty: true });
      h.advance(1000);
      h.progress.tick(); // drawn: first draw
      h.advance(50);
      h.progress.tick(); // skipped: too soon
      h.advance(950);
      h.progress.tick(4);
      h.progress.done();
      expect(h.out).toEqual([
        "\r\x1b[2Kframes [###---------------------] 1/8  elapsed 0:01  1.00 it/s  ETA 0:07",
        "\r\x1b[2Kframes [##################------] 6/8  elapsed 0:02  3.00 it/s  ETA 0:01",
        "\r\x1b[2Kframes [##################------] 6/8  elapsed 0:02  3.00 it/s  ETA 0:01",
        "\n",
      ]);
    });
  });

  test("writes nothing when quiet", () => {
    const h = harness({ total: 3, tty: true, quiet: true });
    h.advance(1000);
    h.progress.tick();
    h.progress.done();
    expect(h.out).toEqual([]);
  });

  test("formats durations as m:ss and h:mm:ss", () => {
    expect([formatDuration(0), formatDuration(65), formatDuration(3723), formatDuration(NaN)]).toEqual([
      "0:00",
      "1:05",
      "1:02:03",
      "?",
    ]);
  });
});

describe("createProgress with format json (the contract tools that wrap us rely on)", () => {
  const parse = (out: string[]) => out.map((line) => (expect(line.endsWith("\n")).toBe(true), JSON.parse(line)));

  test("writes one line per tick and a final one, with done, total, elapsed and a linear ETA", () => {
    const h = harness({ total: 4, tty: true, format: "json" });
    for (let i = 0; i < 2; i++) {
      h.advance(1500);
      h.progress.tick();
    }
    h.progress.done();
    expect(parse(h.out)).toEqual([
      { label: "frames", done: 1, total: 4, elapsed_s: 1.5, eta_s: 4.5, final: false },
      { label: "frames", done: 2, total: 4, elapsed_s: 3, eta_s: 3, final: false },
      { label: "frames", done: 2, total: 4, elapsed_s: 3, eta_s: 3, final: true },
    ]);
  });

  test("an unknown total gives null total and ETA; done() twice writes one final line", () => {
    const h = harness({ tty: false, format: "json" });
    h.advance(250);
    h.progress.tick(3);
    h.progress.done();
    h.progress.done();
    expect(parse(h.out)).toEqual([
      { label: "frames", done: 3, total: null, elapsed_s: 0.25, eta_s: null, final: false },
      { label: "frames", done: 3, total: null, elapsed_s: 0.25, eta_s: null, final: true },
    ]);
  });
});
