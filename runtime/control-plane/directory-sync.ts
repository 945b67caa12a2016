/**
 * Directory sync: makes the default Cognito user pool hold exactly the roster's users, without one
 * CloudFormation resource per user (a stack holds at most 500 resources). Runs as a custom resource on
 * every deploy that changes the roster's identities (handlers/directory-sync.ts).
 *
 * - A roster user missing from the pool is created (username = roster id, verified email, invitation
 *   by email).
 * - A changed email is updated in place (AdminUpdateUserAttributes): the user keeps their password and
 *   MFA. The user is never deleted and re-created.
 * - A pool user no longer on the roster is disabled and signed out everywhere (refresh tokens revoked),
 *   never deleted: re-adding them to the roster enables them again with password and MFA intact.
 * - The roster is the source of truth: a disabled user who is on the roster is enabled again.
 *
 * Idempotent: it reads the pool first and writes only the differences, so a second run makes no writes
 * and an interrupted run is finished by the next one.
 */
import {
  AdminCreateUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminUpdateUserAttributesCommand,
  AdminUserGlobalSignOutCommand,
  AliasExistsException,
  type CognitoIdentityProviderClient,
  paginateListUsers,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';

export interface DirectoryUser {
  readonly id: string;
  readonly email: string;
}

export interface PoolUser {
  readonly username: string;
  readonly email: string | undefined;
  readonly enabled: boolean;
}

export interface SyncOptions {
  readonly userPoolId: string;
  /** Calls in flight at once (Cognito's user-update quota is 25 requests per second; the SDK retries throttles). */
  readonly concurrency?: number;
  /** Epoch ms after which no new call starts (the function's own time limit, less a margin). */
  readonly deadline?: number;
  readonly now?: () => number;
}

export interface SyncResult {
  readonly created: readonly string[];
  readonly emailUpdated: readonly string[];
  readonly enabled: readonly string[];
  readonly disabled: readonly string[];
  readonly unchanged: number;
}

export class DirectorySyncError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectorySyncError';
  }
}

/** Every user of the pool (ListUsers, 60 per page). */
export async function listPoolUsers(client: CognitoIdentityProviderClient, userPoolId: string): Promise<PoolUser[]> {
  const users: PoolUser[] = [];
  for await (const page of paginateListUsers({ client, pageSize: 60 }, { UserPoolId: userPoolId })) {
    for (const user of page.Users ?? []) {
      if (!user.Username) continue;
      users.push({
        username: user.Username,
        email: user.Attributes?.find((a) => a.Name === 'email')?.Value,
        enabled: user.Enabled !== false,
      });
    }
  }
  return users;
}

const sameEmail = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();
const emailAttributes = (email: string) => [
  { Name: 'email', Value: email },
  // The platform team vouches for the roster's addresses: no verification code is sent.
  { Name: 'email_verified', Value: 'true' },
];

/** Brings the pool in line with the roster; see the module comment for what each difference leads to. */
export async function syncDirectory(
  client: CognitoIdentityProviderClient,
  roster: readonly DirectoryUser[],
  options: SyncOptions,
): Promise<SyncResult> {
  const { userPoolId } = options;
  const now = options.now ?? Date.now;
  const pool = new Map((await listPoolUsers(client, userPoolId)).map((u) => [u.username, u]));
  const wanted = new Map(roster.map((u) => [u.id, u]));

  const created: string[] = [];
  const emailUpdated: string[] = [];
  const enabled: string[] = [];
  const disabled: string[] = [];
  let unchanged = 0;
  const tasks: (() => Promise<void>)[] = [];
  /** Email updates refused because another user still holds the address: retried after everything else. */
  const aliasConflicts: DirectoryUser[] = [];

  const updateEmail = async (user: DirectoryUser, retry: boolean) => {
    try {
      await client.send(
        new AdminUpdateUserAttributesCommand({
          UserPoolId: userPoolId,
          Username: user.id,
          UserAttributes: emailAttributes(user.email),
        }),
      );
      emailUpdated.push(user.id);
    } catch (error) {
      if (error instanceof AliasExistsException && !retry) aliasConflicts.push(user);
      else throw error;
    }
  };

  // Removed users first: disabling does not free an address, but it orders the log sensibly and
  // locks a departing employee out before anything else happens.
  for (const user of [...pool.values()].sort(byUsername)) {
    if (wanted.has(user.username) || !user.enabled) continue;
    tasks.push(async () => {
      await client.send(new AdminDisableUserCommand({ UserPoolId: userPoolId, Username: user.username }));
      // Disabled users cannot sign in or refresh; this also revokes refresh tokens already issued.
      await client.send(new AdminUserGlobalSignOutCommand({ UserPoolId: userPoolId, Username: user.username }));
      disabled.push(user.username);
    });
  }
  for (const user of [...roster].sort(byId)) {
    const existing = pool.get(user.id);
    if (!existing) {
      tasks.push(async () => {
        try {
          await client.send(
            new AdminCreateUserCommand({
              UserPoolId: userPoolId,
              Username: user.id,
              UserAttributes: emailAttributes(user.email),
              DesiredDeliveryMediums: ['EMAIL'],
              // The roster is the truth: an address still held as an alias by a removed user moves here.
              ForceAliasCreation: true,
            }),
          );
          created.push(user.id);
        } catch (error) {
          // Created by a concurrent run since the listing: make sure its email is the roster's.
          if (!(error instanceof UsernameExistsException)) throw error;
          await updateEmail(user, false);
        }
      });
      continue;
    }
    const emailChanged = !sameEmail(existing.email, user.email);
    if (emailChanged) tasks.push(() => updateEmail(user, false));
    if (!existing.enabled) {
      tasks.push(async () => {
        await client.send(new AdminEnableUserCommand({ UserPoolId: userPoolId, Username: user.id }));
        enabled.push(user.id);
      });
    }
    if (!emailChanged && existing.enabled) unchanged += 1;
  }

  await runAll(tasks, options.concurrency ?? 8, () => options.deadline !== undefined && now() > options.deadline);
  // An address that moved between two roster users in this change: the second update succeeds once the
  // first has released it.
  await runAll(
    aliasConflicts.map((user) => () => updateEmail(user, true)),
    1,
    () => false,
  );

  return {
    created: created.sort(),
    emailUpdated: emailUpdated.sort(),
    enabled: enabled.sort(),
    disabled: disabled.sort(),
    unchanged,
  };
}

/** Runs the tasks with at most `concurrency` in flight; stops starting new ones once `expired()`. */
async function runAll(
  tasks: readonly (() => Promise<void>)[],
  concurrency: number,
  expired: () => boolean,
): Promise<void> {
  let next = 0;
  let done = 0;
  const failures: unknown[] = [];
  const worker = async () => {
    while (next < tasks.length && !expired()) {
      const task = tasks[next++];
      try {
        await task();
      } catch (error) {
        failures.push(error);
      }
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  if (failures.length > 0) {
    const first = failures[0] as Error;
    throw new DirectorySyncError(
      `${failures.length} of ${tasks.length} directory changes failed (first: ${first.name}: ${first.message}); the next deploy retries them`,
    );
  }
  if (done < tasks.length) {
    throw new DirectorySyncError(
      `ran out of time after ${done} of ${tasks.length} directory changes; deploy again to finish (the sync is idempotent)`,
    );
  }
}

function byId(a: DirectoryUser, b: DirectoryUser): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function byUsername(a: PoolUser, b: PoolUser): number {
  return a.username < b.username ? -1 : a.username > b.username ? 1 : 0;
}
