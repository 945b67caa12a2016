import { ENV } from '../../../runtime/control-plane/env';
import { TABLES } from '../../../runtime/shared/tables';
import { actionMatches, listOf, principalsOf, statementsOf } from '../policies';
import { Check, code, outcome } from './types';

/**
 * Claim 8, "audit rows ... chained with a key the runtime never holds, and archived to S3 Object Lock
 * (compliance mode)": what the templates must show (lib/constructs/audit-archive.ts).
 */
export const auditArchive: Check = {
  id: 'audit.archive',
  claim: 8,
  title:
    'Events are chained under an HMAC key only control-plane roles may GenerateMac with (no agent role, no IAM delegation), and archived by an Events stream consumer to a retained, versioned, encrypted, TLS-only S3 bucket with Object Lock in compliance mode',
  run({ assembly, fleet, statements }) {
    const findings: string[] = [];
    const agentArns = new Set(fleet.pairs.map((p) => p.role.arn));
    const rootArn = `arn:aws:iam::${assembly.account}:root`;

    // The chain key.
    const hmacKeys = assembly.resources('AWS::KMS::Key').filter((k) => assembly.props(k).KeySpec === 'HMAC_256');
    if (hmacKeys.length === 0) findings.push('no KMS key with KeySpec HMAC_256: the event chain is not keyed');
    const macHolders: string[] = [];
    for (const key of hmacKeys) {
      const where = `HMAC key ${assembly.label(key)}`;
      if (key.resource.DeletionPolicy !== 'Retain')
        findings.push(`${where} is not retained: deleting it would make every chain unverifiable`);
      for (const { statement } of statementsOf([assembly.props(key).KeyPolicy])) {
        if (statement.Effect !== 'Allow' || !listOf(statement.Action).some((a) => actionMatches(a, 'kms:GenerateMac')))
          continue;
        for (const principal of principalsOf(statement)) {
          macHolders.push(principal);
          if (principal === '*' || principal === rootArn || principal === assembly.account)
            findings.push(
              `${where}: statement ${statement.Sid ?? '(no Sid)'} lets ${principal} GenerateMac, so any IAM policy in the account can forge rows`,
            );
          else if (agentArns.has(principal))
            findings.push(
              `${where}: statement ${statement.Sid ?? '(no Sid)'} lets the agent role ${principal} GenerateMac`,
            );
        }
      }
    }
    for (const s of statements) {
      if (
        s.kind !== 'identity' ||
        s.statement.Effect !== 'Allow' ||
        !listOf(s.statement.Action).some((a) => a.startsWith('kms:') && actionMatches(a, 'kms:GenerateMac'))
      )
        continue;
      const role = fleet.roles.find(
        (r) => r.stack === s.stack && (s.logicalId === r.logicalId || s.where.startsWith(r.logicalId)),
      );
      if (role && agentArns.has(role.arn))
        findings.push(`${s.stack} ${s.where}: the agent role ${role.arn} is granted kms:GenerateMac`);
    }

    // The archive.
    const buckets = assembly
      .resources('AWS::S3::Bucket')
      .filter((b) => assembly.props(b).ObjectLockConfiguration?.Rule?.DefaultRetention?.Mode === 'COMPLIANCE');
    if (buckets.length === 0)
      findings.push(
        'no S3 bucket with Object Lock in compliance mode: audit records are not archived immutably in these templates',
      );
    // The Events table's stream, as the resolver renders it (runtime/shared/tables.ts names the table).
    const eventsTable = assembly
      .resources('AWS::DynamoDB::Table')
      .find((t) => t.logicalId.startsWith(`Tables${TABLES.events.id}`));
    const eventsStream = eventsTable && assembly.resolver.getAtt(eventsTable.stack, eventsTable.logicalId, 'StreamArn');
    const consumers = assembly
      .resources('AWS::Lambda::Function')
      .filter((f) => assembly.props(f).Environment?.Variables?.[ENV.archiveBucket] !== undefined);
    const retention: unknown[] = [];
    for (const bucket of buckets) {
      const props = assembly.props(bucket);
      const where = `archive bucket ${assembly.label(bucket)}`;
      const name = assembly.resolver.ref(bucket.stack, bucket.logicalId);
      retention.push(props.ObjectLockConfiguration.Rule.DefaultRetention);
      if (bucket.resource.DeletionPolicy !== 'Retain') findings.push(`${where} is not retained`);
      if (props.VersioningConfiguration?.Status !== 'Enabled') findings.push(`${where} is not versioned`);
      if (
        props.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.SSEAlgorithm !==
        'aws:kms'
      )
        findings.push(`${where} is not encrypted with a KMS key`);
      const policy = assembly.resources('AWS::S3::BucketPolicy').find((p) => assembly.props(p).Bucket === name);
      const tlsOnly =
        policy &&
        statementsOf([assembly.props(policy).PolicyDocument]).some(
          ({ statement }) =>
            statement.Effect === 'Deny' && (statement.Condition as any)?.Bool?.['aws:SecureTransport'] === 'false',
        );
      if (!tlsOnly) findings.push(`${where}: its policy does not refuse requests without TLS`);
      const consumer = consumers.find((f) => assembly.props(f).Environment.Variables[ENV.archiveBucket] === name);
      const fed =
        consumer &&
        assembly.resources('AWS::Lambda::EventSourceMapping').some((m) => {
          const mapping = assembly.props(m);
          return (
            eventsStream !== undefined &&
            mapping.EventSourceArn === eventsStream &&
            [
              assembly.resolver.ref(consumer.stack, consumer.logicalId),
              assembly.resolver.getAtt(consumer.stack, consumer.logicalId, 'Arn'),
            ].includes(mapping.FunctionName)
          );
        });
      if (!fed)
        findings.push(`${where}: no function reading the Events table's stream writes to it (${ENV.archiveBucket})`);
    }
    return outcome(
      [
        `${hmacKeys.length} HMAC_256 chain key(s); GenerateMac allowed to ${macHolders.length} principal(s) by key policy: ${macHolders.map(code).join(', ') || 'none'}`,
        `${buckets.length} S3 bucket(s) with Object Lock in compliance mode, default retention ${retention.map(code).join(', ') || 'none'}; ${consumers.length} stream consumer(s) writing to them`,
      ],
      findings,
    );
  },
};
