import { execFileSync } from 'node:child_process';

/**
 * Tests that start the real server or the `harbour` command as a process
 * (tests/helpers/process.ts) run the compiled build, as `npm start` does:
 * it is made once, before the integration files run, from the current sources.
 */
export function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--noCheck'], { stdio: 'inherit' });
}
