import { describe, expect, test } from "bun:test";
import { createLogger } from "../../../pipelines/cli/log.ts";

function capture(o: { verbose: boolean; quiet: boolean }) {
  const lines: string[] = [];
  const logger = createLogger(o, (l) => lines.push(l));
  logger.log("model %s, %d steps", "tiny", 4);
  logger.debug("cache at", "/tmp/x");
  return lines;
}

describe("createLogger", () => {
  test("by default writes log lines, formatted like console.log, and no debug", () => {
    expect(capture({ verbose: false, quiet: false })).toEqual(["model tiny, 4 steps"]);
  });

  test("with verbose adds debug lines", () => {
    expect(capture({ verbose: true, quiet: false })).toEqual(["model tiny, 4 steps", "debug: cache at /tmp/x"]);
  });

  test("with quiet writes nothing", () => {
    expect(capture({ verbose: false, quiet: true })).toEqual([]);
  });
});
