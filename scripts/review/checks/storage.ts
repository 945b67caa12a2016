import { listOf, principalsOf, statementsOf } from '../policies';
import { Check, code, outcome } from './types';
import { adminFindings, matrixCheck, ownResourceCheck } from './shared';

/** Claim 2: one access point per pair, file systems that deny everything else. */

export const accessPoints: Check = {
  id: 'storage.access-points',
  claim: 2,
  title:
    'Each pair has its own access point: own root directory, enforced non-root POSIX identity, mode 0700, mounted with IAM and TLS',
  run({ fleet }) {
    const findings: string[] = [...fleet.strays.filter((s) => s.startsWith('access point'))];
    const roots = new Map<string, string>();
    for (const pair of fleet.pairs) {
      const who = `${pair.userId}/${pair.agentId}`;
      if (pair.accessPoints.length !== 1)
        findings.push(`${who} mounts ${pair.accessPoints.length} access points (expected exactly one)`);
      for (const ap of pair.accessPoints) {
        const p = ap.props;
        const root = String(p.RootDirectory?.Path ?? '/');
        if (roots.has(root)) findings.push(`${who} and ${roots.get(root)} share the root directory ${root}`);
        roots.set(root, who);
        if (root === '/' || !root.includes(`/${pair.userId}/`))
          findings.push(`${who}: access point root ${root} is not a directory of its own user`);
        if (!['0700', '700'].includes(String(p.RootDirectory?.CreationInfo?.Permissions)))
          findings.push(
            `${who}: root directory mode ${p.RootDirectory?.CreationInfo?.Permissions ?? 'unset'}, not 0700`,
          );
        const uid = Number(p.PosixUser?.Uid);
        const gid = Number(p.PosixUser?.Gid);
        if (!p.PosixUser || uid === 0 || gid === 0 || Number.isNaN(uid) || Number.isNaN(gid))
          findings.push(
            `${who}: access point enforces ${JSON.stringify(p.PosixUser ?? 'no POSIX user')}, not a non-root uid/gid`,
          );
        if (ap.userId !== pair.userId || ap.agentId !== pair.agentId)
          findings.push(`${who} mounts the access point tagged ${ap.userId}/${ap.agentId}`);
        for (const td of pair.taskDefinitions) {
          for (const volume of (td.props.Volumes ?? []).filter((v: any) => v.EFSVolumeConfiguration)) {
            const efs = volume.EFSVolumeConfiguration;
            if (efs.TransitEncryption !== 'ENABLED')
              findings.push(`${who}: volume ${volume.Name} mounts without transit encryption`);
            if (efs.AuthorizationConfig?.IAM !== 'ENABLED')
              findings.push(`${who}: volume ${volume.Name} mounts without IAM authorization`);
            if (!efs.AuthorizationConfig?.AccessPointId)
              findings.push(`${who}: volume ${volume.Name} mounts the file system without an access point`);
          }
        }
      }
    }
    const sample = fleet.pairs[0]?.accessPoints[0]?.props;
    return outcome(
      [
        `${fleet.accessPoints.length} access points for ${fleet.pairs.length} pairs, ${roots.size} distinct root directories, 0 shared unless listed below`,
        ...(sample
          ? [
              `e.g. ${fleet.pairs[0].userId}/${fleet.pairs[0].agentId}: ${code({ RootDirectory: sample.RootDirectory, PosixUser: sample.PosixUser })}`,
            ]
          : []),
        'every EFS volume: `TransitEncryption: ENABLED`, `AuthorizationConfig: { IAM: ENABLED, AccessPointId }` unless listed below',
      ],
      findings,
    );
  },
};

/** Deny statements a file system policy must hold, each as [what, test]. */
const REQUIRED_DENIES: [string, (s: any) => boolean][] = [
  [
    'mounts without TLS',
    (s) =>
      listOf(s.Condition?.Bool?.['aws:SecureTransport'] ?? s.Condition?.BoolIfExists?.['aws:SecureTransport']).includes(
        'false',
      ),
  ],
  [
    'mounts without an access point',
    (s) => listOf(s.Condition?.Null?.['elasticfilesystem:AccessPointArn']).includes('true'),
  ],
  [
    'root access',
    (s) => listOf(s.Action).some((a) => /^elasticfilesystem:(ClientRootAccess|\*)$/i.test(a)) && !s.Condition,
  ],
];

export const fileSystems: Check = {
  id: 'storage.file-systems',
  claim: 2,
  title:
    'Every file system is encrypted and has a policy that denies mounts without TLS, without an access point, and root access (never the default policy)',
  run({ fleet }) {
    const findings: string[] = [];
    for (const fs of fleet.fileSystems) {
      const where = `${fs.stack} ${fs.logicalId}`;
      if (fs.props.Encrypted !== true) findings.push(`${where}: not encrypted at rest`);
      if (!fs.policy) {
        findings.push(
          `${where}: no FileSystemPolicy, so EFS's default applies (any client that can reach a mount target may mount, as root)`,
        );
        continue;
      }
      const statements = statementsOf([fs.policy]).map((s) => s.statement);
      const denies = statements.filter((s) => s.Effect === 'Deny' && principalsOf(s).includes('*'));
      for (const [what, test] of REQUIRED_DENIES)
        if (!denies.some(test)) findings.push(`${where}: its policy does not deny ${what} to every principal`);
      for (const s of statements.filter((x) => x.Effect === 'Allow' && principalsOf(x).includes('*') && !x.Condition)) {
        findings.push(
          `${where}: its policy allows ${listOf(s.Action).join(', ')} to every principal without a condition`,
        );
      }
    }
    const example = fleet.fileSystems[0]?.policy;
    return outcome(
      [
        `${fleet.fileSystems.length} file systems, ${fleet.fileSystems.filter((f) => f.policy).length} with a file system policy, ${fleet.fileSystems.filter((f) => f.props.Encrypted === true).length} encrypted`,
        ...(example
          ? [`policy of ${fleet.fileSystems[0].stack} ${fleet.fileSystems[0].logicalId}: ${code(example)}`]
          : []),
      ],
      findings,
    );
  },
};

export const storageMatrix = matrixCheck(
  'storage.matrix',
  2,
  ['storage', 'storage-own'],
  'Evaluated: each role mounts and writes through its own access point only; no mount without an access point, without TLS, or as root',
);
export const storageOwnResources = ownResourceCheck(
  'storage.own-resources',
  2,
  "No pair's policy names another pair's access point or a file system without its own access point as condition",
);
export const storageAdministrator: Check = {
  id: 'storage.administrator',
  claim: 2,
  title: 'An account administrator cannot mount as root or without an access point',
  run: (context) => adminFindings(context, 2),
};
