/**
 * The top-level attribute names a DynamoDB expression refers to, by lexing it as DynamoDB's grammar does:
 * a document path is a name (`#token` or a bare identifier) followed by `.name` and `[n]` parts, of which
 * only the first is a top-level attribute; `:tokens` are values; a word followed by `(` is a function
 * (attribute_exists, if_not_exists, list_append, size, ...); SET/REMOVE/ADD/DELETE and the logical and
 * comparison keywords are not names. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.html
 */

const KEYWORDS = new Set(['SET', 'REMOVE', 'ADD', 'DELETE', 'AND', 'OR', 'NOT', 'BETWEEN', 'IN']);
const WORD = /[A-Za-z0-9_]/;

export class ExpressionError extends Error {}

export function topLevelNames(expression: string | undefined, names: Record<string, string> = {}): string[] {
  if (!expression) return [];
  const found = new Set<string>();
  let i = 0;
  let afterDot = false;
  const word = (): string => {
    const start = i;
    while (i < expression.length && WORD.test(expression[i])) i += 1;
    return expression.slice(start, i);
  };
  while (i < expression.length) {
    const c = expression[i];
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if (c === ':') {
      i += 1;
      if (!word()) throw new ExpressionError(`empty value token at ${i} in ${JSON.stringify(expression)}`);
      afterDot = false;
      continue;
    }
    if (c === '#' || /[A-Za-z_]/.test(c)) {
      if (c === '#') i += 1;
      const token = (c === '#' ? '#' : '') + word();
      let j = i;
      while (j < expression.length && /\s/.test(expression[j])) j += 1;
      const isFunction = c !== '#' && expression[j] === '(';
      const isKeyword = c !== '#' && KEYWORDS.has(token.toUpperCase());
      if (!isFunction && !isKeyword && !afterDot) {
        if (token.startsWith('#')) {
          const name = names[token];
          if (name === undefined) throw new ExpressionError(`${token} is not in ExpressionAttributeNames`);
          found.add(name);
        } else {
          found.add(token);
        }
      }
      afterDot = false;
      continue;
    }
    if (c === '[') {
      const end = expression.indexOf(']', i);
      if (end < 0) throw new ExpressionError(`unclosed [ in ${JSON.stringify(expression)}`);
      i = end + 1;
      continue;
    }
    afterDot = c === '.';
    if (/[0-9]/.test(c)) word();
    else i += 1;
  }
  return [...found];
}
