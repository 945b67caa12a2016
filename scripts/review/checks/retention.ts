import { STATEFUL_TYPES } from '../../../lib/aspects/retention-guard';
import { Check, outcome } from './types';

/** Claim 12: every stateful resource survives stack deletion and replacement (the synth's own registry of types). */
export const retained: Check = {
  id: 'retention.stateful',
  claim: 12,
  title: `Every stateful resource (${STATEFUL_TYPES.join(', ')}) has DeletionPolicy and UpdateReplacePolicy Retain`,
  run({ assembly }) {
    const stateful = assembly.resources(...STATEFUL_TYPES);
    const findings = stateful
      .filter((r) => r.resource.DeletionPolicy !== 'Retain' || r.resource.UpdateReplacePolicy !== 'Retain')
      .map(
        (r) =>
          `${r.type} ${r.stack} ${r.logicalId}: DeletionPolicy ${r.resource.DeletionPolicy ?? 'unset'}, UpdateReplacePolicy ${r.resource.UpdateReplacePolicy ?? 'unset'}`,
      );
    const byType = STATEFUL_TYPES.map((t) => [t, stateful.filter((r) => r.type === t).length] as const).filter(
      ([, n]) => n > 0,
    );
    const tables = assembly.resources('AWS::DynamoDB::Table');
    return outcome(
      [
        `${stateful.length} stateful resources (${byType.map(([t, n]) => `${n} ${t.split('::').slice(1).join('::')}`).join(', ')}), ${stateful.length - findings.length} retained on deletion and replacement`,
        `${tables.filter((t) => assembly.props(t).DeletionProtectionEnabled === true).length}/${tables.length} tables with deletion protection`,
        'roster edits: `npm run review -- --against OLD` lists stateful resources removed or replaced between two assemblies',
      ],
      findings,
    );
  },
};
