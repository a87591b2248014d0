import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from './config.js';
import { readySodium } from './crypto/index.js';
import { createDb, createMigrator, dbTargetFromConfig, migrateToLatest, type Db } from './db/index.js';
import { runHousekeeping } from './housekeeping.js';
import { setupOrganisation } from './setup/service.js';

const USAGE = `Usage: harbour <command> [options]

Commands:
  setup --org "NAME"     create the organisation keys and print the offline recovery key (once)
  migrate [--down]       apply every pending migration (or undo the last one)
  housekeeping           delete expired sessions, rate-limit rows and abandoned uploads

Configuration comes from the environment (see .env.example): DATABASE_URL for
a PostgreSQL server, otherwise the embedded database in DATA_DIR (./data).`;

const out = (s: string) => process.stdout.write(s + '\n');

async function ask(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new Error(`${question.trim()} is required (pass it as an option).`);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

async function setup(db: Db, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { org: { type: 'string' } }, strict: true });
  const org = values.org ?? (await ask('Organisation name: '));
  await migrateToLatest(db);
  const { recoveryKey } = await setupOrganisation(db, { orgName: org });
  out(`Harbour is set up for "${org}".

RECOVERY KEY — shown this once, stored nowhere:

    ${recoveryKey}

Write it on paper (or print it) and keep it offline, in a safe place away
from this server, known to two trusted people. It is the only way to regain
access to reports if every caseworker loses their password. Anyone who has it
and a copy of the database can read every report: never type it into a
computer except to run \`harbour recover\`, never photograph or email it.`);
  return 0;
}

async function migrate(db: Db, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { down: { type: 'boolean' } }, strict: true });
  if (values.down) {
    const { error, results } = await createMigrator(db).migrateDown();
    if (error) throw error;
    for (const r of results ?? []) out(`${r.status}: down ${r.migrationName}`);
    return 0;
  }
  const applied = await migrateToLatest(db);
  out(applied.length ? applied.map((m) => `applied ${m}`).join('\n') : 'The database is up to date.');
  return 0;
}

export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE);
    return command ? 0 : 64;
  }
  const config = loadConfig();
  await readySodium();
  const db = await createDb(dbTargetFromConfig(config));
  try {
    switch (command) {
      case 'setup':
        return await setup(db, rest);
      case 'migrate':
        return await migrate(db, rest);
      case 'housekeeping':
        await migrateToLatest(db);
        await runHousekeeping(db, config);
        out('Done.');
        return 0;
      default:
        process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
        return 64;
    }
  } finally {
    await db.destroy();
  }
}

export function cliMain(): void {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      // Our own errors carry a message meant for the operator; nothing here handles report content.
      process.stderr.write(`harbour: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
