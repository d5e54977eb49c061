import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// src/ (under vitest) and dist/ (built) both sit one level below the package
// root, so templates/, playbooks/ and schema/ are found the same way from both.
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const templatesDir = join(packageRoot, 'templates');
export const playbooksDir = join(packageRoot, 'playbooks');
export const schemaFile = join(packageRoot, 'schema', 'hosts.schema.json');
