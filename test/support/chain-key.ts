/**
 * The audit chain key for tests: HMAC-SHA256 in memory (runtime/shared/chain-key.ts hmacChainKey), which
 * is what KMS GenerateMac/VerifyMac compute with an HMAC_256 key. One key per test process.
 */
import { randomBytes } from 'node:crypto';
import { hmacChainKey } from '../../runtime/shared/chain-key';

export const TEST_CHAIN = hmacChainKey(randomBytes(32));
