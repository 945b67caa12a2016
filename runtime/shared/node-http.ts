/**
 * What the control-plane and relay bundles get for `node:http` (lib/constructs/function-bundle.ts FUNCTION_BUILD.alias):
 * the module as process.getBuiltinModule returns it, under the names an ES module import of node:http offers.
 *
 * Node's own ES module namespace of node:http reads every export when it is built; from Node 22 that includes
 * http.WebSocket, whose getter loads undici: ~30-60 ms of every traced function's first call on Lambda's Node 24 (the
 * Powertools tracer imports node:http as an ES module; issue 15), for a WebSocket nothing here uses. Getters
 * (globalAgent, maxHeaderSize, WebSocket) are not copied: read them from the default export, the module itself. A
 * bundled module importing a name missing here fails the build ("No matching export").
 * https://nodejs.org/api/process.html#processgetbuiltinmoduleid
 */
import type * as NodeHttp from 'node:http';

const http = process.getBuiltinModule('node:http') as typeof NodeHttp;

export default http;
export const {
  Agent,
  ClientRequest,
  IncomingMessage,
  METHODS,
  OutgoingMessage,
  STATUS_CODES,
  Server,
  ServerResponse,
  createServer,
  get,
  request,
  setMaxIdleHTTPParsers,
  validateHeaderName,
  validateHeaderValue,
} = http;
