/**
 * Builds the employee console into a plain directory of static files: `index.html`, `assets/` (content-
 * hashed JS and CSS, the icon). `config.json` is not part of the build: whoever serves the console writes
 * it beside these files (the CDK construct from stack values, local mode from its own address), so one
 * build runs everywhere. Synchronous (esbuild's buildSync) so a CDK construct can call it at synth;
 * deterministic (paths relative to the repository) so the asset hash only changes with the code.
 *
 *   npm run build:console      # writes console/dist and prints the shipped sizes
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildSync, type BuildOptions } from 'esbuild';

export const CONSOLE_DIR = __dirname;
/** Where `npm run build:console` (and local mode, on demand) puts the build. */
export const CONSOLE_DIST = path.join(CONSOLE_DIR, 'dist');
const REPO_ROOT = path.join(CONSOLE_DIR, '..');

export interface BuiltFile {
  /** Path relative to the build directory, with forward slashes. */
  readonly file: string;
  readonly bytes: number;
  readonly gzipBytes: number;
}

export interface ConsoleBuild {
  readonly dir: string;
  readonly files: readonly BuiltFile[];
}

/** esbuild's options for the console, paths relative to the repository (the console's asset hash reads them). */
export const CONSOLE_BUILD = {
  entryPoints: { app: 'console/src/app/main.tsx', style: 'console/src/app/styles.css' },
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  outdir: 'assets',
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'silent',
  // Node built-ins must never reach the page.
  external: [],
} as const satisfies BuildOptions;

/** The options buildConsole passes to esbuild: CONSOLE_BUILD from the repository, nothing written by esbuild. */
export function consoleBuildOptions() {
  return {
    ...CONSOLE_BUILD,
    entryPoints: { ...CONSOLE_BUILD.entryPoints },
    target: [...CONSOLE_BUILD.target],
    external: [],
    absWorkingDir: REPO_ROOT,
    write: false,
  } satisfies BuildOptions;
}

/** Builds the console into `outdir` (emptied first) and returns what it wrote. */
export function buildConsole(outdir: string = CONSOLE_DIST): ConsoleBuild {
  const result = buildSync(consoleBuildOptions());
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(path.join(outdir, 'assets'), { recursive: true });
  const names: Record<string, string> = {};
  for (const output of result.outputFiles) {
    const name = path.basename(output.path);
    writeFileSync(path.join(outdir, 'assets', name), output.contents);
    names[name.endsWith('.css') ? 'CSS' : 'JS'] = name;
  }
  if (!names.JS || !names.CSS) throw new Error('the console build produced no script or no stylesheet');
  const html = readFileSync(path.join(CONSOLE_DIR, 'static', 'index.html'), 'utf8').replace(
    /\{\{(JS|CSS)\}\}/g,
    (_, key: string) => names[key],
  );
  writeFileSync(path.join(outdir, 'index.html'), html);
  copyFileSync(path.join(CONSOLE_DIR, 'static', 'icon.svg'), path.join(outdir, 'assets', 'icon.svg'));
  const files = ['index.html', `assets/${names.JS}`, `assets/${names.CSS}`, 'assets/icon.svg'].map((file) => {
    const data = readFileSync(path.join(outdir, file));
    return { file, bytes: data.length, gzipBytes: gzipSync(data, { level: 9 }).length };
  });
  return { dir: outdir, files };
}

/**
 * The build in a directory of the temp dir named by its content, for synth: every `cdk synth` needs the
 * files on disk while CDK stages them, and a fresh directory per synth would leave one behind each time.
 * Built into a scratch directory first, then renamed into place, so two synths at once never see half a build.
 */
export function buildConsoleShared(): ConsoleBuild {
  const scratch = mkdtempSync(path.join(tmpdir(), 'cubicle-console-'));
  const build = buildConsole(scratch);
  const hash = createHash('sha256');
  for (const f of build.files)
    hash
      .update(f.file)
      .update('\0')
      .update(readFileSync(path.join(scratch, f.file)));
  const dir = path.join(tmpdir(), 'cubicle-console', hash.digest('hex').slice(0, 32));
  mkdirSync(path.dirname(dir), { recursive: true });
  if (existsSync(dir)) {
    rmSync(scratch, { recursive: true, force: true });
  } else {
    try {
      renameSync(scratch, dir);
    } catch {
      // Another synth renamed the same build into place first.
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return { dir, files: build.files };
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/** The size table the build prints: every shipped file, raw and gzipped, and the total. */
export function sizeReport(build: ConsoleBuild): string {
  const rows = build.files.map(
    (f) => `  ${f.file.padEnd(32)} ${kib(f.bytes).padStart(10)} ${kib(f.gzipBytes).padStart(10)} gz`,
  );
  const total = build.files.reduce((acc, f) => ({ bytes: acc.bytes + f.bytes, gz: acc.gz + f.gzipBytes }), {
    bytes: 0,
    gz: 0,
  });
  return [
    `console: ${build.dir}`,
    ...rows,
    `  ${'total shipped'.padEnd(32)} ${kib(total.bytes).padStart(10)} ${kib(total.gz).padStart(10)} gz`,
  ].join('\n');
}

if (require.main === module) {
  console.log(sizeReport(buildConsole(process.argv[2] ? path.resolve(process.argv[2]) : CONSOLE_DIST)));
}
