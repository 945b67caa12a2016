import { App } from 'aws-cdk-lib';
import { ConfigError, DEFAULT_CONFIG_PATH, LoadedConfig, loadConfigFile } from './load';

/** `-c config=PATH`, or the bundled example. */
export function configPathFrom(app: App): string {
  const value: unknown = app.node.tryGetContext('config');
  return typeof value === 'string' && value.length > 0 ? value : DEFAULT_CONFIG_PATH;
}

/** Loads the config; on problems prints one line per problem (no stack trace) and exits 1. */
export function loadConfigOrExit(file: string): LoadedConfig {
  try {
    return loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Invalid Cubicle config ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
