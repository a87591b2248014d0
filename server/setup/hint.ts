import type { Config } from '../config.js';

/**
 * What the server says while there is no organisation yet. The embedded
 * database belongs to one process at a time, so there `harbour setup` needs
 * the server stopped; with PostgreSQL it can run beside the server, which
 * notices the new installation on the next request.
 */
export function notSetUpHint(config: Config): string {
  const command = 'npx harbour setup --org "Your organisation" --admin-email you@example.org --admin-name "Your name"';
  return config.databaseUrl
    ? `Not set up yet: run \`${command}\` (from another terminal is fine; this server notices at once).`
    : `Not set up yet: stop this server (Ctrl-C), run \`${command}\`, then start it again with \`npm start\`.`;
}
