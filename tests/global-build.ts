import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Tests that start the real server or the `harbour` command as a process
 * (tests/helpers/process.ts) run the compiled build, as `npm start` does:
 * it is made before the integration files run, from the current sources.
 * The build takes 10–20 s of a busy 2-core machine, so it is skipped when
 * dist/ was made by this step from exactly the same inputs (every file
 * under server/ and migrations/, the tsconfigs and the lock file).
 */
const ROOT = path.resolve(import.meta.dirname, '..');
const STAMP = path.join(ROOT, 'dist', '.tests-build-inputs');

function inputsHash(): string {
  const hash = createHash('sha256');
  const add = (rel: string) =>
    hash
      .update(rel)
      .update('\0')
      .update(readFileSync(path.join(ROOT, rel)))
      .update('\0');
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(ROOT, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else add(p);
    }
  };
  walk('server');
  walk('migrations');
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json']) add(f);
  return hash.digest('hex');
}

export function setup(): void {
  const inputs = inputsHash();
  if (existsSync(path.join(ROOT, 'dist', 'server', 'index.js')) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === inputs) return;
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--noCheck'], { cwd: ROOT, stdio: 'inherit' });
  writeFileSync(STAMP, inputs);
}
