import { Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';

/** What the console and the CLI ask for: an ID (OpenID Connect) and the email and username claims. */
export const OAUTH_SCOPES = [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE];

/** Words Cognito refuses in a domain prefix. https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-assign-domain-prefix.html */
const RESERVED = ['aws', 'amazon', 'cognito'];

/** `<name>-<account>`: unique per deployment, stable, and derived only from the config. */
export function domainPrefixOf(name: string, account: string): string {
  const prefix = `${name}-${account}`;
  const bad = RESERVED.find((word) => prefix.includes(word));
  if (bad) {
    throw new Error(
      `name "${name}": the sign-in domain prefix "${prefix}" would contain "${bad}", which Cognito refuses in domain prefixes; choose another deployment name.`,
    );
  }
  return prefix;
}

/** The managed-login domain's URL, as a literal (the CSP and config.json are written at synth). */
export function managedLoginUrl(name: string, stack: Stack): string {
  return `https://${domainPrefixOf(name, stack.account)}.auth.${stack.region}.amazoncognito.com`;
}

/**
 * The managed-login (hosted UI) domain `https://<name>-<account>.auth.<region>.amazoncognito.com`, where
 * the console and the CLI send employees to sign in (password, then the TOTP code when MFA is on).
 */
export function managedLoginDomain(pool: cognito.UserPool, name: string): cognito.UserPoolDomain {
  return pool.addDomain('SignIn', {
    cognitoDomain: { domainPrefix: domainPrefixOf(name, Stack.of(pool).account) },
    managedLoginVersion: cognito.ManagedLoginVersion.CLASSIC_HOSTED_UI,
  });
}

/**
 * The console's app client: authorization code + PKCE only (no implicit flow, no secret, no password
 * flows), callback and sign-out = the console's own URL; refresh tokens revocable on sign-out.
 */
export function consoleClient(pool: cognito.UserPool, consoleUrl: () => string): cognito.UserPoolClient {
  const root = Lazy.string({ produce: () => `${consoleUrl()}/` });
  return pool.addClient('Console', {
    authFlows: {},
    generateSecret: false,
    preventUserExistenceErrors: true,
    enableTokenRevocation: true,
    accessTokenValidity: Duration.hours(1),
    idTokenValidity: Duration.hours(1),
    refreshTokenValidity: Duration.hours(12),
    readAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true, emailVerified: true }),
    writeAttributes: new cognito.ClientAttributes(),
    oAuth: { flows: { authorizationCodeGrant: true }, scopes: OAUTH_SCOPES, callbackUrls: [root], logoutUrls: [root] },
  });
}
