import { createRequire } from 'node:module';
import * as path from 'node:path';
import { isConditionKeyArray, runSimulation, typeForContextKey } from '@cloud-copilot/iam-simulate';

/**
 * A real IAM policy evaluator for tests (@cloud-copilot/iam-simulate, AGPL: tests only), fast enough
 * for isolation matrices of tens of thousands of requests.
 *
 * Every policy goes through the package's public `runSimulation` once (which validates it, and whose
 * result is checked against this class's), then requests are evaluated by the engine `runSimulation`
 * itself calls (`authorize`), with each policy parsed once and reduced to the statements whose Action
 * can match the request. Why not `runSimulation` for every request:
 * - it drops `kms:EncryptionContext:<key>` context keys (its matcher for variable keys only knows
 *   `/`-separated ones such as `aws:PrincipalTag/x`), so every Secrets Manager decrypt would look like
 *   it lacks its encryption context; `runUnsafeSimulation` keeps them but crashes on resource policies;
 * - it re-validates and re-parses every policy on every call (~2-3 ms; this path is ~0.2 ms).
 * Dropping statements whose Action cannot match never changes a result: such a statement neither allows
 * nor denies the request. NotAction statements are always kept.
 */

const engineDir = path.dirname(createRequire(__filename).resolve('@cloud-copilot/iam-simulate'));
const engineRequire = createRequire(path.join(engineDir, 'index.js'));
const { loadPolicy } = engineRequire('@cloud-copilot/iam-policy');
const { authorize } = engineRequire('./core_engine/CoreSimulatorEngine.js');
const { AwsRequestImpl } = engineRequire('./request/request.js');
const { RequestContextImpl } = engineRequire('./requestContext.js');
const { DiscoveryContextKeyConstraints } = engineRequire('./context_keys/discoveryContextKeyConstraints.js');

// The policy package compares condition operator names (`ForAllValues`, `...IfExists`) with
// `localeCompare(..., { sensitivity: 'accent' })`, which builds a collator per call: over half of an
// evaluation's time. Operator names are ASCII, where lower-casing both sides decides the same.
// Its modules call these through the exports object, so replacing them there takes effect.
const policyUtils = createRequire(engineRequire.resolve('@cloud-copilot/iam-policy'))('./utils.js');
const asciiEquals = (a: string, b: string) => a === b || (a.length === b.length && a.toLowerCase() === b.toLowerCase());
policyUtils.caseInsensitiveEquals = asciiEquals;
policyUtils.caseInsensitiveEndsWith = (value: string, suffix: string) =>
  value.length >= suffix.length && asciiEquals(value.slice(value.length - suffix.length), suffix);

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

export interface PolicyJson {
  Version?: string;
  Statement: StatementJson[] | StatementJson;
}
interface StatementJson {
  Action?: string | string[];
  NotAction?: string | string[];
  [key: string]: unknown;
}

/** A principal as a template defines it: its ARN, tags and identity policies. */
export interface SimulatedPrincipal {
  readonly arn: string;
  readonly accountId: string;
  readonly tags?: Readonly<Record<string, string>>;
  /** `aws:userid` of its sessions (a role's unique id, `:`, the session name), when the policies read it. */
  readonly userId?: string;
  readonly identityPolicies: readonly { readonly name: string; readonly policy: PolicyJson }[];
}

export interface SimulatedRequest {
  readonly principal: SimulatedPrincipal;
  readonly action: string;
  readonly resource: string;
  readonly resourceAccount: string;
  readonly resourcePolicy?: PolicyJson;
  /**
   * Request context. `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalTag/*` and
   * `aws:SecureTransport: true` are added from the principal; set a key to undefined to leave it out.
   */
  readonly context?: Readonly<Record<string, string | string[] | undefined>>;
}

export class IamSimulator {
  /** Engine evaluations so far (each request is one). */
  evaluations = 0;
  private readonly validated = new WeakSet<object>();
  private readonly parsed = new WeakMap<object, Map<string, unknown | null>>();
  private readonly keyIsArray = new Map<string, boolean>();

