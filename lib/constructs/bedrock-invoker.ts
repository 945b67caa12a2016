import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { bedrockInvokerRoleName, platformRolePath } from '../../runtime/shared/names';
import type { CubicleConfig } from '../config/schema';
import { agentRolesPattern } from '../fleet/principals';
import { allow, policy } from '../fleet/policy-json';
import { compare } from '../util/order';

/** The task-role tag the invoker's trust requires: only Bedrock agents' roles carry `provider: bedrock`. */
export const PROVIDER_TAG = 'provider';

/** What a model session may do: invoke the configured models, nothing else. */
export const MODEL_INVOKE_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'] as const;

/**
 * The role whose short-lived sessions a Bedrock agent's CLI invokes its models with (claim 4, docs/isolation-claims.md:
 * the CLI holds no identity of the task's). The supervisor assumes it with the
 * task role for each run (runtime/agent/src/model-credentials.ts) and hands the workbench that session
 * only. One role per deployment: every Bedrock agent may invoke the same configured models, so a role per
 * pair would grant nothing narrower and would double the account's roles.
 *
 * Trust: principals of this account whose ARN is a task role of this deployment and that are tagged
 * `provider: bedrock`; each such task role's own policy also allows `sts:AssumeRole` on this role alone
 * (same-account trust through the account principal needs both:
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
 */
export class BedrockInvoker extends Construct {
  readonly role: iam.CfnRole;

  constructor(scope: Construct, id: string, props: { readonly config: CubicleConfig }) {
    super(scope, id);
    const { config } = props;
    const stack = Stack.of(this);
    this.role = new iam.CfnRole(this, 'Role', {
      roleName: bedrockInvokerRoleName(config.name),
      path: platformRolePath(config.name),
      description: "Cubicle: short-lived sessions for Bedrock agents' CLIs; may only invoke the configured models",
      // Role chaining caps a session at an hour whatever this says; the default (1 h) states it.
      maxSessionDuration: 3600,
      assumeRolePolicyDocument: policy({
        Sid: 'BedrockAgentsTaskRoles',
        Effect: 'Allow',
        Principal: { AWS: `arn:${stack.partition}:iam::${config.account}:root` },
        Action: 'sts:AssumeRole',
        Condition: {
          ArnLike: { 'aws:PrincipalArn': agentRolesPattern(this, config) },
          StringEquals: { [`aws:PrincipalTag/${PROVIDER_TAG}`]: 'bedrock' },
        },
      }),
      policies: [
        {
          policyName: 'invoke-models',
          policyDocument: policy(
            allow('InvokeConfiguredBedrockModels', [...MODEL_INVOKE_ACTIONS], bedrockModelArns(stack, config)),
          ),
        },
      ],
    });
    Validations.of(this.role).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: 'One statement naming the configured models; inline, it lives and dies with the role.',
    });
    for (const resource of bedrockModelArns(stack, config).filter((arn) => arn.includes('*'))) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason:
          'A cross-region inference profile routes to its foundation model in any region of its geography, so the model must be allowed in every region; only the configured models are allowed.',
      });
    }
  }
}

/** Geographic prefixes of Bedrock cross-region inference profiles (`us.anthropic.…`). */
const INFERENCE_PROFILE_PREFIX = /^(us|us-gov|eu|apac|jp|au|ca|global)\.(.+)$/;

/**
 * Invoking the configured Bedrock models. A cross-region inference profile routes to its foundation model
 * in any region of its geography, so that model is allowed in every region (the profile itself only in
 * the home region). https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html
 */
export function bedrockModelArns(stack: Stack, config: CubicleConfig): string[] {
  const resources = new Set<string>();
  for (const model of config.bedrock?.models ?? []) {
    const profile = INFERENCE_PROFILE_PREFIX.exec(model);
    if (profile) {
      resources.add(`arn:${stack.partition}:bedrock:${stack.region}:${config.account}:inference-profile/${model}`);
      resources.add(`arn:${stack.partition}:bedrock:*::foundation-model/${profile[2]}`);
    } else {
      resources.add(`arn:${stack.partition}:bedrock:${stack.region}::foundation-model/${model}`);
    }
  }
  return [...resources].sort(compare);
}
