import { Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/**
 * The DNS names this stack's own AWS resources are reached by, built once: the relay's functions address
 * the WebSocket APIs by them, and the VPC's DNS Firewall must let exactly them through
 * (lib/constructs/control-plane-egress.ts).
 */

/** `<api id>.execute-api.<region>.<suffix>`: the host of a regional API Gateway API's default endpoint. */
export function executeApiHost(scope: Construct, apiId: string): string {
  const stack = Stack.of(scope);
  return `${apiId}.execute-api.${stack.region}.${stack.urlSuffix}`;
}

/** `<bucket>.s3.<region>.<suffix>`: the virtual-hosted name the SDK's S3 client addresses a bucket by. */
export function s3BucketHost(scope: Construct, bucketName: string): string {
  const stack = Stack.of(scope);
  return `${bucketName}.s3.${stack.region}.${stack.urlSuffix}`;
}
