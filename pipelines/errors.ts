/**
 * User-facing error classes. A recipe's top level prints `error: <message>` (plus `hint`) and
 * exits non-zero for any of these; stacks only appear with --verbose.
 */
export class LatentloomError extends Error {
  /** Exit code the CLI uses for this error. */
  readonly exitCode: number = 1;
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bad flag, config key or value. Exit code 2, like other CLI tools' usage errors. */
export class UsageError extends LatentloomError {
  override readonly exitCode = 2;
}

/** A model folder or file that is missing, incomplete or not what was expected. */
export class ModelError extends LatentloomError {}

/** A malformed frame stream or image. */
export class FrameError extends LatentloomError {}
