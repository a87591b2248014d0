// `npm run dev`: rebuilds on every change (TypeScript in watch mode) and
// restarts the server when the build changes (node --watch), in development
// mode (templates re-read on each request). Two child processes, no
// dependency: Ctrl-C stops both. The server starts only once the first build
// is written, so a restart never interrupts its first start.
import { spawn } from 'node:child_process';

const env = { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'development' };
const tsc = spawn('npx', ['tsc', '-p', 'tsconfig.build.json', '--noCheck', '--watch', '--preserveWatchOutput'], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env,
});
let server = null;
tsc.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!server && /Watching for file changes/.test(String(chunk))) {
    server = spawn(process.execPath, ['--watch', '--max-semi-space-size=4', 'dist/server/index.js'], { stdio: 'inherit', env });
    server.on('exit', (code) => {
      stop();
      process.exitCode = code ?? 0;
    });
  }
});
const stop = () => {
  tsc.kill('SIGTERM');
  server?.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
tsc.on('exit', (code) => {
  stop();
  process.exitCode = code ?? 0;
});
