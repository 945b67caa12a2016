import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { expression, isConditionFailure } from '../../../runtime/shared/expressions';

describe('expression', () => {
  it('derives names and values from the tokens the expressions use, and no others', () => {
    const parts = expression(
      { UpdateExpression: 'SET #status = :status', ConditionExpression: 'attribute_exists(#pk)' },
      { status: 'RUNNING', unused: 1 },
    );
    expect(parts.ExpressionAttributeNames).toEqual({ '#status': 'status', '#pk': 'pk' });
    expect(parts.ExpressionAttributeValues).toEqual({ ':status': 'RUNNING' });
  });

  it('leaves out ExpressionAttributeValues when no value is used (DynamoDB rejects an empty map)', () => {
    expect(expression({ ConditionExpression: 'attribute_not_exists(#pk)' })).not.toHaveProperty(
      'ExpressionAttributeValues',
    );
  });

  it('refuses a value token with no value', () => {
    expect(() => expression({ ConditionExpression: '#a = :a' })).toThrow(/:a/);
  });
});

describe('isConditionFailure', () => {
  it('recognises the SDK error and a look-alike from another copy of the SDK, and nothing else', () => {
    const sdk = new ConditionalCheckFailedException({ message: 'lost', $metadata: {} });
    const copy = Object.assign(new Error('lost'), { name: 'ConditionalCheckFailedException' });
    expect(isConditionFailure(sdk)).toBe(true);
    expect(isConditionFailure(copy)).toBe(true);
    expect(isConditionFailure(new Error('ResourceNotFoundException'))).toBe(false);
    expect(isConditionFailure(undefined)).toBe(false);
  });
});
