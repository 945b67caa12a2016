/** An error as an AWS JSON service returns it: the SDK turns `__type` into the thrown error's name. */
export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

/** What a stand-in answers for a failure: the AwsError it threw, or a 500 for anything else (its stack to stderr). */
export function asAwsError(error: unknown): AwsError {
  if (error instanceof AwsError) return error;
  process.stderr.write(`cubicle local: ${(error as Error).stack ?? String(error)}\n`);
  return new AwsError('InternalFailure', 'The local stand-in failed to process the request.', 500);
}
