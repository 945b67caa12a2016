import { Tracer } from '@aws-lambda-powertools/tracer';

/** One tracer per function: every SDK client it wraps shows up as a subsegment (active tracing). */
export const tracer = new Tracer();

export function traced<T>(client: T): T {
  return tracer.captureAWSv3Client(client);
}