  async evaluate(request: SimulatedRequest): Promise<Decision> {
    const context = await this.context(request);
    const policies = [
      ...request.principal.identityPolicies.map((p) => p.policy),
      ...(request.resourcePolicy ? [request.resourcePolicy] : []),
    ];
    if (policies.some((p) => !this.validated.has(p))) {
      await this.crossCheck(request, context);
      for (const policy of policies) this.validated.add(policy);
    }
    return this.authorize(request, context);
  }

  private authorize(request: SimulatedRequest, context: Record<string, string | string[]>): Decision {
    this.evaluations += 1;
    const identityPolicies = request.principal.identityPolicies
      .map((p) => this.forAction(p.policy, p.name, request.action))
      .filter((p) => p !== null);
    const resourcePolicy = request.resourcePolicy
      ? this.forAction(request.resourcePolicy, 'resource', request.action)
      : undefined;
    const analysis = authorize({
      request: new AwsRequestImpl(
        request.principal.arn,
        { resource: request.resource, accountId: request.resourceAccount },
        request.action,
        new RequestContextImpl(context),
      ),
      sessionPolicy: undefined,
      identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: resourcePolicy ?? undefined,
      permissionBoundaries: undefined,
      vpcEndpointPolicies: undefined,
      simulationParameters: {
        simulationMode: 'Strict',
        discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]),
      },
      serviceSettings: { s3: {} },
    });
    return analysis.result as Decision;
  }

  /**
   * Validates the request's policies with the public API and checks that it decides the request as the
   * fast path does (except for encryption-context keys, which runSimulation drops).
   */
  private async crossCheck(request: SimulatedRequest, context: Record<string, string | string[]>): Promise<void> {
    const result = await runSimulation(
      {
        identityPolicies: request.principal.identityPolicies.map((p) => ({ name: p.name, policy: p.policy })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: request.resourcePolicy,
        request: {
          action: request.action,
          principal: request.principal.arn,
          resource: { accountId: request.resourceAccount, resource: request.resource },
          contextVariables: context,
        },
      },
      {},
    );
    if (result.resultType === 'error') {
      throw new Error(
        `iam-simulate rejects a policy of ${request.principal.arn} / ${request.resource}: ${JSON.stringify(result.errors)}`,
      );
    }
    if (Object.keys(context).some((k) => k.toLowerCase().startsWith('kms:encryptioncontext:'))) return;
    const fast = this.authorize(request, context);
    this.evaluations -= 1;
    if (result.overallResult !== fast) {
      throw new Error(
        `runSimulation says ${result.overallResult}, the fast path ${fast}: ${request.action} by ${request.principal.arn} on ${request.resource}`,
      );
    }
  }

  private forAction(policy: PolicyJson, name: string, action: string): unknown | null {
    let byAction = this.parsed.get(policy);
    if (!byAction) this.parsed.set(policy, (byAction = new Map()));
    if (!byAction.has(action)) {
      const statements = [policy.Statement]
        .flat()
        .filter((s) => s.NotAction !== undefined || matchesAction(s.Action, action));
      byAction.set(action, statements.length === 0 ? null : loadPolicy({ ...policy, Statement: statements }, { name }));
    }
    return byAction.get(action)!;
  }

  private async context(request: SimulatedRequest): Promise<Record<string, string | string[]>> {
    const principal = request.principal;
    const all: Record<string, string | string[] | undefined> = {
      'aws:PrincipalArn': principal.arn,
      'aws:PrincipalAccount': principal.accountId,
      'aws:SecureTransport': 'true',
      ...(principal.userId ? { 'aws:userid': principal.userId } : {}),
      ...Object.fromEntries(Object.entries(principal.tags ?? {}).map(([k, v]) => [`aws:PrincipalTag/${k}`, v])),
      ...request.context,
    };
    const out: Record<string, string | string[]> = {};
    for (const [key, value] of Object.entries(all)) {
      if (value === undefined) continue;
      let isArray = this.keyIsArray.get(key);
      if (isArray === undefined) {
        isArray = isConditionKeyArray(await typeForContextKey(key));
        this.keyIsArray.set(key, isArray);
      }
      out[key] = isArray ? [value].flat() : [value].flat()[0];
    }
    return out;
  }
}

function matchesAction(pattern: string | string[] | undefined, action: string): boolean {
  return [pattern ?? []].flat().some((p) => {
    const regex = new RegExp(
      `^${p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      'i',
    );
    return regex.test(action);
  });
}
