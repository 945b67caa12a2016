import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { inject } from 'vitest';

/** A synthesized template as plain JSON. */
export interface TemplateJson {
  Resources: Record<string, { Type: string; Properties?: any; DeletionPolicy?: string; UpdateReplacePolicy?: string; DependsOn?: unknown }>;
  [key: string]: unknown;
}

/** Templates of the example app synthesized once by the global setup, by stack name. */
export function exampleTemplates(): Map<string, TemplateJson> {
  return readTemplates(inject('exampleAssemblyDir'));
}

export function exampleTemplate(stackName: string): Template {
  const json = exampleTemplates().get(stackName);
  if (!json) throw new Error(`no stack ${stackName} in the example assembly`);
  return Template.fromJSON(json);
}

export function readTemplates(dir: string): Map<string, TemplateJson> {
  const out = new Map<string, TemplateJson>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.template.json')).sort()) {
    out.set(file.replace(/\.template\.json$/, ''), JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
  }
  return out;
}

/** Every resource of a template of the given type, as [logicalId, resource]. */
export function resourcesOfType(template: TemplateJson, type: string): [string, TemplateJson['Resources'][string]][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}
