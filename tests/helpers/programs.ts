import { execFileSync, spawnSync } from 'node:child_process';

/**
 * Programs the deployment tests run for real (Debian's caddy, tor,
 * systemd-analyze). A missing one fails the test with the command that
 * installs it; it is never skipped, so a machine without them cannot pass
 * quietly (.ci/run installs them).
 */
export function requireProgram(name: string, pkg = name): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${name} is not installed: apt-get install -y ${pkg} (.ci/run does this)`);
  }
}

export type Ran = { code: number | null; stdout: string; stderr: string };

/** Runs a program to the end with a time limit; never through a shell. */
export function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Ran {
  const r = spawnSync(file, args, { encoding: 'utf8', env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
