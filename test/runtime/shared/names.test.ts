import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTaskFamily, taskFamily } from '../../../runtime/shared/names';
import { pairOfTaskDefinition } from '../../../runtime/control-plane/ecs-calls';

/** Roster ids from a small alphabet, so that "-" and "_" neighbours are common. */
const id = fc
  .tuple(fc.constantFrom('a', 'b'), fc.array(fc.constantFrom('a', 'b', '1', '-'), { maxLength: 6 }))
  .map(([first, rest]) => first + rest.join(''));

describe('task families', () => {
  it('parseTaskFamily inverts taskFamily for every pair of ids', () => {
    fc.assert(
      fc.property(id, id, (userId, agentId) => {
        expect(parseTaskFamily('acme', taskFamily('acme', userId, agentId))).toEqual({ userId, agentId });
      }),
    );
  });

  it("refuses another deployment's family and names that are no pair", () => {
    expect(parseTaskFamily('acme', taskFamily('other', 'alice', 'sales'))).toBeUndefined();
    expect(parseTaskFamily('acme', 'acme-alice')).toBeUndefined();
    expect(parseTaskFamily('acme', 'acme-alice_sales_x')).toBeUndefined();
  });

  it('pairOfTaskDefinition reads the family out of a task definition ARN', () => {
    const arn = `arn:aws:ecs:eu-west-1:111111111111:task-definition/${taskFamily('acme', 'b-c', 'd')}:7`;
    expect(pairOfTaskDefinition('acme', arn)).toEqual({ userId: 'b-c', agentId: 'd' });
    expect(pairOfTaskDefinition('acme', undefined)).toBeUndefined();
  });
});
