import { describe, expect, it } from 'vitest';
import { STATEFUL_TYPES } from '../../lib/aspects/retention-guard';
import { REPO_ROOT } from '../support/example-config';
import { exampleTemplates, TemplateJson } from '../support/assembly';
import { policyStatements } from '../support/policies';
import { ACTIONS_REQUIRING_STAR_RESOURCE } from '../../scripts/review/checks/least-privilege';

const templates = exampleTemplates();

describe.each([...templates.keys()])('%s', (stackName) => {
  const template = templates.get(stackName)! as TemplateJson;

  it('retains every stateful resource on deletion and replacement', () => {
    for (const [id, resource] of Object.entries(template.Resources)) {
      if (!(STATEFUL_TYPES as readonly string[]).includes(resource.Type)) continue;
      expect({ id, deletion: resource.DeletionPolicy, replace: resource.UpdateReplacePolicy }).toEqual({
        id,
        deletion: 'Retain',
        replace: 'Retain',
      });
    }
  });

  it('grants no "*" or "service:*" action and no NotAction', () => {
    for (const { where, statement } of policyStatements(template)) {
      expect(statement.NotAction, where).toBeUndefined();
      if (statement.Effect !== 'Allow') continue;
      const actions = [statement.Action].flat() as string[];
      const isKeyAdminDelegation =
        where.endsWith('KeyPolicy') &&
        actions.length === 1 &&
        actions[0] === 'kms:*' &&
        isAccountRoot(statement.Principal);
      if (isKeyAdminDelegation) continue; // AWS's default key policy statement: lets IAM policies govern the key
      for (const action of actions) {
        expect(action === '*' || /^[a-z0-9-]+:\*$/.test(action), `${where}: ${action}`).toBe(false);
      }
    }
  });

  it('uses Resource "*" in identity policies only for actions AWS authorizes on "*" alone', () => {
    for (const { where, statement, kind } of policyStatements(template)) {
      if (kind !== 'identity' || statement.Effect !== 'Allow') continue;
      if (![statement.Resource].flat().includes('*')) continue;
      for (const action of [statement.Action].flat() as string[]) {
        expect(ACTIONS_REQUIRING_STAR_RESOURCE, `${where}: ${action} on "*"`).toHaveProperty([action]);
      }
    }
  });

  it('contains no machine path, date or temp dir', () => {
    const text = JSON.stringify(template);
    expect(text).not.toContain(REPO_ROOT);
    expect(text).not.toMatch(/\/tmp\/|\/home\/|\/root\//);
    expect(text).not.toMatch(/20\d\d-\d\d-\d\dT\d\d:\d\d/);
  });
});

function isAccountRoot(principal: unknown): boolean {
  const aws = (principal as { AWS?: unknown } | undefined)?.AWS;
  return JSON.stringify(aws).includes(':root');
}
