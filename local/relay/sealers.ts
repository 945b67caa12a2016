/**
 * The relay's record sealers in local mode: one KMS client per relay function, signed with that function's
 * own local keys, so the vault stand-in holds each to its grant (local/aws/policy.ts RELAY_KMS_GRANTS) as
 * the user keys' policies hold the deployed roles (the runtime side seals; device and fan-out only open).
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { userKeyArns } from '../../runtime/control-plane/aws/kms';
import { kmsChainKey } from '../../runtime/shared/chain-key';
import { RecordSealer } from '../../runtime/shared/envelope';
import type { ChainKey } from '../../runtime/shared/event-chain';
import type { CredentialStore, RelayFunctionName } from '../aws/principals';
import type { RelaySealers } from './index';

export function localRelaySealers(o: {
  readonly vaultEndpoint: string;
  readonly region: string;
  readonly deployment: string;
  readonly credentials: CredentialStore;
}): RelaySealers {
  const sealer = (name: RelayFunctionName) => {
    const kms = new KMSClient({
      endpoint: o.vaultEndpoint,
      region: o.region,
      credentials: o.credentials.issue({ kind: 'relay', name }),
      maxAttempts: 2,
    });
    return new RecordSealer(kms, userKeyArns(kms, o.deployment));
  };
  return { runtime: sealer('relay-runtime'), device: sealer('relay-device'), fanout: sealer('relay-fanout') };
}

/** The runtime relay's MAC under the audit chain key (GenerateMac, as the relay-runtime principal). */
export function localRelayChainKey(o: {
  readonly vaultEndpoint: string;
  readonly region: string;
  readonly credentials: CredentialStore;
  readonly keyArn: string;
}): ChainKey {
  const kms = new KMSClient({
    endpoint: o.vaultEndpoint,
    region: o.region,
    credentials: o.credentials.issue({ kind: 'relay', name: 'relay-runtime' }),
    maxAttempts: 2,
  });
  return kmsChainKey(kms, o.keyArn);
}
