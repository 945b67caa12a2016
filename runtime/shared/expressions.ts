/**
 * DynamoDB expression helper: writes `#name` and `:value` tokens in the expressions and derives
 * ExpressionAttributeNames/Values from them (DynamoDB rejects unused names or values).
 */
export interface ExpressionParts {
  readonly UpdateExpression?: string;
  readonly ConditionExpression?: string;
  readonly KeyConditionExpression?: string;
  readonly FilterExpression?: string;
  readonly ProjectionExpression?: string;
}

export function expression<T extends ExpressionParts>(
  parts: T,
  values: Record<string, unknown> = {},
): T & { ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> } {
  const text = Object.values(parts).join(' ');
  const names: Record<string, string> = {};
  for (const [, name] of text.matchAll(/#([A-Za-z_][A-Za-z0-9_]*)/g)) names[`#${name}`] = name;
  const used: Record<string, unknown> = {};
  for (const [token] of text.matchAll(/:[A-Za-z_][A-Za-z0-9_]*/g)) {
    const key = token.slice(1);
    if (!(key in values)) throw new Error(`expression uses ${token} but no value was given`);
    used[token] = values[key];
  }
  return {
    ...parts,
    ExpressionAttributeNames: names,
    ...(Object.keys(used).length > 0 ? { ExpressionAttributeValues: used } : {}),
  };
}

/**
 * A conditional write that lost. By name, not `instanceof`: a bundle and a test (or local mode) may hold
 * different copies of the SDK's error classes.
 */
export function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';
}
