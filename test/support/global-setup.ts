import type { TestProject } from 'vitest/node';
import { exampleConfig } from './example-config';
import { synthesize } from './synth';
import { writeAgentBundles } from '../../runtime/agent/build';
import { writeCli } from '../../cli/build';

/**
 * Builds the agent bundles and the CLI, then synthesizes the bundled example once per test run (with every compliance check, as `cdk synth`
 * does) and hands the cloud assembly directory to test files, which read templates from it.
 */
export default function setup(project: TestProject): void {
  // The agent bundles and the CLI are build output, not committed: built once here for the tests that run them.
  writeAgentBundles();
  writeCli();
  const { outdir } = synthesize(exampleConfig());
  project.provide('exampleAssemblyDir', outdir);
}

declare module 'vitest' {
  export interface ProvidedContext {
    exampleAssemblyDir: string;
  }
}
