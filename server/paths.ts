import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project root, found by walking up from this file to package.json, so
 * the same code finds views/, locales/ and public/ whether it runs from
 * server/ (tests) or dist/server/ (npm start).
 */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + import.meta.url);
    dir = parent;
  }
  return dir;
}

export const rootDir = findRoot();
export const viewsDir = path.join(rootDir, 'views');
export const localesDir = path.join(rootDir, 'locales');
export const publicDir = path.join(rootDir, 'public');
