/**
 * Sizes of the relay's frames, apart from relay-protocol.ts so the supervisor's relay client can import them without
 * building the protocol's zod schemas at start (it validates nothing with them; the relay does).
 */

/** API Gateway allows 128 KB per message; runtime frames stay below it with room for the envelope. */
export const MAX_RUNTIME_FRAME_BYTES = 120 * 1024;
