import { RemovalPolicy, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ORIGIN_VERIFY_SECRET_ENV } from '../../runtime/shared/function-contract';
import { CubicleFunction } from './cubicle-function';
import { createRetainedKey } from './retained-key';

/** Length of the generated header value (letters and digits: about 380 bits). */
export const ORIGIN_SECRET_LENGTH = 64;

/**
 * The shared secret CloudFront sends to the API origin and the API functions check
 * (runtime/control-plane/origin-verify.ts). Its name is generated, outside the `cubicle/<name>/` prefix
 * the credential writer may write to. Retained, encrypted with its own customer-managed key.
 */
export class OriginVerifySecret extends Construct {
  readonly secret: secretsmanager.Secret;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.key = createRetainedKey(this, 'Key', { description: 'Cubicle: encrypts the CloudFront origin-verify secret' });
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: 'Cubicle: header value CloudFront adds to API origin requests; the API refuses requests without it',
      encryptionKey: this.key,
      removalPolicy: RemovalPolicy.RETAIN,
      generateSecretString: { passwordLength: ORIGIN_SECRET_LENGTH, excludePunctuation: true, includeSpace: false },
    });
    const reason =
      'Rotation must also change the header CloudFront sends, which is distribution configuration: it is a documented two-step procedure (README "Edge": put a new version, then deploy with edge.originSecretVersion), and the API accepts the current and previous versions meanwhile.';
    Validations.of(this.secret).acknowledge({ id: 'AwsSolutions-SMG4', reason });
    Validations.of(this.secret).acknowledge({ id: 'NIST.800.53.R5-SecretsManagerRotationEnabled', reason });
  }

  /**
   * The value for CloudFront's origin header: a dynamic reference that CloudFormation resolves at deploy,
   * never the value itself. A version id pins the value (a rotation changes it to make CloudFormation
   * update the distribution); without one, AWSCURRENT at the time of the distribution's last update.
   */
  headerValue(versionId?: string): string {
    return SecretValue.secretsManager(this.secret.secretArn, versionId ? { versionId } : {}).unsafeUnwrap();
  }

  /** Sets the secret's ARN on the function and lets it read the value, and decrypt it only through Secrets Manager. */
  bindReader(fn: CubicleFunction): void {
    fn.setEnv(ORIGIN_VERIFY_SECRET_ENV, this.secret.secretArn);
    fn.allow(
      new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.secret.secretArn] }),
    );
    fn.allow(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com`,
            'kms:EncryptionContext:SecretARN': this.secret.secretArn,
          },
        },
      }),
    );
  }
}
