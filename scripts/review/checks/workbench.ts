import { Check, code, outcome } from './types';

/**
 * Claim 4, inside the task: the CLI's container (the workbench) holds no AWS identity. What the templates
 * can show: a second container that runs as another uid than the supervisor, in its own PID namespace,
 * starts through the entrypoint that empties the environment ECS injects, has no ECS init (which would keep
 * that environment as PID 1), is given no variable or secret of its own, and can only connect to the
 * supervisor's sockets (the exchange volume is read-only for it). The runtime side is
 * test/runtime/agent/hostile.test.ts.
 */

const WORKBENCH = 'workbench';
const SUPERVISOR = 'supervisor';
const ENTRYPOINT = '/opt/cubicle/workbench-env.sh';
const EXCHANGE = '/run/cubicle';

export const workbenchIdentity: Check = {
  id: 'identity.workbench',
  claim: 4,
  title:
    "The CLI's container (workbench) carries no task-role credentials: another uid, its own PID namespace, an emptied environment, no variables or secrets, sockets it can use but not replace",
  run({ fleet }) {
    const findings: string[] = [];
    let checked = 0;
    for (const pair of fleet.pairs) {
      for (const td of pair.taskDefinitions) {
        const where = `${pair.userId}/${pair.agentId} ${td.stack} ${td.logicalId}`;
        const containers: any[] = td.props.ContainerDefinitions ?? [];
        const supervisor = containers.find((c) => c.Name === SUPERVISOR);
        const workbench = containers.find((c) => c.Name === WORKBENCH);
        if (!supervisor || !workbench || containers.length !== 2) {
          findings.push(
            `${where}: expected exactly the containers ${SUPERVISOR} and ${WORKBENCH}, found ${containers.map((c) => c.Name).join(', ') || 'none'}`,
          );
          continue;
        }
        checked += 1;
        if (td.props.PidMode !== undefined)
          findings.push(`${where}: PidMode ${td.props.PidMode} (the workbench would see the supervisor's processes)`);
        if (String(workbench.User).split(':')[0] === String(supervisor.User).split(':')[0])
          findings.push(`${where}: the workbench runs as the supervisor's uid ${workbench.User}`);
        if (JSON.stringify(workbench.EntryPoint) !== JSON.stringify([ENTRYPOINT]))
          findings.push(
            `${where}: the workbench's entrypoint is ${JSON.stringify(workbench.EntryPoint)}, not ${ENTRYPOINT}`,
          );
        if (workbench.LinuxParameters?.InitProcessEnabled === true)
          findings.push(
            `${where}: the workbench has ECS's init as PID 1, which keeps the injected credentials URI in its environment`,
          );
        if ((workbench.Environment ?? []).length > 0)
          findings.push(
            `${where}: the workbench has environment variables ${workbench.Environment.map((e: { Name: string }) => e.Name).join(', ')}`,
          );
        if ((workbench.Secrets ?? []).length > 0 || (workbench.EnvironmentFiles ?? []).length > 0)
          findings.push(`${where}: the workbench gets secrets or environment files from ECS`);
        for (const mount of workbench.MountPoints ?? []) {
          if (mount.ContainerPath === EXCHANGE && mount.ReadOnly !== true)
            findings.push(
              `${where}: the workbench can write the exchange volume (it could replace the supervisor's sockets)`,
            );
        }
        const supervisorVolumes = new Set(
          (supervisor.MountPoints ?? []).map((m: { SourceVolume: string }) => m.SourceVolume),
        );
        const shared = (workbench.MountPoints ?? [])
          .map((m: { SourceVolume: string }) => m.SourceVolume)
          .filter((v: string) => supervisorVolumes.has(v));
        const unexpected = shared.filter((v: string) => v !== 'workspace' && v !== 'exchange');
        if (unexpected.length > 0)
          findings.push(`${where}: the workbench shares volumes ${unexpected.join(', ')} with the supervisor`);
      }
    }
    return outcome(
      [
        `${checked}/${fleet.taskDefinitions.length} task definitions run the CLI in a ${code(WORKBENCH)} container beside the ${code(SUPERVISOR)}: another uid, no PidMode, entrypoint ${code(ENTRYPOINT)}, no ECS init, no environment or secrets, ${code(EXCHANGE)} read-only`,
        'the workbench shares only the workspace and the exchange volume with the supervisor, unless listed below',
      ],
      findings,
    );
  },
};
