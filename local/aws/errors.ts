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
