/**
 * The example app's ControlPlane functions as IAM principals: each function's role with its identity
 * policies resolved to plain values, for the IAM simulator. Shared by the IAM matrix (iam.test.ts) and the
 * test write guard (test/support/write-policies.ts). Read once per test file.
 */
import { ACCOUNT } from '../../../support/account';
import { exampleTemplates, resourcesOfType, type TemplateJson } from '../../../support/assembly';
import { CfnResolver } from '../../../support/cfn-intrinsics';
import type { PolicyJson, SimulatedPrincipal } from '../../../support/iam-simulator';
import { readFleetModel } from '../../../fleet/fleet-model';
import { roleIdOf, type FunctionName } from './template';

export const CONTROL_PLANE_STACK = 'acme-ControlPlane';
export const HOME_REGION = 'eu-west-1';

export interface ExampleControlPlane {
  readonly templates: ReturnType<typeof exampleTemplates>;
  /** The ControlPlane template. */
  readonly json: TemplateJson;
  readonly resolver: CfnResolver;
  readonly model: ReturnType<typeof readFleetModel>;
  /** A function's role as a principal; `rewrite` edits each resolved policy's JSON text first. */
  principalOf(name: FunctionName, rewrite?: (policyText: string) => string): SimulatedPrincipal;
}

let loaded: ExampleControlPlane | undefined;

export function exampleControlPlane(): ExampleControlPlane {
  if (loaded) return loaded;
  const templates = exampleTemplates();
  const json = templates.get(CONTROL_PLANE_STACK)!;
  const resolver = new CfnResolver(templates, {
    account: ACCOUNT,
    regionOf: (stack) => (stack.endsWith('-Edge') ? 'us-east-1' : HOME_REGION),
  });
  const model = readFleetModel({ resolver, templates, deployment: 'acme', account: ACCOUNT });
  const principalOf = (name: FunctionName, rewrite = (text: string) => text): SimulatedPrincipal => {
    const roleId = roleIdOf(json, name);
    const identityPolicies = resourcesOfType(json, 'AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
      .map(([id, p]) => ({
        name: id,
        policy: JSON.parse(
          rewrite(JSON.stringify(resolver.resolve(CONTROL_PLANE_STACK, p.Properties.PolicyDocument))),
        ) as PolicyJson,
      }));
    return { arn: resolver.getAtt(CONTROL_PLANE_STACK, roleId, 'Arn'), accountId: ACCOUNT, identityPolicies };
  };
  loaded = { templates, json, resolver, model, principalOf };
  return loaded;
}
