/**
 * `npm start [-- --config PATH --port N --data DIR --real-providers --verbose]`: Cubicle on this machine.
 * Prints one line when ready; Ctrl-C stops every process it started (a second Ctrl-C kills them at once).
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH } from '../lib/config/load';
import { loadConfigOrExit } from '../lib/config/cli';
import { LocalError } from './data-dir';
import { realProviderProblems } from './provider-cli/real-providers';

const USAGE = `Usage: npm start -- [--config PATH] [--port N] [--data DIR] [--real-providers] [--verbose]
  --config PATH      the roster and platform file (default ${DEFAULT_CONFIG_PATH})
  --port N           the port on 127.0.0.1 (default: a free port)
  --data DIR         where local mode keeps its data (default .cubicle-local)
  --real-providers   run the installed provider CLIs with the stored credentials instead of the stand-in
  --verbose          also print the functions' and agents' logs (they are always in DIR/logs)`;

// This process is not AWS code; the SDK it uses for the stand-ins must not print Node-version notices.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

function fail(message: string): never {
  process.stderr.write(`cubicle local: ${message}\n`);
  process.exit(1);
}

function parse() {
  try {
    const { values } = parseArgs({
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        data: { type: 'string' },
        'real-providers': { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      fail(`--port must be a whole number from 0 to 65535, got ${JSON.stringify(values.port)}`);
    return {
      config: values.config ?? DEFAULT_CONFIG_PATH,
      port,
      data: path.resolve(values.data ?? '.cubicle-local'),
      realProviders: values['real-providers'] === true,
      verbose: values.verbose === true,
    };
  } catch (error) {
    fail(`${(error as Error).message.split('\n')[0]}\n${USAGE}`);
  }
}

async function main(): Promise<void> {
  const args = parse();
  const config = loadConfigOrExit(args.config);
  // Loaded only once the arguments and the config are valid, so bad input is answered at once.
  const { startLocal } = await import('./platform.js');
  let platform: Awaited<ReturnType<typeof startLocal>>;
  try {
    platform = await startLocal({
      config,
      dataDir: args.data,
      port: args.port,
      realProviders: args.realProviders,
      verbose: args.verbose,
    });
  } catch (error) {
    if (error instanceof LocalError || !args.verbose) fail((error as Error).message);
    throw error;
  }
  if (args.realProviders)
    for (const line of realProviderProblems(config, process.env.PATH ?? ''))
      process.stderr.write(`cubicle local: ${line}\n`);
  process.stdout.write(`Cubicle local: ${platform.url}\n`);

  // A terminal's Ctrl-C reaches npm and this process, and npm forwards it once more: signals within a
  // second of the first are the same Ctrl-C; a later one means "now".
  let firstSignalAt: number | undefined;
  const onSignal = () => {
    if (firstSignalAt !== undefined) {
      if (Date.now() - firstSignalAt < 1_000) return;
      platform.kill();
      process.exit(1);
    }
    firstSignalAt = Date.now();
    platform.stop().then(
      () => process.exit(0),
      (error: Error) => fail(`could not stop cleanly: ${error.message}`),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
}

void main();
