/**
 * The AWS Encryption SDK names envelope.ts uses, re-exported by name for its deferred `import()`. The
 * functions ship as split ES modules (lib/constructs/function-bundle.ts), where an `import()` chunk exports
 * only names known when bundling; @aws-crypto/client-node re-exports these from CommonJS packages with
 * `export *`, so importing the package itself would give a namespace without them.
 */
export {
  buildClient,
  CommitmentPolicy,
  getLocalCryptographicMaterialsCache,
  KmsKeyringNode,
  NodeCachingMaterialsManager,
} from '@aws-crypto/client-node';
