/**
 * "Did you mean ...?" for misspelled keys, values and names. Distance is optimal string alignment
 * (Levenshtein plus adjacent transpositions, so `emial` is one edit from `email`).
 */

/** The candidates closest to `word`, when close enough to be a likely typo; empty otherwise. */
export function closest(word: string, candidates: Iterable<string>): string[] {
  const limit = Math.min(2, Math.max(1, Math.floor(word.length / 3)));
  let best = limit + 1;
  let found: string[] = [];
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < best) {
      best = d;
      found = [candidate];
    } else if (d === best) {
      found.push(candidate);
    }
  }
  return found;
}

/** ` — did you mean "email"?` (or two or three candidates), or an empty string. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const found = closest(word, candidates).slice(0, 3);
  if (found.length === 0) return '';
  const quoted = found.map((c) => `"${c}"`);
  return ` — did you mean ${quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`}?`;
}

function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
