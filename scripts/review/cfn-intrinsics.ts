import { createHash } from 'node:crypto';
import { TemplateJson } from './templates';

/**
 * Resolves CloudFormation intrinsics in synthesized templates to the values a deployment would see,
 * with deterministic stand-ins for the physical ids CloudFormation and services generate. Used to
 * evaluate policies as deployed (a `Ref` to a secret in a role policy and the secret's own ARN become
 * the same string) and to read task definitions' environments as the container gets them.
 *
 * Covers what Cubicle's templates use: Ref (resources and pseudo parameters), Fn::GetAtt, Fn::Join,
 * Fn::Sub, Fn::Select, Fn::Split, Fn::GetStackOutput (weak cross-stack references) and Fn::ImportValue;
 * a Ref to a template parameter becomes its default. Other intrinsics are left as they are.
 */
export class CfnResolver {
  constructor(
    private readonly templates: ReadonlyMap<string, TemplateJson>,
    readonly env: { readonly account: string; readonly regionOf: (stackName: string) => string },
  ) {}

  template(stackName: string): TemplateJson {
    const template = this.templates.get(stackName);
    if (!template) throw new Error(`no template for stack ${stackName}`);
    return template;
  }

  /** Deeply resolves a template value in the context of a stack. */
  resolve(stackName: string, value: unknown): any {
    if (Array.isArray(value)) return value.map((v) => this.resolve(stackName, v));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0];
      switch (fn) {
        case 'Ref':
          return this.ref(stackName, arg as string);
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? (arg as string[]) : (arg as string).split(/\.(.+)/);
          return this.getAtt(stackName, id, attr);
        }
        case 'Fn::Join': {
          const [sep, parts] = arg as [string, unknown[]];
          return (this.resolve(stackName, parts) as unknown[]).join(sep);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [unknown, unknown];
          return (this.resolve(stackName, list) as unknown[])[Number(this.resolve(stackName, index))];
        }
        case 'Fn::Split': {
          const [sep, text] = arg as [string, unknown];
          return String(this.resolve(stackName, text)).split(sep);
        }
        case 'Fn::Sub': {
          const [text, vars] = typeof arg === 'string' ? [arg, {}] : (arg as [string, Record<string, unknown>]);
          return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
            if (name in vars) return String(this.resolve(stackName, vars[name]));
            const [id, attr] = name.split(/\.(.+)/);
            return String(attr ? this.getAtt(stackName, id, attr) : this.ref(stackName, id));
          });
        }
        case 'Fn::GetStackOutput': {
          const { StackName, OutputName } = arg as { StackName: string; OutputName: string };
          const output = (this.template(StackName).Outputs as Record<string, { Value: unknown }> | undefined)?.[
            OutputName
          ];
          if (!output) throw new Error(`stack ${StackName} has no output ${OutputName}`);
          return this.resolve(StackName, output.Value);
        }
        case 'Fn::ImportValue': {
          const name = this.resolve(stackName, arg);
          for (const [producer, template] of this.templates) {
            for (const output of Object.values(
              (template.Outputs ?? {}) as Record<string, { Value: unknown; Export?: { Name: unknown } }>,
            )) {
              if (output.Export && this.resolve(producer, output.Export.Name) === name)
                return this.resolve(producer, output.Value);
            }
          }
          throw new Error(`no export named ${name}`);
        }
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(stackName, v)]));
  }

  ref(stackName: string, id: string): string {
    const region = this.env.regionOf(stackName);
    switch (id) {
      case 'AWS::AccountId':
        return this.env.account;
      case 'AWS::Region':
        return region;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return stackName;
    }
    const parameter = (this.template(stackName).Parameters as Record<string, { Default?: unknown }> | undefined)?.[id];
    if (parameter)
      return parameter.Default !== undefined ? String(parameter.Default) : `{{parameter ${stackName}.${id}}}`;
    const resource = this.resource(stackName, id);
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::SecretsManager::Secret':
        return this.arn(
          stackName,
          'secretsmanager',
          `secret:${this.resolve(stackName, props.Name)}-${stand(stackName, id, 6)}`,
        );
      case 'AWS::KMS::Key':
        return `${stand(stackName, id, 8)}-${stand(stackName, `${id}/2`, 4)}-4${stand(stackName, `${id}/3`, 3)}-a${stand(stackName, `${id}/4`, 3)}-${stand(stackName, `${id}/5`, 12)}`.toLowerCase();
      case 'AWS::EFS::FileSystem':
        return `fs-${stand(stackName, id, 17).toLowerCase()}`;
      case 'AWS::EFS::AccessPoint':
        return `fsap-${stand(stackName, id, 17).toLowerCase()}`;
      case 'AWS::IAM::OIDCProvider':
        // Ref of an OIDC provider is its ARN, named by the issuer's host and path:
        // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-iam-oidcprovider.html#aws-resource-iam-oidcprovider-return-values
        return `arn:aws:iam::${this.env.account}:oidc-provider/${String(this.resolve(stackName, props.Url)).replace(/^https:\/\//, '')}`;
      case 'AWS::IAM::Role':
        return props.RoleName
          ? String(this.resolve(stackName, props.RoleName))
          : `${stackName}-${id}-${stand(stackName, id, 12)}`;
      default:
        return `${stackName}-${id}-${stand(stackName, id, 12)}`;
    }
  }

  getAtt(stackName: string, id: string, attr: string): string {
    const resource = this.resource(stackName, id);
    const props = resource.Properties ?? {};
    const ref = this.ref(stackName, id);
    switch (`${resource.Type}.${attr}`) {
      case 'AWS::KMS::Key.Arn':
        return this.arn(stackName, 'kms', `key/${ref}`);
      case 'AWS::KMS::Key.KeyId':
        return ref;
      case 'AWS::EFS::FileSystem.Arn':
        return this.arn(stackName, 'elasticfilesystem', `file-system/${ref}`);
      case 'AWS::EFS::FileSystem.FileSystemId':
        return ref;
      case 'AWS::EFS::AccessPoint.Arn':
        return this.arn(stackName, 'elasticfilesystem', `access-point/${ref}`);
      case 'AWS::EFS::AccessPoint.AccessPointId':
        return ref;
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${this.env.account}:role${props.Path ? this.resolve(stackName, props.Path) : '/'}${ref}`;
      case 'AWS::IAM::Role.RoleId':
        // IAM's unique id of a role (AROA + 17 characters): what aws:userid starts with.
        return `AROA${stand(stackName, `${id}/RoleId`, 17).toUpperCase()}`;
      case 'AWS::DynamoDB::Table.Arn':
        return this.arn(stackName, 'dynamodb', `table/${ref}`);
      case 'AWS::Logs::LogGroup.Arn':
        return this.arn(stackName, 'logs', `log-group:${ref}:*`);
      case 'AWS::ECS::Cluster.Arn':
        return this.arn(stackName, 'ecs', `cluster/${ref}`);
      case 'AWS::Lambda::Function.Arn':
        return this.arn(stackName, 'lambda', `function:${ref}`);
      case 'AWS::Events::Rule.Arn':
        return this.arn(stackName, 'events', `rule/${ref}`);
      default:
        return `${ref}.${attr}`;
    }
  }

  private resource(stackName: string, id: string): TemplateJson['Resources'][string] {
    const resource = this.template(stackName).Resources[id];
    if (!resource) throw new Error(`stack ${stackName} has no resource ${id}`);
    return resource;
  }

  private arn(stackName: string, service: string, rest: string): string {
    return `arn:aws:${service}:${this.env.regionOf(stackName)}:${this.env.account}:${rest}`;
  }
}

/** A deterministic stand-in of `length` alphanumerics for a generated id. */
function stand(stackName: string, id: string, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = createHash('sha256').update(`${stackName}/${id}`).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i % bytes.length] % alphabet.length];
  return out;
}
