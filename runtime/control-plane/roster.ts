/**
 * The roster directory bundled with the functions (`roster.json` next to the bundle, generated from the
 * config at synth). It maps a verified token's identity to a roster user, and lists that user's agents.
 * The user id is never taken from a path, body or header: only from the token the JWT authorizer verified.
 */
import {
  ROSTER_FILE_NAME,
  type IdentitySource,
  type RosterAgent,
  type RosterDirectory,
  type RosterUser,
} from '../shared/function-contract';

/**
 * Node's fs and path without an ES module import: every function loads the roster at a cold start, and in its
 * bundle (an ES module) each built-in imported builds its module namespace first (`node:fs`: ~3 ms, issue 15).
 */
const { readFileSync } = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');

export { ROSTER_FILE_NAME, type IdentitySource, type RosterAgent, type RosterDirectory, type RosterUser };

/** JWT claims as API Gateway's JWT authorizer passes them (scalars become strings). */
export type Claims = Readonly<Record<string, string | number | boolean | string[] | undefined>>;

export class Roster {
  private readonly byId = new Map<string, RosterUser>();
  private readonly byEmail = new Map<string, RosterUser>();

  constructor(readonly directory: RosterDirectory) {
    for (const user of directory.users) {
      this.byId.set(user.id, user);
      this.byEmail.set(user.email.toLowerCase(), user);
    }
  }

  /** The roster user the verified claims belong to, or undefined (the caller answers 403). */
  identify(claims: Claims | undefined): RosterUser | undefined {
    if (!claims) return undefined;
    const identity = this.directory.identity;
    if (identity.kind === 'cognito') {
      const username = claims['username'] ?? claims['cognito:username'];
      return typeof username === 'string' ? this.byId.get(username) : undefined;
    }
    const value = claims[identity.claim];
    if (typeof value !== 'string') return undefined;
    // An unverified email must not select a user (some issuers let users type any address).
    const verified = claims['email_verified'];
    if (identity.claim === 'email' && (verified === false || verified === 'false')) return undefined;
    return this.byEmail.get(value.toLowerCase());
  }

  user(id: string): RosterUser | undefined {
    return this.byId.get(id);
  }
}

export function agentOf(user: RosterUser, agentId: string): RosterAgent | undefined {
  return user.agents.find((agent) => agent.id === agentId);
}

/** Reads the directory written next to the bundle at synth. */
export function loadRosterFile(file: string = path.join(__dirname, ROSTER_FILE_NAME)): Roster {
  const directory = JSON.parse(readFileSync(file, 'utf8')) as RosterDirectory;
  if (!directory || !Array.isArray(directory.users) || !directory.identity) {
    throw new Error(`${file} is not a roster directory`);
  }
  return new Roster(directory);
}
