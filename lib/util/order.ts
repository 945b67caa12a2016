/**
 * Code-point order of strings: the same on every machine and locale (`localeCompare` is not), so lists
 * sorted with it reach the templates in the same order wherever synth runs.
 */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
