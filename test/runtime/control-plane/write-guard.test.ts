import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairKey } from '../../../runtime/shared/tables';
import { startDynamo, type TestDynamo } from '../../support/dynamo';
import { topLevelNames } from '../../support/expression-names';
import { checkWrite, writesOf } from '../../support/write-guard';
import { exampleWritePolicies } from '../../support/write-policies';

/**
 * The write guard can fail: a handler-like write of one attribute more than the function's allow-list is
 * refused before it reaches the table, by the synthesized policy (IAM simulator) or by the registry.
 */

let dynamo: TestDynamo;
beforeAll(async () => {
  dynamo = await startDynamo({ writer: 'api' });
});
afterAll(() => dynamo.close());

const pk = pairKey('alice', 'sales');
const message = { pk, sk: '01J0000000000000000000000A', requestId: 'r-1', body: 'cubicle-sealed:v1:x', createdAt: 1 };

describe('the write guard on the test DynamoDB client', () => {
  it('lets the API put an inbox row of the real shape, and refuses one with an attribute more (the synthesized policy denies it)', async () => {
    await dynamo.doc.send(new PutCommand({ TableName: dynamo.tables.inbox, Item: message }));
    await expect(
      dynamo.doc.send(new PutCommand({ TableName: dynamo.tables.inbox, Item: { ...message, sk: 'B', state: 'done' } })),
    ).rejects.toThrow(/synthesized policy of api: ImplicitlyDenied for dynamodb:PutItem on inbox naming \[.*state/);
    const stored = await dynamo.seed.send(
      new UpdateCommand({
        TableName: dynamo.tables.inbox,
        Key: { pk, sk: 'B' },
        UpdateExpression: 'SET x = :x',
        ExpressionAttributeValues: { ':x': 1 },
        ReturnValues: 'ALL_OLD',
      }),
    );
    expect(stored.Attributes).toBeUndefined(); // nothing reached the table
  });

  it('counts names in UpdateExpression (SET and REMOVE) and ConditionExpression, through ExpressionAttributeNames', async () => {
    const claim = { pk, sk: 'key-1', fingerprint: 'f', messageId: 'm', lockedUntil: 1, expiresAt: 9 };
    await dynamo.doc.send(new PutCommand({ TableName: dynamo.tables.idempotency, Item: claim }));
    const update = (expression: string, condition?: string) =>
      dynamo.doc.send(
        new UpdateCommand({
          TableName: dynamo.tables.idempotency,
          Key: { pk, sk: 'key-1' },
          UpdateExpression: expression,
          ...(condition ? { ConditionExpression: condition } : {}),
          ExpressionAttributeNames: Object.fromEntries(
            Object.entries({ '#a': 'answer', '#l': 'lockedUntil', '#o': 'owner' }).filter(([token]) =>
              `${expression} ${condition ?? ''}`.includes(token),
            ),
          ),
          ExpressionAttributeValues: { ':v': 1 },
        }),
      );
    await update('SET #a = :v', '#l = :v');
    await expect(update('SET #a = :v REMOVE #o')).rejects.toThrow(/owner/);
    await expect(update('SET #a = :v', 'attribute_not_exists(#o)')).rejects.toThrow(/owner/);
    await expect(update('SET #a = :v', 'attribute_not_exists(owner)')).rejects.toThrow(/owner/);
  });

  it("holds each function to its own list: the relay for the runtime may not set a session's status", async () => {
    const why = await checkWrite(exampleWritePolicies(), 'relay-runtime', 'sessions', {
      action: 'dynamodb:UpdateItem',
      tableName: dynamo.tables.sessions,
      attributes: ['lastActivityAt', 'pk', 'sessionId', 'status', 'taskArn'],
    });
    expect(why).toMatch(/relay-runtime writes \[status\] on sessions, not in its TABLE_WRITES entry/);
    expect(
      await checkWrite(exampleWritePolicies(), 'relay-runtime', 'sessions', {
        action: 'dynamodb:UpdateItem',
        tableName: dynamo.tables.sessions,
        attributes: ['lastActivityAt', 'pk', 'sessionId', 'taskArn'],
      }),
    ).toBeUndefined();
  });

  it('refuses a ReturnValues the function does not use, and an unknown table', async () => {
    const why = await checkWrite(exampleWritePolicies(), 'api', 'inbox', {
      action: 'dynamodb:PutItem',
      tableName: dynamo.tables.inbox,
      attributes: ['body', 'createdAt', 'pk', 'requestId', 'sk'],
      returnValues: 'ALL_OLD',
    });
    expect(why).toMatch(/ImplicitlyDenied/);
    await expect(dynamo.doc.send(new PutCommand({ TableName: 'Elsewhere', Item: { pk } }))).rejects.toThrow(
      /unknown table Elsewhere/,
    );
  });
});

describe('what a write names', () => {
  it('top-level names only: paths, functions, keywords and values are told apart', () => {
    expect(
      topLevelNames('SET #a.#b[2].c = if_not_exists(#a, :z) + :one, list = list_append(list, :l) REMOVE #r ADD n :v', {
        '#a': 'agents',
        '#b': 'inner',
        '#r': 'gone',
      }).sort(),
    ).toEqual(['agents', 'gone', 'list', 'n']);
    expect(
      topLevelNames('attribute_exists(#pk) AND (NOT #s IN (:x, :y) OR size(#t) BETWEEN :lo AND :hi)', {
        '#pk': 'pk',
        '#s': 'status',
        '#t': 'tags',
      }).sort(),
    ).toEqual(['pk', 'status', 'tags']);
    expect(() => topLevelNames('SET #nope = :v', {})).toThrow(/#nope is not in ExpressionAttributeNames/);
  });

  it('reads Put, Update, transactions and batches', () => {
    expect(
      writesOf('PutCommand', {
        TableName: 't',
        Item: { pk: 'a', x: 1 },
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    ).toEqual([{ action: 'dynamodb:PutItem', tableName: 't', attributes: ['pk', 'sk', 'x'], returnValues: undefined }]);
    expect(
      writesOf('TransactWriteItemsCommand', {
        TransactItems: [{ Update: { TableName: 't', Key: { pk: 'a' }, UpdateExpression: 'SET y = :v' } }],
      }),
    ).toEqual([{ action: 'dynamodb:UpdateItem', tableName: 't', attributes: ['pk', 'y'] }]);
    expect(
      writesOf('BatchWriteCommand', { RequestItems: { t: [{ PutRequest: { Item: { pk: 'a', z: 1 } } }] } }),
    ).toEqual([{ action: 'dynamodb:BatchWriteItem', tableName: 't', attributes: ['pk', 'z'] }]);
    expect(writesOf('QueryCommand', { TableName: 't' })).toEqual([]);
  });
});
