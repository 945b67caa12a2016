import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ACTIVE_INDEX, PARTITION_KEY, TABLES, TableName } from '../../runtime/shared/tables';

const STREAM_VIEW = {
  NEW_IMAGE: dynamodb.StreamViewType.NEW_IMAGE,
  KEYS_ONLY: dynamodb.StreamViewType.KEYS_ONLY,
} as const;

export interface ControlPlaneTablesProps {
  readonly encryptionKey: kms.IKey;
}

/**
 * Every table of TABLES (runtime/shared/tables.ts): on-demand, point-in-time recovery, deletion
 * protection, encrypted with the platform key, retained; TTL and streams as the registry says.
 */
export class ControlPlaneTables extends Construct {
  readonly tables: Record<TableName, dynamodb.Table>;

  constructor(scope: Construct, id: string, props: ControlPlaneTablesProps) {
    super(scope, id);
    const make = (name: TableName): dynamodb.Table => {
      const spec = TABLES[name];
      const table = new dynamodb.Table(this, spec.id, {
        partitionKey: { name: PARTITION_KEY, type: dynamodb.AttributeType.STRING },
        sortKey:
          'sortKey' in spec
            ? {
                name: spec.sortKey.name,
                type: spec.sortKey.type === 'N' ? dynamodb.AttributeType.NUMBER : dynamodb.AttributeType.STRING,
              }
            : undefined,
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: props.encryptionKey,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: true,
        removalPolicy: RemovalPolicy.RETAIN,
        timeToLiveAttribute: 'timeToLive' in spec ? spec.timeToLive : undefined,
        stream: 'stream' in spec ? STREAM_VIEW[spec.stream] : undefined,
      });
      Validations.of(table).acknowledge({
        id: 'NIST.800.53.R5-DynamoDBInBackupPlan',
        reason:
          'Point-in-time recovery restores any second of the last 35 days; deletion protection and retention keep the table itself.',
      });
      return table;
    };
    this.tables = Object.fromEntries((Object.keys(TABLES) as TableName[]).map((name) => [name, make(name)])) as Record<
      TableName,
      dynamodb.Table
    >;
    this.tables[ACTIVE_INDEX.table].addGlobalSecondaryIndex({
      indexName: ACTIVE_INDEX.name,
      partitionKey: { name: ACTIVE_INDEX.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: ACTIVE_INDEX.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
