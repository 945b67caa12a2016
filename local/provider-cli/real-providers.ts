import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';
import type { CubicleConfig } from '../../lib/config/schema';
import { adapterFor } from '../../runtime/agent/src/providers';
import { PROVIDERS } from '../../runtime/shared/provider-credentials';

/**
 * With --real-providers: the roster's agents whose CLI is not on PATH (the supervisor runs the command
 * its adapter names, runtime/agent/src/providers), and bedrock agents, which need the task role's AWS
 * identity to sign model calls. One line each; local mode starts anyway.
 */
export function realProviderProblems(config: CubicleConfig, searchPath: string): string[] {
  const dirs = searchPath.split(path.delimiter).filter(Boolean);
  const onPath = (command: string) =>
    dirs.some((dir) => {
      try {
        accessSync(path.join(dir, command), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  const lines: string[] = [];
  for (const provider of PROVIDERS) {
    const agents = config.users.flatMap((u) =>
      u.agents.filter((a) => a.provider === provider).map((a) => `${u.id}/${a.id}`),
    );
    if (agents.length === 0) continue;
    const { command } = adapterFor(provider);
    if (!onPath(command))
      lines.push(`--real-providers: ${command} is not on PATH; the messages of ${agents.join(', ')} will fail`);
    if (provider === 'bedrock')
      lines.push(`--real-providers: bedrock agents (${agents.join(', ')}) cannot reach Amazon Bedrock locally`);
  }
  return lines;
}
