/**
 * The whole of a launch request (launcher.ts): anything else (an override, a family, a role) is refused. Its
 * own module so the launcher function refuses a malformed request before its SDK clients load.
 */
import * as z from 'zod/mini';
import { ID_PATTERN } from '../shared/ids';

export const LAUNCH_REQUEST = z.strictObject({
  userId: z.string().check(z.regex(ID_PATTERN)),
  agentId: z.string().check(z.regex(ID_PATTERN)),
  sessionId: z.string().check(z.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)),
});
