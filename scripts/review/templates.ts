import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** A synthesized template as plain JSON. */
export interface TemplateJson {
  Resources: Record<string, ResourceJson>;
  [key: string]: unknown;
}

export interface ResourceJson {
  Type: string;
  Properties?: any;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: unknown;
  Metadata?: unknown;
}

/** Every `*.template.json` of a cloud assembly directory, by stack name (file name without the suffix). */
export function readTemplates(dir: string): Map<string, TemplateJson> {
  const out = new Map<string, TemplateJson>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.template.json'))
    .sort()) {
    out.set(file.replace(/\.template\.json$/, ''), JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
  }
  return out;
}

/** Every resource of a template of the given type, as [logicalId, resource]. */
export function resourcesOfType(template: TemplateJson, type: string): [string, ResourceJson][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}
