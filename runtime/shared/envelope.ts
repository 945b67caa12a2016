/**
 * Envelope encryption of the employee's words in the control-plane tables (docs/isolation-claims.md claim 5): message
 * text, replies, tool and approval summaries are sealed under the user's own KMS key with the AWS
 * Encryption SDK, so an operator who can read the tables reads ciphertext. The user key's policy
 * (lib/constructs/user-vault.ts) lets only that user's agent roles and the named control-plane roles use
 * it, only with an encryption context naming this user (and, for an agent role, its own agent); no IAM
 * policy in the account can grant it.
 *
 * - One call seals a value, one opens it: `seal`/`open` for text, `sealData`/`openData` for a record's
 *   JSON data (an event's `data`, an approval's summary fields).
 * - Encryption context: `user_id`, `agent_id`, `record` (which field: a sealed message body cannot be
 *   replayed as a reply). `open` refuses a value whose context is not exactly the one expected, and the
 *   strict keyring refuses one not under the user's key: a row an administrator forged under a key of
 *   their own is refused, not read.
 * - Data keys are cached (the SDK's caching materials manager over a bounded LRU): a data key seals at
 *   most CACHE_LIMITS.maxMessages values and lives at most CACHE_LIMITS.maxAgeMs, per (user, agent,
 *   record); opening a value under a cached data key calls KMS once per cache entry.
 * https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/data-key-caching.html
 *
 * Where it applies (runtime/shared/sealed-rows.ts): inbox bodies (the API seals, the runtime opens);
 * runtime events' `data` as `{ sealed }` (record 'event.data') and approvals' summary + hosts as one value
 * (record 'approval.summary'), sealed by the runtime relay before EventLog.append / PutItem, so the chain
 * hashes the sealed form; the API and the relay's device side and fan-out open them for the employee.
 * Lifecycle events carry no employee words and stay open. Sealers are RECORD_SEALERS, openers (Decrypt
 * only) RECORD_OPENERS (runtime/shared/names.ts); the runtime only ever opens its own inbox.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { encryptionContext, isSealed, SealError, SEALED_PREFIX, type RecordContext } from './sealed';
import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import type { NodeAlgorithmSuite, NodeCachingMaterialsManager } from '@aws-crypto/client-node';

/** The Encryption SDK loads on the first seal or open (~0.5 s of require): a process that never seals pays nothing. */
type Esdk = typeof import('./esdk');
let esdk: Promise<Esdk> | undefined;
const loadEsdk = () =>
  (esdk ??= import('./esdk.js').catch((error: unknown) => {
    esdk = undefined;
    throw error;
  }));

export {
  CONTEXT_KEYS,
  encryptionContext,
  isSealed,
  SEALED_PREFIX,
  SEALED_RECORDS,
  type RecordContext,
  type SealedRecord,
} from './sealed';

/** Bounds of the data-key cache (per process). */
export const CACHE_LIMITS = {
  /** Entries across all users, agents and records (LRU). */
  capacity: 1000,
  maxAgeMs: 5 * 60_000,
  /** Values sealed under one data key before a new one is generated. */
  maxMessages: 1000,
  maxBytes: 64 * 1024 * 1024,
} as const;

/**
 * ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY (0x0478): committing key derivation, no signature (every
 * reader of a pair's records may also write them through the control plane, so a signature adds nothing).
 */
const SUITE = 0x0478;

/** The user key's ARN for a user: the runtime knows its own (task definition); the control plane resolves aliases. */
export type KeyArnOf = (userId: string) => Promise<string>;

/** KMS failures that say nothing about the value (the SDK folds the keyring's KMS errors into one message). */
const TRANSIENT =
  /Throttling|KMSInternalException|DependencyTimeoutException|ServiceUnavailable|TimeoutError|ECONNRESET|ETIMEDOUT|EAI_AGAIN|socket hang up/;

/**
 * Seals and opens records under users' keys. One per process: its cache and its materials managers
 * (one per user key) live as long as the process.
 */
export class RecordSealer {
  private sdk:
    | Promise<{
        esdk: Esdk;
        client: ReturnType<Esdk['buildClient']>;
        cache: ReturnType<Esdk['getLocalCryptographicMaterialsCache']>;
      }>
    | undefined;
  private readonly managers = new Map<string, NodeCachingMaterialsManager>();
  private readonly kms: KmsMethods;

  constructor(
    kms: KMSClient,
    private readonly keyArnOf: KeyArnOf,
  ) {
    this.kms = kmsMethods(kms);
  }

