import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** Issuer host of GitHub Actions OIDC tokens; also the prefix of their IAM condition keys. */
export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';

/** The audience aws-actions/configure-aws-credentials requests (its `audience` input default). */
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';

/** Where a workflow job runs: in a GitHub environment, or as a pull-request job without one. */
export type GitHubJobContext = { readonly environment: string } | 'pull_request';

/**
 * The `sub` claim GitHub puts in a job's token (default claim template): a job that names an
 * environment gets `repo:OWNER/REPO:environment:NAME` whatever its trigger; a pull-request job
 * without one gets `repo:OWNER/REPO:pull_request`.
 * https://docs.github.com/en/actions/reference/security/oidc#example-subject-claims
 */
export function githubSubject(owner: string, repo: string, context: GitHubJobContext): string {
  const tail = context === 'pull_request' ? 'pull_request' : `environment:${context.environment}`;
  return `repo:${owner}/${repo}:${tail}`;
}

export interface GitHubOidcProps {
  /**
   * ARN of this account's existing `token.actions.githubusercontent.com` provider.
   * @default - the provider is created here
   */
  readonly existingProviderArn?: string;
}

/** The account's GitHub Actions OIDC provider (created or imported) and the trust it can grant. */
export class GitHubOidc extends Construct {
  readonly providerArn: string;

  constructor(scope: Construct, id: string, props: GitHubOidcProps = {}) {
    super(scope, id);
    if (props.existingProviderArn) {
      this.providerArn = iam.OidcProviderNative.fromOidcProviderArn(
        this,
        'Provider',
        props.existingProviderArn,
      ).oidcProviderArn;
      return;
    }
    // No thumbprint: IAM validates GitHub's certificate against its own trusted CAs.
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc_verify-thumbprint.html
    // Retained so that switching to `oidcProviderArn` (pointing at this provider) never deletes it.
    const provider = new iam.OidcProviderNative(this, 'Provider', {
      url: `https://${GITHUB_OIDC_HOST}`,
      clientIds: [GITHUB_OIDC_AUDIENCE],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.providerArn = provider.oidcProviderArn;
  }

  /**
   * A principal only tokens with exactly this `sub` and the STS audience can become. StringEquals,
   * never StringLike: a wildcard or missing `sub` lets other repositories' workflows in.
   */
  principalFor(subject: string): iam.IPrincipal {
    if (/[*?]/.test(subject)) {
      throw new Error(`GitHub OIDC subject "${subject}" contains a wildcard; trust exactly one subject`);
    }
    return new iam.WebIdentityPrincipal(this.providerArn, {
      StringEquals: {
        [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
        [`${GITHUB_OIDC_HOST}:sub`]: subject,
      },
    });
  }
}
