import { deferred } from '../../control-plane/handlers/lazy';
import type { Poster } from '../poster';

/**
 * A poster to one API stage's connections whose management client loads on its first post or close: a call that
 * sends nothing (a fan-out nobody listens to, a refused connect) does not load it.
 */
export function deferredPoster(endpoint: string): Poster {
  return deferred(async () => {
    const { managementClient, managementPoster } = await import('../poster.js');
    return managementPoster(managementClient(endpoint));
  }, ['post', 'close']);
}
