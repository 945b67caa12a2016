import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The numbered claims of docs/isolation-claims.md, read from the file so the report quotes it verbatim. */
export interface Claim {
  readonly number: number;
  readonly title: string;
  /** The promise, as one paragraph of markdown. */
  readonly promise: string;
  /** Where the parts not visible in templates are verified ("Verified by:" line). */
  readonly verifiedBy: string;
}

export const CLAIMS_FILE = path.join(__dirname, '..', '..', 'docs', 'isolation-claims.md');

export function readClaims(file: string = CLAIMS_FILE): Claim[] {
  const text = readFileSync(file, 'utf8');
  const claims: Claim[] = [];
  for (const section of text.split(/^## /m).slice(1)) {
    const heading = /^(\d+)\. (.+)\n/.exec(section);
    if (!heading) continue;
    const paragraphs = section
      .slice(heading[0].length)
      .trim()
      .split(/\n\s*\n/)
      .map((p) => p.replace(/\s*\n\s*/g, ' ').trim());
    const verified = paragraphs.find((p) => p.startsWith('Verified by:')) ?? '';
    claims.push({
      number: Number(heading[1]),
      title: heading[2].trim(),
      promise: paragraphs.filter((p) => p !== verified).join(' '),
      verifiedBy: verified.replace(/^Verified by:\s*/, ''),
    });
  }
  return claims;
}
