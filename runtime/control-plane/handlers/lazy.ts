/**
 * Cold start does only the cheap, must-fail-fast work (environment, roster); the SDK clients and the
 * handler logic load on the first invocation, so a broken environment fails before any client exists.
 */
export function lazy<T>(build: () => Promise<T>): () => Promise<T> {
  let ready: Promise<T> | undefined;
  return () => {
    ready ??= build().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
}
