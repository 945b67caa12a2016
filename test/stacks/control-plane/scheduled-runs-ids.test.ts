import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../lib/config/load';
import { resourcesOfType, type TemplateJson } from '../../support/assembly';
import { minimalConfigText } from '../../support/example-config';
import { synthesize } from '../../support/synth';

/** Two users whose ids differ only by "-" (`qa-1` / `qa1`), each with schedules of the same ids. */
const users = [
  '{ id: qa-1, email: qa-1@acme.example, agents: [{ id: ops, provider: anthropic, schedules: [{ id: daily, rate: "1 day", text: a }, { id: d-1, rate: "2 hours", text: b }] }] }',
  '{ id: qa1, email: qa1@acme.example, agents: [{ id: ops, provider: anthropic, schedules: [{ id: daily, rate: "1 day", text: c }, { id: d1, cron: "0 6 * * ? *", text: d }] }] }',
];
const configOf = (list: string[]) => parseConfigText(minimalConfigText({ users: `[${list.join(', ')}]` }), 'test.yaml');

function schedules(template: TemplateJson): Record<string, unknown> {
  return Object.fromEntries(resourcesOfType(template, 'AWS::Scheduler::Schedule').map(([id, r]) => [id, r.Properties]));
}

describe('schedule logical ids', () => {
  const first = synthesize(configOf(users)).template('acme-ControlPlane').toJSON() as TemplateJson;
  const reordered = synthesize(configOf([...users].reverse()))
    .template('acme-ControlPlane')
    .toJSON() as TemplateJson;

  it('derive from user, agent and schedule ids without collisions (qa-1 / qa1, d-1 / d1)', () => {
    const byKey = Object.fromEntries(
      Object.entries(schedules(first)).map(([id, p]) => [
        JSON.parse((p as any).Target.Input).scheduleId,
        id.replace(/[0-9A-F]{8}$/, ''),
      ]),
    );
    expect(byKey).toEqual({
      'qa-1/ops/daily': 'ScheduledRunsQa1OpsDaily',
      'qa-1/ops/d-1': 'ScheduledRunsQa1OpsD1',
      'qa1/ops/daily': 'ScheduledRunsQa1OpsDaily',
      'qa1/ops/d1': 'ScheduledRunsQa1OpsD1',
    });
    // Same readable prefix, distinct logical ids (the path hash tells them apart).
    expect(new Set(Object.keys(schedules(first))).size).toBe(4);
  });

  it("do not depend on roster order: the schedules (and the function's roster) synthesize the same", () => {
    expect(schedules(reordered)).toEqual(schedules(first));
    const code = (t: TemplateJson) =>
      resourcesOfType(t, 'AWS::Lambda::Function').find(([id]) => id.startsWith('ScheduledRunsFunction'))![1].Properties
        .Code;
    expect(code(reordered)).toEqual(code(first));
  });
});
