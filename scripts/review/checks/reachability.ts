import { Assembly } from '../assembly';

/**
 * Principals that code reached by internet requests runs as: Lambda functions behind an API Gateway
 * (HTTP, WebSocket or REST) or a function URL. Keyed by role ARN, with how the internet reaches it.
 */
export function internetReachableRoles(assembly: Assembly): Map<string, string> {
  const functions = new Map<string, { roleArn: string; label: string }>();
  for (const fn of assembly.resources('AWS::Lambda::Function')) {
    const props = assembly.props(fn);
    const entry = { roleArn: String(props.Role), label: `${fn.stack} ${fn.logicalId}` };
    functions.set(assembly.resolver.getAtt(fn.stack, fn.logicalId, 'Arn'), entry);
    functions.set(assembly.resolver.ref(fn.stack, fn.logicalId), entry);
  }
  const reached = new Map<string, string>();
  const mark = (target: string, via: string) => {
    for (const [arn, fn] of functions)
      if (target.includes(arn) && !reached.has(fn.roleArn)) reached.set(fn.roleArn, `${via} → ${fn.label}`);
  };
  for (const integration of assembly.resources('AWS::ApiGatewayV2::Integration')) {
    mark(String(assembly.props(integration).IntegrationUri ?? ''), `API ${integration.stack} ${integration.logicalId}`);
  }
  for (const method of assembly.resources('AWS::ApiGateway::Method')) {
    mark(JSON.stringify(assembly.props(method).Integration ?? {}), `REST API ${method.stack} ${method.logicalId}`);
  }
  for (const url of assembly.resources('AWS::Lambda::Url')) {
    mark(String(assembly.props(url).TargetFunctionArn ?? ''), `function URL ${url.stack} ${url.logicalId}`);
  }
  return reached;
}
