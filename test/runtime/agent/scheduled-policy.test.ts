import { describe, expect, it } from 'vitest';
import { classify, decideUnattended } from '../../../runtime/agent/src/guard';
import { unattendedPolicy } from '../../../runtime/agent/src/message-runner';
import type { InboxRow } from '../../../runtime/shared/rows';

const CONNECTIONS = ['acme.my.salesforce.com', 'docs.acme.example'];
const fetch = (url: string) => classify({ tool: 'WebFetch', input: { url } });

describe('the tool guard on a scheduled message (no one to approve)', () => {
  it('outbound deny: every outbound call is refused, local work goes on', () => {
    expect(decideUnattended('deny', fetch('https://acme.my.salesforce.com/x'), CONNECTIONS)).toMatchObject({
      action: 'deny',
      reason: expect.stringMatching(/scheduled run may not reach the outside world/),
    });
    expect(decideUnattended('deny', classify({ tool: 'Bash', input: { command: 'ls -la' } }), CONNECTIONS).action).toBe(
      'allow',
    );
  });

  it('pre-approved hosts: only calls naming those hosts (and only those) pass; nothing ever waits', () => {
    const hosts = ['acme.my.salesforce.com'];
    expect(decideUnattended(hosts, fetch('https://acme.my.salesforce.com/leads'), CONNECTIONS)).toMatchObject({
      action: 'allow',
      reason: expect.stringMatching(/pre-approved/),
    });
    // A connection host that the schedule did not pre-approve.
    expect(decideUnattended(hosts, fetch('https://docs.acme.example/'), CONNECTIONS)).toMatchObject({
      action: 'deny',
      reason: expect.stringMatching(/docs.acme.example is not pre-approved/),
    });
    // Not a connection host at all.
    expect(decideUnattended(hosts, fetch('https://evil.example/'), CONNECTIONS).action).toBe('deny');
    // One approved host and one other in the same command.
    expect(
      decideUnattended(
        hosts,
        classify({
          tool: 'Bash',
          input: { command: 'curl https://acme.my.salesforce.com && curl https://evil.example' },
        }),
        CONNECTIONS,
      ).action,
    ).toBe('deny');
    // Outbound with no host to check (web search, MCP tool, unknown program).
    expect(decideUnattended(hosts, classify({ tool: 'WebSearch', input: { query: 'x' } }), CONNECTIONS).action).toBe(
      'deny',
    );
    expect(decideUnattended(hosts, classify({ tool: 'mcp__crm__update_lead', input: {} }), CONNECTIONS).action).toBe(
      'deny',
    );
    for (const call of [
      fetch('https://acme.my.salesforce.com'),
      fetch('https://evil.example'),
      classify({ tool: 'WebSearch', input: {} }),
    ]) {
      expect(decideUnattended(hosts, call, CONNECTIONS).action).not.toBe('confirm');
    }
  });

  it("reads the row's schedule fail-closed", () => {
    const row = (schedule: unknown) =>
      ({ pk: 'a#b', sk: '1', requestId: 'r', body: '', createdAt: 0, schedule }) as unknown as InboxRow;
    expect(unattendedPolicy(row(undefined))).toBeUndefined();
    expect(unattendedPolicy(row({ key: 'a/b/c', outbound: ['acme.my.salesforce.com'], maxRunMs: 60_000 }))).toEqual({
      key: 'a/b/c',
      outbound: ['acme.my.salesforce.com'],
      maxRunMs: 60_000,
    });
    expect(unattendedPolicy(row({ key: 'a/b/c', outbound: 'allow', maxRunMs: -1 }))).toEqual({
      key: 'a/b/c',
      outbound: 'deny',
      maxRunMs: 30 * 60_000,
    });
    expect(unattendedPolicy(row({ outbound: ['ok.example', 'Bad Host'] }))?.outbound).toBe('deny');
    expect(unattendedPolicy(row('garbage'))).toEqual({ key: 'unknown', outbound: 'deny', maxRunMs: 30 * 60_000 });
  });
});
