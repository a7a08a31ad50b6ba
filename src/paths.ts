import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The package root is found by walking up from this file, so the same code works from src/ (tests)
// and from dist/ (the built CLI).
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export const packageRoot = findPackageRoot();
export const migrationsDir = path.join(packageRoot, 'src', 'db', 'migrations');
export const defaultConfigPath = path.join(packageRoot, 'dossier.config.yaml');
export const fieldSchemasDir = path.join(packageRoot, 'field-schemas');
export const templatesDir = path.join(packageRoot, 'templates');
export const fixturesDir = path.join(packageRoot, 'fixtures');
