import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { APP_PROPS, createApp, CubicleStacks } from '../../lib/app';
import { CubicleConfig } from '../../lib/config/schema';
import { ACCOUNT } from './account';

/** The feature flags of cdk.json, which the CLI passes to `cdk synth`; tests pass them too. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'),
).context;

/** A fresh app as `cdk synth` makes it (cdk.json's flags), bundling off, writing into its own temp dir. */
export function testApp(): App {
  return new App({
    ...APP_PROPS,
    outdir: mkdtempSync(path.join(tmpdir(), 'cubicle-app-')),
    context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] },
  });
}

/** A bare stack in the test account's home region, for one construct's `Template.fromStack` tests. */
export function testStack(id = 'Test'): Stack {
  return new Stack(testApp(), id, { env: { account: ACCOUNT, region: 'eu-west-1' } });
}

export interface SynthesizedApp {
  readonly app: App;
  readonly stacks: CubicleStacks;
  readonly outdir: string;
  template(stackName: string): Template;
}

/**
 * Builds and synthesizes the whole app for a config, into a fresh temp dir, with asset bundling off
 * (no esbuild/Docker work). Compliance checks run as in `cdk synth`; a finding throws.
 */
export function synthesize(config: CubicleConfig): SynthesizedApp {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cubicle-synth-'));
  const app = new App({ ...APP_PROPS, outdir, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  const stacks = createApp(app, config);
  const assembly = app.synth();
  const cache = new Map<string, Template>();
  return {
    app,
    stacks,
    outdir,
    template(stackName: string): Template {
      let template = cache.get(stackName);
      if (!template) {
        template = Template.fromJSON(assembly.getStackByName(stackName).template);
        cache.set(stackName, template);
      }
      return template;
    },
  };
}
