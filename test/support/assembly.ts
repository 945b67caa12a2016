import { Template } from 'aws-cdk-lib/assertions';
import { inject } from 'vitest';
import { readTemplates } from '../../scripts/review/templates';

export { readTemplates, resourcesOfType, type TemplateJson } from '../../scripts/review/templates';

/** Templates of the example app synthesized once by the global setup, by stack name. */
export function exampleTemplates() {
  return readTemplates(inject('exampleAssemblyDir'));
}

export function exampleTemplate(stackName: string): Template {
  const json = exampleTemplates().get(stackName);
  if (!json) throw new Error(`no stack ${stackName} in the example assembly`);
  return Template.fromJSON(json);
}
