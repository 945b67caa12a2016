/**
 * `npm run audit:verify -- --user U --agent A --table CUBICLE_EVENTS_TABLE --chain-key ARN [--bucket ARCHIVE]`:
 * verifies one pair's audit chain (scripts/audit/verify.ts) with the caller's AWS credentials, which need
 * dynamodb:Query on the Events table, kms:VerifyMac on the chain key and (with --bucket) s3:ListBucket and
 * s3:GetObject on the archive. The ControlPlane stack's outputs name the key and the bucket
 * (AuditChainKeyArn, AuditArchiveBucket). Exit 0: intact; 1: a break (named); 2: bad arguments.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { kmsChainKey } from '../../runtime/shared/chain-key';
import { ID_PATTERN } from '../../runtime/shared/ids';
import { s3Archive, verifyPair } from './verify';

export interface Clients {
  readonly doc: DynamoDBDocumentClient;
  readonly kms: KMSClient;
  readonly s3: S3Client;
}

const defaultClients = (): Clients => ({
  doc: DynamoDBDocumentClient.from(new DynamoDBClient({})),
  kms: new KMSClient({}),
  s3: new S3Client({}),
});

export async function main(
  argv: string[],
  clients: () => Clients = defaultClients,
  print: (line: string) => void = console.log,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        user: { type: 'string' },
        agent: { type: 'string' },
        table: { type: 'string' },
        'chain-key': { type: 'string' },
        bucket: { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    print(`audit:verify: ${(error as Error).message}`);
    return 2;
  }
  const table = values.table ?? process.env.CUBICLE_EVENTS_TABLE;
  const keyArn = values['chain-key'] ?? process.env.CUBICLE_CHAIN_KEY_ARN;
  const bucket = values.bucket ?? process.env.CUBICLE_AUDIT_ARCHIVE_BUCKET;
  const missing = [
    ...(!values.user || !ID_PATTERN.test(values.user) ? ['--user (a roster user id)'] : []),
    ...(!values.agent || !ID_PATTERN.test(values.agent) ? ["--agent (one of that user's agent ids)"] : []),
    ...(!table ? ['--table (the Events table name) or CUBICLE_EVENTS_TABLE'] : []),
    ...(!keyArn ? ['--chain-key (ControlPlane output AuditChainKeyArn) or CUBICLE_CHAIN_KEY_ARN'] : []),
  ];
  if (missing.length > 0) {
    print(`audit:verify: missing ${missing.join(', ')}`);
    return 2;
  }
  const { doc, kms, s3 } = clients();
  const verdict = await verifyPair({
    doc,
    table: table as string,
    key: kmsChainKey(kms, keyArn as string),
    userId: values.user as string,
    agentId: values.agent as string,
    archive: bucket ? s3Archive(s3, bucket) : undefined,
  });
  const pair = `${values.user}/${values.agent}`;
  const archive =
    verdict.archived === undefined ? 'archive not checked (no --bucket)' : `${verdict.archived} archived copies`;
  if (!verdict.ok) {
    print(
      `${pair}: BROKEN at sequence ${verdict.firstBreak?.sk}: ${verdict.firstBreak?.reason} (${verdict.length} rows in the table, ${archive})`,
    );
    return 1;
  }
  print(
    `${pair}: intact: ${verdict.length} events, every MAC verified under the chain key, ${archive}${verdict.archived === undefined ? '' : ' match'}`,
  );
  if (verdict.unarchived.length > 0)
    print(`${pair}: not archived yet (the stream consumer may lag): sequence ${verdict.unarchived.join(', ')}`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(`audit:verify failed: ${error.message}`);
      process.exit(2);
    },
  );
}
