import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../lib/config/load';
import { minimalConfigText } from '../support/example-config';
import { problemLines } from '../support/config-problems';

const withSchedules = (schedules: string, agentExtra = '', top: Record<string, string> = {}) =>
  minimalConfigText({
    connections: '{ crm: { hosts: [acme.my.salesforce.com] } }',
    users: `[{ id: alice, email: alice@acme.example, agents: [{ id: helper, provider: anthropic }, { id: sales, provider: anthropic${agentExtra}, schedules: ${schedules} }] }]`,
    ...top,
  });

describe('schedules in the roster', () => {
  it('accepts a cron and a rate schedule, with defaults: UTC, outbound deny, a 30-minute cap', () => {
    const config = parseConfigText(
      withSchedules(
        '[{ id: daily, cron: "0 8 ? * MON-FRI *", timezone: Europe/Paris, text: "Summarize new leads" }, { id: hourly, rate: "6 hours", text: "Check the pipeline", outbound: [acme.my.salesforce.com], maxRunMinutes: 10 }]',
        ', connections: [crm]',
      ),
      'test.yaml',
    );
    const [daily, hourly] = config.users[0].agents[1].schedules;
    expect(daily).toEqual({
      id: 'daily',
      cron: '0 8 ? * MON-FRI *',
      timezone: 'Europe/Paris',
      text: 'Summarize new leads',
      outbound: 'deny',
      maxRunMinutes: 30,
    });
    expect(hourly).toEqual({
      id: 'hourly',
      rate: '6 hours',
      timezone: 'UTC',
      text: 'Check the pipeline',
      outbound: ['acme.my.salesforce.com'],
      maxRunMinutes: 10,
    });
    expect(config.users[0].agents[0].schedules).toEqual([]);
  });

  it('names the schedule by path and id for each problem', () => {
    const lines = problemLines(
      withSchedules(
        '[{ id: a, cron: "0 8 * * MON *", text: x }, { id: b, rate: "1 hours", text: y }, { id: c, text: z }, { id: a, rate: "2 days", text: "" }, { id: e, cron: "0 8 * * ? *", rate: "1 day", timezone: Mars/Olympus, text: t, outbound: [evil.example], maxRunMinutes: 500 }]',
      ),
    );
    const at = 'users[0] (alice).agents[1] (sales).schedules';
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${escape(at)}\\[0\\] \\(a\\)\\.cron: cron must have "\\?" in exactly one`)),
        expect.stringMatching(
          new RegExp(`^${escape(at)}\\[1\\] \\(b\\)\\.rate: rate "1 hours": use the singular unit`),
        ),
        `${at}[2] (c).cron: a schedule needs exactly one of cron and rate`,
        expect.stringMatching(new RegExp(`^${escape(at)}\\[3\\] \\(a\\): schedule id "a" is listed twice`)),
        expect.stringMatching(new RegExp(`^${escape(at)}\\[3\\] \\(a\\)\\.text: text must not be empty`)),
        `${at}[4] (e).cron: a schedule needs exactly one of cron and rate`,
        `${at}[4] (e).timezone: timezone must be an IANA time zone name such as Europe/Paris or UTC`,
        expect.stringMatching(
          new RegExp(
            `^${escape(at)}\\[4\\] \\(e\\)\\.outbound\\[0\\]: host "evil.example" is not a host of this agent's connections \\(it has none\\)`,
          ),
        ),
        expect.stringMatching(
          new RegExp(
            `^${escape(at)}\\[4\\] \\(e\\)\\.maxRunMinutes: 500 minutes is longer than runtime.maxTaskDuration \\(7200s\\)`,
          ),
        ),
      ]),
    );
  });

  it('refuses a bad cron shape, a bad rate unit, free-form outbound and a timezone on a rate', () => {
    const lines = problemLines(
      withSchedules(
        '[{ id: a, cron: "0 8 * *", text: x }, { id: b, rate: "5 weeks", text: y }, { id: c, rate: "1 day", timezone: Europe/Paris, text: z, outbound: allow }]',
      ),
    );
    const at = 'users[0] (alice).agents[1] (sales).schedules';
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${escape(at)}\\[0\\] \\(a\\)\\.cron: cron must be six fields`)),
        expect.stringMatching(new RegExp(`^${escape(at)}\\[1\\] \\(b\\)\\.rate: rate must be`)),
        `${at}[2] (c).outbound: outbound must be deny or a list of host names`,
        `${at}[2] (c).timezone: timezone applies to cron only: remove it from a rate schedule`,
      ]),
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
