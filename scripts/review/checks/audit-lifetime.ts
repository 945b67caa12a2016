import { functionEnv } from './compute';
import { environmentOf } from './data';
import { matrixCheck } from './shared';
import { Check, code, outcome } from './types';

/** Claims 8 and 9: encrypted, retained logs with credential masking; a hard cap every task carries (the archive: audit-archive.ts). */

export const logGroups: Check = {
  id: 'audit.log-groups',
  claim: 8,
  title:
    'Every log group is encrypted with a customer-managed key and has a retention; the agent log group masks credentials',
  run({ assembly, fleet }) {
    const findings: string[] = [];
    const groups = assembly.resources('AWS::Logs::LogGroup');
    const agentGroups = new Set(
      fleet.taskDefinitions.flatMap((t) =>
        (t.props.ContainerDefinitions ?? [])
          .map((c: any) => c.LogConfiguration?.Options?.['awslogs-group'])
          .filter(Boolean)
          .map(String),
      ),
    );
    let masked = 0;
    for (const group of groups) {
      const props = assembly.props(group);
      const where = `log group ${group.stack} ${group.logicalId}`;
      if (!props.KmsKeyId) findings.push(`${where} is not encrypted with a customer-managed key`);
      if (!props.RetentionInDays) findings.push(`${where} keeps logs forever with no retention set`);
      if (agentGroups.has(assembly.resolver.ref(group.stack, group.logicalId))) {
        if (!props.DataProtectionPolicy)
          findings.push(`${where} receives agent logs without a data protection policy masking credentials`);
        else masked += 1;
      }
    }
    const retentions = [...new Set(groups.map((g) => assembly.props(g).RetentionInDays))].sort();
    return outcome(
      [
        `${groups.length} log groups, retention ${retentions.map(code).join(', ')} days; ${masked} agent log group(s) with a data protection policy`,
      ],
      findings,
    );
  },
};

/** Longest cap Fargate tasks may be given (the config allows 24 h) and longest ECS stop timeout. */
const MAX_CAP_MS = 24 * 3600 * 1000;
const MAX_STOP_TIMEOUT_S = 120;

export const hardCap: Check = {
  id: 'lifetime.hard-cap',
  claim: 9,
  title:
    'Every task carries its hard cap and idle timeout, and a scheduled reaper with the same cap runs at least every 5 minutes',
  run({ assembly, fleet }) {
    const findings: string[] = [];
    const caps = new Set<string>();
    for (const pair of fleet.pairs) {
      for (const td of pair.taskDefinitions) {
        const env = environmentOf(td.props);
        const cap = Number(env.CUBICLE_MAX_TASK_DURATION_MS);
        if (env.CUBICLE_MAX_TASK_DURATION_MS !== undefined) caps.add(env.CUBICLE_MAX_TASK_DURATION_MS);
        if (!(cap > 0 && cap <= MAX_CAP_MS))
          findings.push(
            `${pair.userId}/${pair.agentId}: CUBICLE_MAX_TASK_DURATION_MS is ${env.CUBICLE_MAX_TASK_DURATION_MS ?? 'unset'}`,
          );
        if (!(Number(env.CUBICLE_IDLE_TIMEOUT_MS) > 0))
          findings.push(
            `${pair.userId}/${pair.agentId}: CUBICLE_IDLE_TIMEOUT_MS is ${env.CUBICLE_IDLE_TIMEOUT_MS ?? 'unset'}`,
          );
        for (const c of td.props.ContainerDefinitions ?? []) {
          if (c.StopTimeout !== undefined && c.StopTimeout > MAX_STOP_TIMEOUT_S)
            findings.push(
              `${pair.userId}/${pair.agentId}: StopTimeout ${c.StopTimeout} s exceeds Fargate's ${MAX_STOP_TIMEOUT_S} s`,
            );
        }
      }
    }
    const controlPlaneCaps = new Set(functionEnv(assembly, 'CUBICLE_MAX_TASK_DURATION_MS'));
    for (const cap of caps)
      if (fleet.pairs.length > 0 && !controlPlaneCaps.has(cap))
        findings.push(
          `tasks carry a cap of ${cap} ms that no control-plane function enforces (${[...controlPlaneCaps].join(', ') || 'none'})`,
        );
    const reapers = reaperSchedules(assembly);
    if (fleet.pairs.length > 0 && reapers.length === 0)
      findings.push(
        'no scheduled rule (rate of at most 5 minutes) invokes a function that knows the cap: nothing reaps tasks past their deadline',
      );
    return outcome(
      [
        `caps in task definitions: ${[...caps].map(code).join(', ') || 'none'} ms; reaper schedules: ${reapers.map(code).join(', ') || 'none'}`,
      ],
      findings,
    );
  },
};

/** Schedule expressions of rules that invoke a function carrying CUBICLE_MAX_TASK_DURATION_MS, at most every 5 minutes. */
function reaperSchedules(assembly: Parameters<Check['run']>[0]['assembly']): string[] {
  const capped = new Set(
    assembly
      .resources('AWS::Lambda::Function')
      .filter((f) => assembly.props(f).Environment?.Variables?.CUBICLE_MAX_TASK_DURATION_MS)
      .map((f) => assembly.resolver.getAtt(f.stack, f.logicalId, 'Arn')),
  );
  return (
    assembly
      .resources('AWS::Events::Rule', 'AWS::Scheduler::Schedule')
      .map((r) => assembly.props(r))
      // A scheduled run (`{"scheduleId": ...}`) invokes a function that wakes agents; it reaps nothing.
      .filter((p) => !String(p.Target?.Input ?? '').includes('"scheduleId"'))
      .filter((p) => {
        const minutes = /^rate\((\d+) minutes?\)$/.exec(String(p.ScheduleExpression ?? ''));
        const targets = [...(p.Targets ?? []).map((t: any) => String(t.Arn)), String(p.Target?.Arn ?? '')];
        return minutes !== null && Number(minutes[1]) <= 5 && targets.some((t) => capped.has(t));
      })
      .map((p) => String(p.ScheduleExpression))
  );
}

export const lifetimeMatrix = matrixCheck(
  'lifetime.matrix',
  9,
  ['fields'],
  "Evaluated: no runtime role can write its session's status or deadline",
);
