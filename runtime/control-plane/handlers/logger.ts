import type { Logger } from '@aws-lambda-powertools/logger';
import { lazy } from './lazy';

/**
 * The function's Powertools logger, created by the first invocation (each handler's first step): loaded at
 * cold start, the logger and what it pulls in (node:console, node:crypto) cost ~10 ms, a fifth of a bare
 * `node` start (issue 15). A cold start that fails (a bad environment) throws before any log line anyway:
 * Lambda logs the error itself.
 */
export const functionLogger: () => Promise<Logger> = lazy(
  async () => new (await import('./powertools-logger.js')).Logger(),
);
