/**
 * STS for Bedrock agents' model sessions (entrypoint.ts): its own bundle beside the supervisor's
 * (runtime/agent/build.ts LAZY_BUNDLES), loaded by the first AssumeRole, so the other agents never load it.
 */
export { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
