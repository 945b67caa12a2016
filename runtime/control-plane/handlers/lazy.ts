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

/** The names of `T`'s methods. */
type MethodOf<T> = { [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T];

/**
 * Stands in for an object that `load` builds on the first call of one of `methods`, each of which must return a
 * promise. A dependency a function's first request does not need (the reaper's launcher, the fan-out's sealer when
 * nobody listens) is then neither loaded, compiled nor built before that request: each such SDK client costs its
 * first call 10-30 ms (issue 15, `npm run bench:control-plane`). A failed load is tried again by the next call.
 */
export function deferred<T, K extends MethodOf<T>>(load: () => Promise<T>, methods: readonly K[]): Pick<T, K> {
  const loaded = lazy(load);
  const stand: Partial<Record<K, unknown>> = {};
  for (const method of methods) {
    stand[method] = async (...args: unknown[]) => {
      const target = await loaded();
      return (target[method] as (...a: unknown[]) => Promise<unknown>).apply(target, args);
    };
  }
  return stand as Pick<T, K>;
}
