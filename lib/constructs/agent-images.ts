import * as path from 'node:path';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import type { Provider } from '../../runtime/shared/provider-credentials';
import { CubicleConfig } from '../config/schema';

export const AGENT_IMAGE_DIRECTORY = path.join(__dirname, '..', '..', 'runtime', 'agent');

/** The CLIs an agent image can hold (the Dockerfile's AGENT_CLI build argument). */
export type AgentCli = 'claude' | 'codex' | 'gemini';

/** Which CLI runs each provider (runtime/agent/src/providers/index.ts picks the same). */
export const AGENT_CLI_OF_PROVIDER: Readonly<Record<Provider, AgentCli>> = {
  anthropic: 'claude',
  bedrock: 'claude',
  openai: 'codex',
  google: 'gemini',
};

/**
 * One agent image per CLI the roster's agents use, built from runtime/agent with AGENT_CLI set: a task
 * pulls only its own CLI (each image stays under 300 MB compressed; README "Wake time").
 */
export function agentImages(scope: Construct, config: CubicleConfig): ReadonlyMap<AgentCli, ecrAssets.DockerImageAsset> {
  const clis = new Set(config.users.flatMap((u) => u.agents.map((a) => AGENT_CLI_OF_PROVIDER[a.provider])));
  const images = new Map<AgentCli, ecrAssets.DockerImageAsset>();
  for (const cli of [...clis].sort()) {
    images.set(
      cli,
      new ecrAssets.DockerImageAsset(scope, `AgentImage${cli[0].toUpperCase()}${cli.slice(1)}`, {
        directory: AGENT_IMAGE_DIRECTORY,
        buildArgs: { AGENT_CLI: cli },
        platform: config.runtime.architecture === 'arm64' ? ecrAssets.Platform.LINUX_ARM64 : ecrAssets.Platform.LINUX_AMD64,
      }),
    );
  }
  return images;
}
