import { statSync } from 'node:fs';
import * as path from 'node:path';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { FleetError } from './shards';
import { CLOUDFORMATION_MAX_TEMPLATE_BYTES } from './template-bytes';

/**
 * Refuses an assembly with a template CloudFormation would refuse. CDK only warns (its annotation
 * `@aws-cdk/core:Stack.templateSize`), and the deploy would fail minutes later; shard planning keeps new
 * users' shards well under the limit, so this catches assigned users who grew.
 */
export function refuseOversizedTemplates(assembly: CloudAssembly): void {
  const oversized = assembly.stacks
    .map((stack) => ({
      name: stack.stackName,
      bytes: statSync(path.join(assembly.directory, stack.templateFile)).size,
    }))
    .filter((t) => t.bytes > CLOUDFORMATION_MAX_TEMPLATE_BYTES);
  if (oversized.length === 0) return;
  throw new FleetError(
    `${oversized.map((t) => `${t.name}'s template is ${t.bytes} bytes`).join('; ')}, over CloudFormation's ${CLOUDFORMATION_MAX_TEMPLATE_BYTES}: ` +
      `a Fleet shard grows this big when its users gain agents or connections after they were placed; remove agents or connections ` +
      `from users of that shard (moving a user to another shard in the lock file replaces their key, secrets and access points).`,
  );
}
