/**
 * Loads a deferred part of the supervisor, a bundle of its own beside entrypoint.cjs in the image
 * (runtime/agent/build.ts LAZY_BUNDLES), with `require` resolved from this file: dist/ in the image and in
 * local mode, the TypeScript source under tsx in tests. Not `import()`: Node's ES module loader would read a
 * CommonJS file twice more to guess its format and list its exports (~0.1 s for the inbox opener).
 */
import { createRequire } from 'node:module';

const load = createRequire(__filename);

export const loadInboxOpener = async (): Promise<typeof import('./inbox-opener.js')> =>
  load('./inbox-opener.js') as typeof import('./inbox-opener.js');

export const loadSts = async (): Promise<typeof import('./sts.js')> => load('./sts.js') as typeof import('./sts.js');
