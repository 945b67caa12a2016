/** Durations in the config file: a whole number and one unit, `90s`, `15m` or `2h`. */
export const DURATION_RULE = 'a whole number followed by s, m or h (e.g. 90s, 15m, 2h)';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** Seconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^([1-9]\d{0,6})(s|m|h)$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_SECONDS[match[2]];
}
