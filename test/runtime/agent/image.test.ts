import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { DockerImageAsset } from 'aws-cdk-lib/aws-ecr-assets';
import { describe, expect, it } from 'vitest';
import { buildSync } from 'esbuild';
import { buildAgent, BUNDLES, COMMON, COMPILE_CACHED, DIST_DIR, LAZY_BUNDLES } from '../../../runtime/agent/build';
import { AGENT_IMAGE_DIRECTORY, AGENT_IMAGE_FOLLOW_SYMLINKS } from '../../../lib/stacks/platform-stack';
import { imageEstimate } from '../../../scripts/bench/image';
import { REPO, workDir } from './helpers';

const AGENT = path.join(REPO, 'runtime', 'agent');
const dockerfile = readFileSync(path.join(AGENT, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((l) => l.trim() && !l.trim().startsWith('#'));

describe('agent bundles', () => {
  it('a build is reproducible, so the image asset hash (which covers dist/, built at synth) depends only on the sources', () => {
    const first = buildAgent();
    expect(buildAgent()).toEqual(first);
    for (const text of Object.values(first)) expect(text).not.toContain(REPO);
  });
});

describe('deferred parts of the supervisor (issue 15: start-to-ready)', () => {
  const bundle = buildAgent();

  it('the inbox opener (Encryption SDK, KMS) and STS are bundles of their own, not in the supervisor the task starts', () => {
    const entry = bundle['entrypoint.cjs'];
    // Names each keeps when minified: the keyring and its cache, KMS's commands, an STS command only the full client has.
    const opener = ['KmsKeyringNode', 'NodeCachingMaterialsManager', 'GenerateDataKeyCommand', 'DecryptCommand'];
    for (const marker of [...opener, 'DecodeAuthorizationMessage']) expect(entry, marker).not.toContain(marker);
    for (const marker of opener) expect(bundle['inbox-opener.js'], marker).toContain(marker);
    expect(bundle['sts.js']).toContain('DecodeAuthorizationMessage');
    // Full zod (~450 KB) is gone too: the agent environment is checked with zod/mini.
    expect(entry.length).toBeLessThan(700_000);
  });

  it('the relay protocol’s zod schemas (the relay validates frames with them, the supervisor does not) are not built at start', () => {
    // A literal only the device-frame schema has.
    expect(readFileSync(path.join(REPO, 'runtime', 'shared', 'relay-protocol.ts'), 'utf8')).toContain("'unsubscribe'");
    expect(bundle['entrypoint.cjs']).not.toContain('"unsubscribe"');
  });

  it('each package is bundled from its CommonJS build: the SDK’s browser user-agent parser (bowser) is not evaluated at start', () => {
    const { metafile } = buildSync({
      ...COMMON,
      entryPoints: [BUNDLES['entrypoint.cjs']],
      outfile: path.join(DIST_DIR, 'entrypoint.cjs'),
      write: false,
      metafile: true,
    });
    const inputs = metafile.inputs;
    // The ES module build of @aws-sdk/core re-exports its browser user-agent parser, which imports bowser at the top
    // (evaluated at every start); its CommonJS build requires bowser only inside the browser code path.
    expect(Object.keys(inputs).filter((f) => f.includes('/dist-es/'))).toEqual([]);
    const importers = Object.entries(inputs)
      .filter(([, input]) => input.imports.some((i) => i.path.startsWith('node_modules/bowser/')))
      .map(([file, input]) => [file, input.imports.find((i) => i.path.startsWith('node_modules/bowser/'))!.kind]);
    expect(importers).toEqual([['node_modules/@aws-sdk/core/dist-cjs/submodules/client/index.js', 'require-call']]);
    expect(readFileSync(path.join(REPO, importers[0][0]), 'utf8')).toMatch(/\n {4}const module = require\('bowser'\);/);
  });

  it('each loads with require from beside the supervisor, as its own file in the image', () => {
    for (const file of Object.keys(LAZY_BUNDLES).map((specifier) => path.basename(specifier))) {
      const loaded = createRequire(path.join(DIST_DIR, 'entrypoint.cjs'))(`./${file}`) as Record<string, unknown>;
      expect(Object.keys(loaded).length, file).toBeGreaterThan(0);
      expect(
        instructions.some((l) => l.startsWith('COPY ') && l.includes(`dist/${file} `)),
        file,
      ).toBe(true);
    }
    const opener = createRequire(path.join(DIST_DIR, 'entrypoint.cjs'))('./inbox-opener.js') as Record<string, unknown>;
    expect(typeof opener.inboxOpener).toBe('function');
  });
});

describe('shell parser beside the bundles', () => {
  it('the supervisor bundle requires mvdan-sh at run time, which resolves to the copy in dist/node_modules (the image’s /opt/cubicle/node_modules)', () => {
    expect(readFileSync(path.join(DIST_DIR, 'entrypoint.cjs'), 'utf8')).toContain('require("mvdan-sh")');
    const resolved = createRequire(path.join(DIST_DIR, 'entrypoint.cjs')).resolve('mvdan-sh');
    expect(resolved).toBe(path.join(DIST_DIR, 'node_modules', 'mvdan-sh', 'index.js'));
    expect(readFileSync(path.join(DIST_DIR, 'node_modules', 'mvdan-sh', 'LICENSE'), 'utf8')).toContain('Daniel Martí');
    // The hook stays dependency-free: it starts once per tool call.
    expect(readFileSync(path.join(DIST_DIR, 'guard-hook.cjs'), 'utf8')).not.toContain('mvdan-sh');
  });

  it('loading the parser leaves the process’s globals as they were (GopherJS sets two)', async () => {
    const { parseShell } = await import('../../../runtime/agent/src/shell-syntax.js');
    const limit = Error.stackTraceLimit;
    const hadRequire = 'require' in globalThis;
    expect(parseShell('ls | wc -l').calls).toHaveLength(2);
    expect(Error.stackTraceLimit).toBe(limit);
    expect('require' in globalThis).toBe(hadRequire);
  });
});

describe('Dockerfile', () => {
  it('pins the base image by digest and the provider CLIs by exact version', () => {
    const from = instructions.filter((l) => l.startsWith('FROM'));
    expect(from).toHaveLength(1);
    expect(from[0]).toMatch(/^FROM \S+:22-bookworm-slim@sha256:[0-9a-f]{64}$/);
    const args = Object.fromEntries(instructions.filter((l) => l.startsWith('ARG ')).map((l) => l.slice(4).split('=')));
    expect(args).toEqual({
      CLAUDE_CODE_VERSION: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      CODEX_VERSION: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      GEMINI_CLI_VERSION: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      // No default: the Platform stack names the CLI of each image (lib/constructs/agent-images.ts).
      AGENT_CLI: undefined,
    });
    const install = instructions.find((l) => l.includes('npm install --global'))!;
    for (const pkg of [
      'claude) package="@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}"',
      'codex) package="@openai/codex@${CODEX_VERSION}"',
      'gemini) package="@google/gemini-cli@${GEMINI_CLI_VERSION}"',
    ]) {
      expect(install).toContain(pkg);
    }
    // Anything else stops the build rather than producing an image without a CLI.
    expect(install).toMatch(/\*\) echo "AGENT_CLI must be claude, codex or gemini .*exit 1/);
    expect(dockerfile).not.toMatch(/@latest|:latest/);
  });

  it('runs as operator 10001:10001 from /workspace, with tini and the bundled entrypoint', () => {
    expect(dockerfile).toContain('groupadd --gid 10001 operator');
    expect(dockerfile).toContain('useradd --uid 10001 --gid 10001');
    const user = instructions.filter((l) => l.startsWith('USER'));
    expect(user).toEqual(['USER 10001:10001']);
    expect(instructions.indexOf(user[0])).toBeGreaterThan(instructions.findIndex((l) => l.startsWith('RUN groupadd')));
    expect(instructions).toContain('WORKDIR /workspace');
    expect(instructions).toContain('ENTRYPOINT ["/usr/bin/tini", "-s", "--"]');
    expect(instructions).toContain('CMD ["node", "/opt/cubicle/entrypoint.cjs"]');
    // Nothing the image needs at run time lives outside /workspace and /tmp (the root is read-only).
    expect(dockerfile).toContain('HOME=/tmp/cubicle/home');
  });

  it('copies the skills last (one small layer per skill set) and the shell parser beside the bundles', () => {
    const skills = instructions.indexOf('COPY skills/ /opt/cubicle/skills/');
    expect(skills).toBeGreaterThan(-1);
    expect(instructions[skills + 1]).toBe('RUN chmod -R a+rX,go-w /opt/cubicle/skills');
    const later = instructions.slice(skills + 2);
    expect(later.every((l) => /^(ENV|VOLUME|USER|WORKDIR|ENTRYPOINT|CMD) /.test(l))).toBe(true);
    expect(instructions.filter((l) => l.includes('skills'))).toHaveLength(2);
    expect(instructions).toContain('COPY dist/node_modules/ /opt/cubicle/node_modules/');
  });

  it('ships the workbench (its daemon and the entrypoint that empties its environment) and a second uid for it', () => {
    expect(instructions).toContain(
      'COPY dist/entrypoint.cjs dist/guard-hook.cjs dist/workbench.cjs workbench-env.sh /opt/cubicle/',
    );
    expect(dockerfile).toContain('useradd --uid 10002 --gid 10002');
    // The exchange volume is the supervisor's, so the workbench cannot create sockets there.
    expect(dockerfile).toContain('chown 10001:10001 /workspace /run/cubicle');
    expect(instructions).toContain('VOLUME ["/run/cubicle"]');
  });

  it('installs each CLI’s hook settings where only an admin layer can define them', () => {
    expect(instructions).toEqual(
      expect.arrayContaining([
        'COPY policy/claude-managed-settings.json /etc/claude-code/managed-settings.json',
        'COPY policy/codex-requirements.toml /etc/codex/requirements.toml',
        'COPY policy/gemini-system-settings.json /etc/gemini-cli/settings.json',
      ]),
    );
    const claude = JSON.parse(readFileSync(path.join(AGENT, 'policy', 'claude-managed-settings.json'), 'utf8'));
    expect(claude.hooks.PreToolUse[0].hooks[0]).toEqual({
      type: 'command',
      command: 'node /opt/cubicle/guard-hook.cjs claude',
      timeout: 900,
    });
    expect(claude.allowManagedHooksOnly).toBe(true);
    const gemini = JSON.parse(readFileSync(path.join(AGENT, 'policy', 'gemini-system-settings.json'), 'utf8'));
    expect(gemini.hooks.BeforeTool[0].hooks[0]).toMatchObject({
      command: 'node /opt/cubicle/guard-hook.cjs gemini',
      timeout: 900_000,
    });
    const codex = readFileSync(path.join(AGENT, 'policy', 'codex-requirements.toml'), 'utf8');
    expect(codex).toContain('command = "node /opt/cubicle/guard-hook.cjs codex"');
    expect(codex).toContain('allowed_web_search_modes = ["disabled"]');
  });
});

describe('compile cache (issue 15: start-to-ready)', () => {
  const CACHE = '/opt/cubicle/compile-cache';
  const step = instructions.find((l) => l.startsWith(`RUN mkdir ${CACHE} `)) ?? '';
  const words = step.split(/\s+/);

  it('is made at build time, after the bundles are copied and before the per-image skills layer', () => {
    const at = instructions.indexOf(step);
    expect(at).toBeGreaterThan(-1);
    const copies = instructions.filter((l) => l.startsWith('COPY dist/'));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) expect(at, copy).toBeGreaterThan(instructions.indexOf(copy));
    expect(at).toBeLessThan(instructions.indexOf('COPY skills/ /opt/cubicle/skills/'));
  });

  it('compiles exactly the files the supervisor loads (build.ts COMPILE_CACHED), each one the image ships', () => {
    const listed = words.slice(
      words.indexOf("require(`/opt/cubicle/${file}`)'") + 1,
      words.indexOf('&&', words.indexOf('-e')),
    );
    expect(listed).toEqual([...COMPILE_CACHED]);
    const built = buildAgent();
    for (const file of COMPILE_CACHED) expect(Object.keys(built), file).toContain(file);
    expect(COMPILE_CACHED).toEqual(
      expect.arrayContaining(['entrypoint.cjs', ...Object.keys(LAZY_BUNDLES).map((s) => path.basename(s))]),
    );
  });

  it("as the supervisor's uid (Node keys the cache by uid), then root-owned and read-only, and the supervisor reads it", () => {
    expect(step).toContain(`chown 10001:10001 ${CACHE} `);
    expect(step).toMatch(
      new RegExp(`NODE_COMPILE_CACHE=${CACHE} setpriv --reuid=10001 --regid=10001 --clear-groups\\s+node -e `),
    );
    // The build fails rather than ship an empty cache.
    expect(step).toContain(`test "$(find ${CACHE} -type f | wc -l)" -ge ${COMPILE_CACHED.length}`);
    expect(step).toMatch(new RegExp(`chown -R root:root ${CACHE}\\s+&& chmod -R a\\+rX,go-w ${CACHE}$`));
    const env = instructions.find((l) => l.startsWith('ENV '))!;
    expect(env).toContain(`NODE_COMPILE_CACHE=${CACHE} `);
    // The workbench's processes (the CLIs, the hook) start from an empty environment: they are not pointed at it.
    expect(readFileSync(path.join(AGENT, 'workbench-env.sh'), 'utf8')).not.toContain('NODE_COMPILE_CACHE');
  });
});

describe('image asset', () => {
  it('the Platform stack’s asset folder is runtime/agent, and CDK stages only what the image needs (no Docker at synth)', () => {
    expect(AGENT_IMAGE_DIRECTORY).toBe(AGENT);
    const dir = workDir();
    try {
      const app = new App({ outdir: dir.root });
      new DockerImageAsset(new Stack(app, 'S'), 'Agent', {
        directory: AGENT_IMAGE_DIRECTORY,
        followSymlinks: AGENT_IMAGE_FOLLOW_SYMLINKS,
      });
      app.synth();
      const staged = readdirSync(dir.root).find(
        (d) => d.startsWith('asset.') && statSync(path.join(dir.root, d)).isDirectory(),
      )!;
      const files: string[] = [];
      const walk = (d: string) =>
        readdirSync(d).forEach((f) =>
          statSync(path.join(d, f)).isDirectory()
            ? walk(path.join(d, f))
            : files.push(path.relative(path.join(dir.root, staged), path.join(d, f))),
        );
      walk(path.join(dir.root, staged));
      expect(files.sort()).toEqual(
        [
          '.dockerignore',
          'Dockerfile',
          'dist/entrypoint.cjs',
          'dist/guard-hook.cjs',
          'dist/inbox-opener.js',
          'dist/sts.js',
          'dist/node_modules/mvdan-sh/LICENSE',
          'dist/node_modules/mvdan-sh/index.js',
          'dist/node_modules/mvdan-sh/package.json',
          'dist/workbench.cjs',
          'policy/claude-managed-settings.json',
          'policy/codex-requirements.toml',
          'policy/gemini-system-settings.json',
          'workbench-env.sh',
          ...skillFiles(),
        ].sort(),
      );
    } finally {
      dir.cleanup();
    }
  });
});

function skillFiles(): string[] {
  const root = path.join(AGENT, 'skills');
  const out: string[] = [];
  const walk = (d: string) =>
    readdirSync(d).forEach((f) =>
      statSync(path.join(d, f)).isDirectory() ? walk(path.join(d, f)) : out.push(path.relative(AGENT, path.join(d, f))),
    );
  walk(root);
  return out;
}

describe('image size estimate (scripts/bench/image.ts)', () => {
  it('has a measured size for the Dockerfile’s base, apt packages and every pinned CLI version, and each image stays under 300 MB', () => {
    const estimate = imageEstimate(AGENT);
    expect(Object.keys(estimate.byCli).sort()).toEqual(['claude', 'codex', 'gemini']);
    for (const [cli, mib] of Object.entries(estimate.byCli)) expect(mib * 1.048576, cli).toBeLessThanOrEqual(300);
  });

  it('refuses a Dockerfile whose CLI version has no measured size', () => {
    const dir = workDir();
    try {
      for (const f of ['Dockerfile', 'image-sizes.json'])
        writeFileSync(
          path.join(dir.root, f),
          readFileSync(path.join(AGENT, f), 'utf8').replace('CODEX_VERSION=0.169.0', 'CODEX_VERSION=0.170.0'),
        );
      for (const d of ['dist', 'policy', 'skills'])
        cpSync(path.join(AGENT, d), path.join(dir.root, d), { recursive: true });
      expect(() => imageEstimate(dir.root)).toThrow('image-sizes.json has no size for @openai/codex@0.170.0');
    } finally {
      dir.cleanup();
    }
  });
});
