import type { TestProject } from 'vitest/node';
import { exampleConfig } from './example-config';
import { synthesize } from './synth';

/**
 * Synthesizes the bundled example once per test run (with every compliance check, as `cdk synth`
 * does) and hands the cloud assembly directory to test files, which read templates from it.
 */
export default function setup(project: TestProject): void {
  const { outdir } = synthesize(exampleConfig());
  project.provide('exampleAssemblyDir', outdir);
}

declare module 'vitest' {
  export interface ProvidedContext {
    exampleAssemblyDir: string;
  }
}
