import type { IConstruct } from 'constructs';

/**
 * A problem the platform engineer fixes in their config, lock file or repository (never a bug in
 * Cubicle): `cdk synth` prints its message alone, without a stack trace, and exits 1.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
    // The message says everything; a stack trace would only bury it in the CLI's output.
    this.stack = message;
  }
}

/** Metadata type of a config warning on the App node (read by lib/config/cli.ts, ignored by CDK). */
export const CONFIG_WARNING = 'cubicle:config-warning';

/**
 * A warning about a config choice, said in terms of the config. Not a CDK annotation: CDK would print it
 * inside its validation report with instructions for acknowledging an annotation, which is not how a
 * platform engineer settles it. `cdk synth` prints each as one `Warning:` line on stderr.
 */
export function addConfigWarning(app: IConstruct, message: string): void {
  app.node.addMetadata(CONFIG_WARNING, message);
}

/** The config warnings added to an app, in order. */
export function configWarnings(app: IConstruct): string[] {
  return app.node.metadata.filter((m) => m.type === CONFIG_WARNING).map((m) => String(m.data));
}
