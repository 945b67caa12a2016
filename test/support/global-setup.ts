import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';
import { exampleConfig } from './example-config';
import { synthesize } from './synth';
import { writeAgentBundles } from '../../runtime/agent/build';
import { writeCli } from '../../cli/build';

/**
 * Gives the run its own temp root, builds the agent bundles and the CLI, then synthesizes the bundled
 * example once per test run (with every compliance check, as `cdk synth` does) and hands the cloud assembly
 * directory to test files, which read templates from it.
 */
export default function setup(project: TestProject): () => void {
  // Every temp dir the tests make (cloud assemblies, homes, data dirs: over a gigabyte a run) goes under one
  // root that the run removes at the end, whatever a test forgot to clean. Workers and the processes tests
  // start inherit TMPDIR, which os.tmpdir() reads on each call.
  const root = mkdtempSync(path.join(tmpdir(), 'cubicle-test-run-'));
  // As /tmp itself: the agent tests run the workbench and hostile CLIs under uids of their own, which must
  // traverse to their sockets and may write temp files of their own.
  chmodSync(root, 0o1777);
  process.env.TMPDIR = root;
  // The agent bundles and the CLI are build output, not committed: built once here for the tests that run them.
  writeAgentBundles();
  writeCli();
  const { outdir } = synthesize(exampleConfig());
  project.provide('exampleAssemblyDir', outdir);
  return () => rmSync(root, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    exampleAssemblyDir: string;
  }
}
