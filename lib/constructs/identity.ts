import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { CLI_REDIRECT_URI, cognitoSettings, oidcSettings, type AuthSettings } from '../../console/settings';
import { CubicleConfig } from '../config/schema';
import { consoleClient, managedLoginDomain, managedLoginUrl, OAUTH_SCOPES } from './console-sign-in';

export interface EmployeeIdentityProps {
  readonly config: CubicleConfig;
}

const MFA: Record<CubicleConfig['identity']['mfa'], cognito.Mfa> = {
  off: cognito.Mfa.OFF,
  optional: cognito.Mfa.OPTIONAL,
  required: cognito.Mfa.REQUIRED,
};

/**
 * Who an employee is, for the API's JWT authorizer: by default a Cognito user pool holding exactly the
 * roster's users (username = roster user id, email from the config, no self sign-up, MFA per config),
 * kept in line with the roster by the directory sync (lib/constructs/directory-sync.ts), not by one
 * resource per user; or an external OIDC issuer from the config. Either way the API maps the verified token to a roster
 * user through the bundled roster directory (runtime/control-plane/roster.ts).
 */
export class EmployeeIdentity extends Construct {
  /** `iss` the authorizer requires. */
  readonly issuer: string;
  /** Accepted `aud` (or, for Cognito access tokens, `client_id`) values. */
  readonly audience: string[];
  readonly userPool?: cognito.UserPool;
  readonly client?: cognito.UserPoolClient;
  /** The console's app client (code + PKCE, callback = the console's URL) and the managed-login domain. */
  readonly consoleClient?: cognito.UserPoolClient;
  readonly domain?: cognito.UserPoolDomain;
  /** How the console and the CLI sign in (their config.json). */
  readonly auth: AuthSettings;
  /** The identity provider's origins the console's page calls (its CSP's connect-src). */
  readonly connectOrigins: string[];
  private consoleUrl?: string;

  constructor(scope: Construct, id: string, props: EmployeeIdentityProps) {
    super(scope, id);
    const { config } = props;
    const oidc = config.identity.oidc;
    if (oidc) {
      this.issuer = oidc.issuer;
      this.audience = [oidc.audience];
      this.auth = oidcSettings({ issuer: oidc.issuer, clientId: oidc.audience });
      this.connectOrigins = [new URL(oidc.issuer).origin];
      return;
    }

    this.userPool = new cognito.UserPool(this, 'Employees', {
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      signInCaseSensitive: false,
      standardAttributes: { email: { required: true, mutable: true } },
      mfa: MFA[config.identity.mfa],
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      deletionProtection: true,
      // Users' MFA enrolments and passwords live here: keep the pool if the stack goes.
      removalPolicy: RemovalPolicy.RETAIN,
      userInvitation: {
        emailSubject: 'Your Cubicle account',
        emailBody: 'Your Cubicle username is {username} and your temporary password is {####}',
      },
    });
    this.client = this.userPool.addClient('Cli', {
      authFlows: { userSrp: true },
      generateSecret: false,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
      readAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true, emailVerified: true }),
      // Employees cannot edit their own attributes: the email is the platform team's.
      writeAttributes: new cognito.ClientAttributes(),
      // The `cubicle` CLI: code + PKCE to its loopback listener (RFC 8252), never the implicit flow.
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: OAUTH_SCOPES,
        callbackUrls: [CLI_REDIRECT_URI],
        logoutUrls: [CLI_REDIRECT_URI],
      },
    });
    this.domain = managedLoginDomain(this.userPool, config.name);
    this.consoleClient = consoleClient(this.userPool, () => this.requireConsoleUrl());
    this.issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.userPool.userPoolId}`;
    this.audience = [this.client.userPoolClientId, this.consoleClient.userPoolClientId];
    this.auth = cognitoSettings({
      domainUrl: managedLoginUrl(config.name, Stack.of(this)),
      issuer: this.issuer,
      clientId: this.consoleClient.userPoolClientId,
      cliClientId: this.client.userPoolClientId,
    });
    this.connectOrigins = [
      managedLoginUrl(config.name, Stack.of(this)),
      `https://cognito-idp.${Stack.of(this).region}.amazonaws.com`,
    ];

    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG8',
      reason:
        "The Essentials plan: the Plus plan (threat protection) is billed per active user; the pool admits only the roster's users, with MFA per config. A deployment that wants it can change featurePlan here.",
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG3',
      reason:
        "Threat protection (advanced security) needs the Cognito Plus plan; the pool admits only the roster's users (no self sign-up), with MFA per config and 14-character passwords.",
    });
    if (config.identity.mfa !== 'required') {
      Validations.of(this.userPool).acknowledge({
        id: 'AwsSolutions-COG2',
        reason: `identity.mfa is "${config.identity.mfa}" in the config; the platform team chose it (the default is "required").`,
      });
    }
  }

  /** The console's public URL (the distribution's or edge.domain): its sign-in callback and sign-out target. */
  useConsoleAt(url: string): void {
    this.consoleUrl = url;
  }

  private requireConsoleUrl(): string {
    if (!this.consoleUrl)
      throw new Error(
        'EmployeeIdentity: useConsoleAt(url) was never called, so the console client has no callback URL.',
      );
    return this.consoleUrl;
  }
}
