/**
 * The agent images' compressed size estimated from the Dockerfile's layers without Docker, and the wake
 * time on Fargate on paper. Sizes of layers that cannot be built here come from runtime/agent/image-sizes.json
 * (each with how it was measured); the layers copied from this repository are measured (gzip -6).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

const MiB = 1024 * 1024;
/** The CLI each image installs (Dockerfile AGENT_CLI) → its npm package and the ARG holding its version. */
export const CLI_PACKAGES = {
  claude: { name: '@anthropic-ai/claude-code', arg: 'CLAUDE_CODE_VERSION' },
  codex: { name: '@openai/codex', arg: 'CODEX_VERSION' },
  gemini: { name: '@google/gemini-cli', arg: 'GEMINI_CLI_VERSION' },
} as const;

export interface Layer {
  readonly layer: string;
  readonly compressedMiB: number;
  readonly source: string;
}

export interface ImageEstimate {
  /** The largest image (the CLI with the biggest layer). */
  readonly compressedMiB: number;
  readonly byCli: Readonly<Record<keyof typeof CLI_PACKAGES, number>>;
  readonly layers: readonly Layer[];
  readonly method: string;
}

interface Sizes {
  base: { image: string; compressedBytes: number; method: string };
  apt: { packages: string[]; compressedBytes: number; method: string };
  npm: { method: string; packages: Record<string, { installedBytes: number; compressedBytes: number }> };
}

/** Reads the Dockerfile and the size table; throws when they disagree (a version changed, sizes not re-measured). */
export function imageEstimate(agentDir: string): ImageEstimate {
  const dockerfile = readFileSync(path.join(agentDir, 'Dockerfile'), 'utf8');
  const sizes = JSON.parse(readFileSync(path.join(agentDir, 'image-sizes.json'), 'utf8')) as Sizes;
  const from = /^FROM (\S+)$/m.exec(dockerfile)?.[1];
  if (from !== sizes.base.image)
    throw new Error(`image-sizes.json measures base ${sizes.base.image}, the Dockerfile uses ${from}`);
  const apt = /apt-get install -y --no-install-recommends ([^\\\n]+)/.exec(dockerfile)?.[1].trim().split(/\s+/).sort();
  if (JSON.stringify(apt) !== JSON.stringify([...sizes.apt.packages].sort()))
    throw new Error(`image-sizes.json measures apt packages ${sizes.apt.packages}, the Dockerfile installs ${apt}`);
  const args = Object.fromEntries([...dockerfile.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));

  const copied = gzipSync(tarLike(agentDir, ['dist', 'policy', 'skills'])).length;
  const shared: Layer[] = [
    {
      layer: 'base (node:22-bookworm-slim)',
      compressedMiB: sizes.base.compressedBytes / MiB,
      source: sizes.base.method,
    },
    {
      layer: `apt: ${sizes.apt.packages.join(' ')}`,
      compressedMiB: sizes.apt.compressedBytes / MiB,
      source: sizes.apt.method,
    },
    { layer: 'COPY dist/ policy/ skills/', compressedMiB: copied / MiB, source: 'measured: the files gzipped here' },
  ];
  const sharedMiB = shared.reduce((n, l) => n + l.compressedMiB, 0);
  const cliLayers: Layer[] = [];
  const byCli = {} as Record<keyof typeof CLI_PACKAGES, number>;
  for (const [cli, { name, arg }] of Object.entries(CLI_PACKAGES) as [
    keyof typeof CLI_PACKAGES,
    (typeof CLI_PACKAGES)[keyof typeof CLI_PACKAGES],
  ][]) {
    const key = `${name}@${args[arg]}`;
    const measured = sizes.npm.packages[key];
    if (!measured)
      throw new Error(
        `image-sizes.json has no size for ${key} (the Dockerfile's ${arg}); measure it: ${sizes.npm.method}`,
      );
    cliLayers.push({
      layer: `npm: ${key} (${cli} image only)`,
      compressedMiB: measured.compressedBytes / MiB,
      source: `installed ${(measured.installedBytes / MiB).toFixed(0)} MiB; ${sizes.npm.method}`,
    });
    byCli[cli] = sharedMiB + measured.compressedBytes / MiB;
  }
  return {
    compressedMiB: Math.max(...Object.values(byCli)),
    byCli,
    layers: [...shared, ...cliLayers],
    method: `per image: the shared layers plus one CLI; largest ${Object.entries(byCli)
      .map(([c, m]) => `${c} ${m.toFixed(0)} MiB`)
      .join(', ')}`,
  };
}

/** The repository files an image copies, concatenated (their gzip size is the layers' size, near enough). */
function tarLike(root: string, dirs: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  const walk = (p: string) => {
    if (statSync(p).isDirectory()) for (const f of readdirSync(p).sort()) walk(path.join(p, f));
    else parts.push(readFileSync(p));
  };
  for (const d of dirs) walk(path.join(root, d));
  return Buffer.concat(parts);
}

export interface WakeEstimate {
  readonly parts: readonly { readonly part: string; readonly seconds: number }[];
  readonly totalSeconds: number;
  readonly withSociSeconds: number;
}

/**
 * Wake time on paper: Fargate's scheduling and network interface (typically 10–20 s before the image pull
 * starts), the pull and unpack (ECR to Fargate, roughly 50 MiB/s download and a similar unpack rate for
 * gzip layers), EFS mount and container start, and the supervisor's start-to-ready (measured here, in ms).
 * SOCI lazy loading starts the container before the pull finishes (a few seconds for the part the
 * supervisor reads). README "Wake time" explains each part and how to shorten it.
 */
export function wakeOnPaper(imageMiB: number, supervisorReadyMs?: number): WakeEstimate {
  const pull = imageMiB / 50 + imageMiB / 60;
  const parts = [
    { part: 'scheduling + ENI', seconds: 15 },
    { part: `image pull + unpack (${imageMiB.toFixed(0)} MiB)`, seconds: pull },
    { part: 'EFS mount + container start', seconds: 2 },
    { part: 'supervisor ready', seconds: (supervisorReadyMs ?? 300) / 1000 },
  ];
  const total = parts.reduce((n, p) => n + p.seconds, 0);
  return { parts, totalSeconds: total, withSociSeconds: total - pull + 4 };
}
