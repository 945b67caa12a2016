import { z } from 'zod';
import { configSchema } from './schema';

/**
 * JSON Schema of the config file for editors (YAML language server). Generated from the zod schema
 * for the input side (before defaults and duration parsing); cross-field rules are not expressible
 * in it and are checked at synth only.
 */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'Cubicle config',
    description: 'Platform settings and roster of a Cubicle deployment. Reference: README.md, "The config file".',
  };
}
