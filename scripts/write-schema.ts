import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { configJsonSchema } from '../lib/config/json-schema';

const target = path.join(__dirname, '..', 'config', 'schema.json');
writeFileSync(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), target)}`);
