import { taskFamily } from '../../../runtime/shared/names';
import { adminFindings } from './shared';
import { listOf, principalsOf, statementsOf } from '../policies';
import { Check, code, outcome } from './types';

/** Claim 4: one tagged task role per pair, trusted only by ECS; every API route behind an authorizer. */

export const taskRoles: Check = {
  id: 'identity.task-roles',
  claim: 4,
  title:
    "Each pair has its own task role, tagged user_id/agent_id, trusted only by ECS tasks of this account, used only by the pair's task definition",
  run({ assembly, fleet }) {
    const findings: string[] = [...fleet.strays.filter((s) => s.startsWith('task role'))];
    const seen = new Map<string, string>();
    for (const pair of fleet.pairs) {
      const who = `${pair.userId}/${pair.agentId}`;
      if (seen.has(pair.key))
        findings.push(`${who}: two task roles (${seen.get(pair.key)} and ${pair.role.logicalId})`);
      seen.set(pair.key, pair.role.logicalId);
      const family = taskFamily(assembly.deployment, pair.userId, pair.agentId);
      for (const td of pair.taskDefinitions)
        if (td.family !== family)
          findings.push(`${who}: its role runs task definition family ${td.family}, not ${family}`);
      for (const { statement } of statementsOf([pair.role.trust])) {
        if (statement.Effect !== 'Allow') continue;
        const principals = principalsOf(statement);
        if (principals.length !== 1 || principals[0] !== 'ecs-tasks.amazonaws.com')
          findings.push(`${who}: its role trusts ${principals.join(', ')}`);
        if (!listOf(statement.Action).every((a) => a === 'sts:AssumeRole'))
          findings.push(`${who}: its trust allows ${listOf(statement.Action).join(', ')}`);
        if (listOf((statement.Condition as any)?.StringEquals?.['aws:SourceAccount'])[0] !== assembly.account)
          findings.push(`${who}: its trust has no aws:SourceAccount = ${assembly.account} condition (confused deputy)`);
      }
    }
    const example = fleet.pairs[0];
    return outcome(
      [
        `${fleet.pairs.length} task roles for ${new Set(fleet.pairs.map((p) => p.key)).size} pairs, each tagged user_id/agent_id, 0 shared unless listed below`,
        ...(example ? [`trust of ${example.role.name}: ${code(example.role.trust)}`] : []),
      ],
      findings,
    );
  },
};

export const apiAuthorizers: Check = {
  id: 'identity.api-authorizers',
  claim: 4,
  title:
    'Every route of every HTTP and REST API requires an authorizer (the employee identity comes from a verified token)',
  run({ assembly }) {
    const findings: string[] = [];
    const apis = new Map(
      assembly
        .resources('AWS::ApiGatewayV2::Api')
        .map((a) => [assembly.resolver.ref(a.stack, a.logicalId), assembly.props(a)]),
    );
    const evidence: string[] = [];
    let routes = 0;
    for (const route of assembly.resources('AWS::ApiGatewayV2::Route')) {
      const props = assembly.props(route);
      const protocol = apis.get(String(props.ApiId))?.ProtocolType;
      routes += 1;
      if (props.AuthorizationType && props.AuthorizationType !== 'NONE') continue;
      if (protocol === 'WEBSOCKET') {
        evidence.push(
          `WebSocket route ${code(props.RouteKey)} has no API Gateway authorizer: its function must verify the token itself (claim 4)`,
        );
      } else if (!String(props.RouteKey).startsWith('OPTIONS ')) {
        findings.push(`route ${props.RouteKey} (${route.stack} ${route.logicalId}) has no authorizer`);
      }
    }
    for (const method of assembly.resources('AWS::ApiGateway::Method')) {
      const props = assembly.props(method);
      routes += 1;
      if ((props.AuthorizationType ?? 'NONE') === 'NONE' && props.HttpMethod !== 'OPTIONS')
        findings.push(`REST method ${props.HttpMethod} ${method.stack} ${method.logicalId} has no authorizer`);
    }
    for (const authorizer of assembly.resources('AWS::ApiGatewayV2::Authorizer')) {
      const props = assembly.props(authorizer);
      if (
        props.AuthorizerType === 'JWT' &&
        (!props.JwtConfiguration?.Issuer || listOf(props.JwtConfiguration?.Audience).length === 0)
      ) {
        findings.push(`JWT authorizer ${authorizer.stack} ${authorizer.logicalId} lacks an issuer or an audience`);
      }
      evidence.push(
        `authorizer ${props.Name ?? authorizer.logicalId}: ${props.AuthorizerType}, identity source ${code(props.IdentitySource)}, issuer ${code(props.JwtConfiguration?.Issuer ?? 'n/a')}, audience ${code(props.JwtConfiguration?.Audience ?? 'n/a')}`,
      );
    }
    for (const url of assembly.resources('AWS::Lambda::Url')) {
      if (assembly.props(url).AuthType === 'NONE')
        findings.push(`function URL ${url.stack} ${url.logicalId} takes unauthenticated requests`);
    }
    evidence.unshift(`${routes} API routes and methods; every HTTP route requires an authorizer unless listed below`);
    return outcome(evidence, findings);
  },
};

export const identityAdministrator: Check = {
  id: 'identity.administrator',
  claim: 4,
  title: "An account administrator cannot assume a pair's task role",
  run: (context) => adminFindings(context, 4),
};
