/**
 * A minimal recipe for the frame source/sink tests: copies frames from argv[2] (default "-")
 * to argv[3] (default "-"), with progress on stderr, and ends like recipes do on errors.
 * Optional argv[4]: raw --size WxH.
 */
import { LatentloomError } from "../../../pipelines/errors.ts";
import { parseSize } from "../../../pipelines/io/frame.ts";
import { openFrameSink } from "../../../pipelines/io/frame-sink.ts";
import { openFrameSource } from "../../../pipelines/io/frame-source.ts";
import { createProgress } from "../../../pipelines/io/progress.ts";

const [input = "-", output = "-", size] = process.argv.slice(2);
try {
  const src = await openFrameSource(input, size ? { size: parseSize(size) } : {});
  const out = openFrameSink(output, src.meta);
  const progress = createProgress({ label: "copy", tty: false });
  try {
    for await (const frame of src.frames) {
      await out.write(frame);
      progress.tick();
    }
  } finally {
    await out.close();
    progress.done();
  }
} catch (e) {
  if (!(e instanceof LatentloomError)) throw e;
  process.stderr.write(`error: ${e.message}\n`);
  process.exit(e.exitCode);
}
