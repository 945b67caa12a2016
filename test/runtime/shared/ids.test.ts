import * as fc from 'fast-check';
import { App, Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { constructIdOf, ID_MAX_LENGTH, idFromConstructId } from '../../../runtime/shared/ids';
import { vaultSecretConstructIds } from '../../../lib/fleet/naming';

/** Ids as the roster allows them, drawn from a small alphabet so that near-collisions are common. */
const idChars = fc.constantFrom('a', 'b', 'q', '1', '0', '-');
export const rosterId = fc
  .tuple(fc.constantFrom('a', 'b', 'q'), fc.array(idChars, { maxLength: ID_MAX_LENGTH - 1 }))
  .map(([first, rest]) => first + rest.join(''));

/** A pair of ids, often one "-" apart (`qa-1` / `qa1`), where a lossy encoding would collide. */
const idPair = fc.oneof(
  fc.tuple(rosterId, rosterId),
  fc.tuple(rosterId, fc.nat(), fc.boolean()).map(([id, at, insert]): [string, string] => {
    const i = 1 + (at % id.length);
    const other = insert ? `${id.slice(0, i)}-${id.slice(i)}` : id.slice(0, i) + id.slice(i).replace('-', '');
    return [id, other.slice(0, ID_MAX_LENGTH)];
  }),
);

describe('constructIdOf', () => {
  it('keeps the PascalCase form of ordinary ids (the logical ids of existing stacks)', () => {
    expect(constructIdOf('alice')).toBe('Alice');
    expect(constructIdOf('bank-feed')).toBe('BankFeed');
    expect(constructIdOf('finance-x2')).toBe('FinanceX2');
    expect(constructIdOf('eu-west-1a')).toBe('EuWest-1a');
  });

  it('keeps the ids that a plain PascalCase conversion merges apart', () => {
    const ids = ['qa1', 'qa-1', 'a-b', 'ab', 'a--b', 'a-', 'a', 'a-b-c', 'a-bc', 'ab-c', 'a-1', 'a1', 'a--1'];
    expect(new Set(ids.map(constructIdOf)).size).toBe(ids.length);
    expect(constructIdOf('qa-1')).toBe('Qa-1');
    expect(constructIdOf('qa1')).toBe('Qa1');
  });

  it('is injective: the id is recovered from its construct id (property, 2,000 random ids)', () => {
    fc.assert(
      fc.property(rosterId, (id) => idFromConstructId(constructIdOf(id)) === id),
      { numRuns: 2000, seed: 16 },
    );
  });

  it('maps two different ids to two different construct ids (property, 5,000 random pairs)', () => {
    fc.assert(
      fc.property(idPair, ([a, b]) => a === b || constructIdOf(a) !== constructIdOf(b)),
      { numRuns: 5000, seed: 1616 },
    );
  });

  it('refuses what is not a lowercase id rather than guess', () => {
    expect(() => constructIdOf('Alice')).toThrow(/not a lowercase id/);
    expect(() => constructIdOf('')).toThrow(/not a lowercase id/);
  });

  it('gives CDK sibling constructs distinct logical ids for ids that differ only in "-"', () => {
    const stack = new Stack(new App(), 'S');
    const logicalIds = ['qa-1', 'qa1', 'qa--1', 'qa-1-'].map((id) => {
      const scope = new Construct(stack, `User${constructIdOf(id)}`);
      return stack.getLogicalId(new sqs.CfnQueue(scope, 'Queue'));
    });
    expect(new Set(logicalIds).size).toBe(4);
  });
});

describe('vault secret construct ids', () => {
  it('are unchanged for ordinary ids', () => {
    expect(vaultSecretConstructIds('connection', 'bank-feed')).toEqual({
      secret: 'ConnectionBankFeed',
      policy: 'ConnectionBankFeedPolicy',
    });
    expect(vaultSecretConstructIds('provider', 'anthropic')).toEqual({
      secret: 'ProviderAnthropic',
      policy: 'ProviderAnthropicPolicy',
    });
  });

  it('never collide inside one vault, even for a connection named "<another>-policy" (property)', () => {
    expect(vaultSecretConstructIds('connection', 'x-policy').secret).not.toBe(
      vaultSecretConstructIds('connection', 'x').policy,
    );
    const connection = fc.oneof(
      rosterId,
      rosterId.map((id) => `${id}-policy`),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(connection, { maxLength: 8 }),
        fc.subarray(['anthropic', 'openai', 'google']),
        (connections, providers) => {
          const ids = [
            ...connections.map((c) => vaultSecretConstructIds('connection', c)),
            ...providers.map((p) => vaultSecretConstructIds('provider', p)),
          ].flatMap((v) => [v.secret, v.policy]);
          return new Set(ids).size === ids.length;
        },
      ),
      { numRuns: 2000, seed: 19 },
    );
  });
});