  async seal(ctx: RecordContext, plaintext: string): Promise<string> {
    const bytes = Buffer.from(plaintext, 'utf8');
    const manager = await this.manager(ctx.userId);
    const { client } = await this.loaded();
    const { result } = await client.encrypt(manager, bytes, {
      encryptionContext: encryptionContext(ctx),
      suiteId: SUITE,
      plaintextLength: bytes.length,
    });
    return SEALED_PREFIX + result.toString('base64');
  }

  /** Opens a sealed value; throws SealError when it is not sealed, not under the user's key, or sealed for another context. */
  async open(ctx: RecordContext, sealed: unknown): Promise<string> {
    if (!isSealed(sealed)) throw new SealError(`${ctx.record} of ${ctx.userId}/${ctx.agentId} is not sealed`);
    const manager = await this.manager(ctx.userId);
    const { client } = await this.loaded();
    let out;
    try {
      out = await client.decrypt(manager, Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64'));
    } catch (error) {
      // A throttled or unavailable KMS is worth another try; anything else is a value this key cannot open.
      if (TRANSIENT.test(String((error as Error).message))) throw error;
      throw new SealError(
        `${ctx.record} of ${ctx.userId}/${ctx.agentId} could not be opened (${(error as Error).name})`,
      );
    }
    const expected = encryptionContext(ctx);
    const actual = out.messageHeader.encryptionContext;
    const same =
      Object.keys(actual).length === Object.keys(expected).length &&
      Object.entries(expected).every(([k, v]) => actual[k] === v);
    if (!same) throw new SealError(`${ctx.record} of ${ctx.userId}/${ctx.agentId} was sealed for another record`);
    return out.plaintext.toString('utf8');
  }

  /**
   * Loads the Encryption SDK ahead of the first seal or open (a process that will need it loads it early);
   * rejects when it cannot be loaded, and a later call tries again.
   */
  async load(): Promise<void> {
    await this.loaded();
  }

  /** A record's JSON data as one sealed value. */
  async sealData(ctx: RecordContext, data: Record<string, unknown>): Promise<string> {
    return this.seal(ctx, JSON.stringify(data));
  }

  async openData(ctx: RecordContext, sealed: unknown): Promise<Record<string, unknown>> {
    return JSON.parse(await this.open(ctx, sealed)) as Record<string, unknown>;
  }

  private loaded() {
    this.sdk ??= loadEsdk()
      .then((esdk) => ({
        esdk,
        client: esdk.buildClient({
          commitmentPolicy: esdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
          maxEncryptedDataKeys: 1,
        }),
        cache: esdk.getLocalCryptographicMaterialsCache<NodeAlgorithmSuite>(CACHE_LIMITS.capacity),
      }))
      .catch((error: unknown) => {
        this.sdk = undefined;
        throw error;
      });
    return this.sdk;
  }

  /**
   * The user key's materials manager. The key lookup (the control plane's DescribeKey of the user's alias, on a cold
   * cache) and the Encryption SDK's load run at once: on a process's first seal or open, neither waits for the other.
   */
  private async manager(userId: string): Promise<NodeCachingMaterialsManager> {
    const [keyArn, { esdk, cache }] = await Promise.all([this.keyArnOf(userId), this.loaded()]);
    const { KmsKeyringNode, NodeCachingMaterialsManager } = esdk;
    let manager = this.managers.get(keyArn);
    if (!manager) {
      // Strict: the generator is the one key that may seal, and the only key a value may be opened with.
      const keyring = new KmsKeyringNode({ generatorKeyId: keyArn, clientProvider: () => this.kms as never });
      manager = new NodeCachingMaterialsManager({
        backingMaterials: keyring,
        cache,
        partition: keyArn,
        maxAge: CACHE_LIMITS.maxAgeMs,
        maxMessagesEncrypted: CACHE_LIMITS.maxMessages,
        maxBytesEncrypted: CACHE_LIMITS.maxBytes,
      });
      this.managers.set(keyArn, manager);
    }
    return manager;
  }
}

type KmsMethods = Record<'generateDataKey' | 'encrypt' | 'decrypt', (input: never) => Promise<unknown>>;

/** The Encryption SDK calls `client.generateDataKey(...)`; the bare v3 client has only `send`. */
function kmsMethods(kms: KMSClient): KmsMethods {
  return {
    generateDataKey: (input) => kms.send(new GenerateDataKeyCommand(input)),
    encrypt: (input) => kms.send(new EncryptCommand(input)),
    decrypt: (input) => kms.send(new DecryptCommand(input)),
  };
}
