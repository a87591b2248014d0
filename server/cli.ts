import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { composeAlert } from './alerts/compose.js';
import { MAIL_ERROR_HINTS, sendTestMessage } from './alerts/transport.js';
import { isMailAddress, loadConfig, type Config } from './config.js';
import { readySodium } from './crypto/index.js';
import { createDb, createMigrator, dbTargetFromConfig, migrateToLatest, type Db } from './db/index.js';
import { DataDirLockedError, lockDataDir } from './db/lock.js';
import { runHousekeeping } from './housekeeping.js';
import { purge } from './retention/purge.js';
import { loadSettings } from './settings/settings.js';
import { currentTeamKey, setupOrganisation } from './setup/service.js';
import { seedDemo } from './demo/seed-demo.js';
import { audit } from './audit/log.js';
import { runAuditVerify } from './audit/cli.js';
import { writeBackup, type BackupSummary } from './backup/backup.js';
import { backupThroughServer, serverListens } from './backup/socket.js';
import { restoreBackup } from './backup/restore.js';
import type { Role } from './db/schema.js';
import { createFirstStaff } from './staff/first-admin.js';
import { grantWithRecovery } from './staff/keys.js';
import { PASSWORD_MESSAGES, passwordProblem } from './staff/passwords.js';
import { findUserByEmail } from './staff/queries.js';
import { createUser, resetPasswordWithNewKeys } from './staff/users.js';

const USAGE = `Usage: harbour <command> [options]

Commands:
  setup --org "NAME" [--admin-email E --admin-name N --password-file F] [--admin-only]
                         create the organisation keys, print the offline recovery key (once)
                         and create the first administrator (also a caseworker unless --admin-only)
  user add --email E --name N --roles caseworker,admin --password-file F
                         create a staff account (a caseworker still needs a colleague's approval)
  recover --email E [--password-file F] [--recovery-key-file K]
                         with the offline recovery key (asked for, or read from K), give this
                         caseworker access to every case; with F, also set a new password
                         (new keys; they set up a new second factor at sign-in)
  seed --demo [--cases N] fill a fresh installation with two years of fictional casework: N live
                         cases (default 400) with messages, notes, referrals and history, and
                         the statistics of older ones retention has deleted; refused if real
                         reports or statistics exist
  audit verify [--expect SEQ:HASH]
                         check the audit log's hash chain (and a head recorded earlier); exit 1 on any change
  backup --out FILE      write an encrypted, consistent backup of the whole installation (sealed to the
                         recovery key: no secret needed to make one), also beside a running server
  restore --in FILE [--recovery-key-file K]
                         restore a backup into an EMPTY installation (the offline recovery key opens it)
  migrate [--down]       apply every pending migration (or undo the last one)
  housekeeping           delete expired sessions, rate-limit rows and abandoned uploads
  mail test --to ADDRESS send the fixed test message through SMTP_URL now, and say what went wrong if it fails
  purge [--dry-run]      delete closed cases past CLOSED_RETENTION_DAYS (or list them)

Configuration comes from the environment (see .env.example): DATABASE_URL for
a PostgreSQL server, otherwise the embedded database in DATA_DIR (./data).`;

const out = (s: string) => process.stdout.write(s + '\n');

/** Every demo case carries its history in memory until the chain is written: a demo, not a load test (bench/). */
const MAX_DEMO_CASES = 100_000;

async function ask(question: string, opts: { hidden?: boolean } = {}): Promise<string> {
  if (!process.stdin.isTTY) throw new Error(`${question.replace(/:\s*$/, '')} is required (pass it as an option).`);
  const muted = new Writable({
    write(chunk, _enc, cb) {
      // Echo the prompt, not what is typed.
      if (!opts.hidden || String(chunk).includes(question)) process.stdout.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output: opts.hidden ? muted : process.stdout, terminal: true });
  try {
    const answer = (await rl.question(question)).trim();
    if (opts.hidden) process.stdout.write('\n');
    return answer;
  } finally {
    rl.close();
  }
}

/** A password from a file (first line) or, on a terminal, typed twice without echo. */
async function readPassword(file: string | undefined, email: string): Promise<string> {
  let password: string;
  if (file) {
    password = readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
  } else {
    password = await ask('Password (not shown): ', { hidden: true });
    if ((await ask('Password again: ', { hidden: true })) !== password) throw new Error('The passwords do not match.');
  }
  const problem = await passwordProblem(password, email);
  if (problem) throw new Error(PASSWORD_MESSAGES[problem]);
  return password;
}

function parseRoles(value: string | undefined): Role[] {
  const roles = (value ?? 'caseworker').split(',').map((r) => r.trim());
  const bad = roles.filter((r) => r !== 'caseworker' && r !== 'admin');
  if (bad.length || roles.length === 0) throw new Error(`Unknown role "${bad.join(', ')}": use caseworker, admin or both.`);
  return roles as Role[];
}

async function setup(db: Db, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      org: { type: 'string' },
      'admin-email': { type: 'string' },
      'admin-name': { type: 'string' },
      'password-file': { type: 'string' },
      'admin-only': { type: 'boolean' },
      'no-admin': { type: 'boolean' },
    },
    strict: true,
  });
  const org = values.org ?? (await ask('Organisation name: '));
  // Ask everything before anything is written, so a typo leaves no half set-up.
  let admin: { email: string; name: string; password: string } | null = null;
  if (!values['no-admin']) {
    const email = values['admin-email'] ?? (await ask('First administrator email: '));
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new Error('The administrator email address is not valid.');
    const name = values['admin-name'] ?? (values['admin-email'] ? email.split('@')[0]! : await ask('Their name: '));
    admin = { email, name, password: await readPassword(values['password-file'], email) };
  }
  await migrateToLatest(db);
  const { recoveryKey, team, teamKeyId } = await setupOrganisation(db, { orgName: org });
  if (admin) {
    const roles: Role[] = values['admin-only'] ? ['admin'] : ['admin', 'caseworker'];
    await db
      .transaction()
      .execute((trx) => createFirstStaff(trx, { email: admin.email, displayName: admin.name, password: admin.password, roles, team, teamKeyId }));
    out(
      `Created ${admin.email} (${roles.join(' and ')}). They set up their second factor at first sign-in: ${new URL('/staff/sign-in', loadConfig().publicUrl)}`,
    );
  }
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

async function userAdd(db: Db, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { email: { type: 'string' }, name: { type: 'string' }, roles: { type: 'string' }, 'password-file': { type: 'string' } },
    strict: true,
  });
  const email = values.email ?? (await ask('Email: '));
  const name = values.name ?? (await ask('Name: '));
  const roles = parseRoles(values.roles);
  const password = await readPassword(values['password-file'], email);
  await migrateToLatest(db);
  const { id } = await createUser(db, { email, displayName: name, roles, password }, { via: 'cli' });
  await audit(db, { action: 'staff.created', subjectUserId: id, details: { roles: roles.join(','), via: 'cli' } });
  const approval =
    ' They cannot open cases yet: a caseworker who already has access must approve them, signed in, on the case access page' +
    ` (${new URL('/staff/access', loadConfig().publicUrl)}); an administrator can ask for it on the Staff page. Or use \`harbour recover\`.`;
  out(`Created ${email} (${roles.join(', ')}).${roles.includes('caseworker') ? approval : ''}`);
  return 0;
}

async function recover(db: Db, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { email: { type: 'string' }, 'password-file': { type: 'string' }, 'recovery-key-file': { type: 'string' } },
    strict: true,
  });
  const email = values.email ?? (await ask('Caseworker email: '));
  const user = await findUserByEmail(db, email);
  if (!user) throw new Error(`No staff account for ${email}.`);
  const password = values['password-file'] ? await readPassword(values['password-file'], email) : null;
  const recoveryKey = values['recovery-key-file']
    ? readFileSync(values['recovery-key-file'], 'utf8').trim()
    : await ask('Recovery key (not shown): ', { hidden: true });
  if (password) await resetPasswordWithNewKeys(db, user.id, password);
  const granted = await grantWithRecovery(db, recoveryKey, user.id);
  out(
    `${email} can open every case again (${granted} team key${granted === 1 ? '' : 's'}).${password ? ' Their password is new; they set up a new second factor at sign-in.' : ''}`,
  );
  return 0;
}

async function seed(db: Db, config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { demo: { type: 'boolean' }, cases: { type: 'string' } }, strict: true });
  if (!values.demo) throw new Error('Usage: harbour seed --demo [--cases N]');
  const count = Number(values.cases ?? 400);
  if (!Number.isInteger(count) || count < 1 || count > MAX_DEMO_CASES)
    throw new Error(`--cases takes a whole number from 1 to ${MAX_DEMO_CASES.toLocaleString('en-GB')}.`);
  await migrateToLatest(db);
  const teamKey = await currentTeamKey(db).catch(() => {
    throw new Error('Run `harbour setup` first.');
  });
  // The retention period in force decides which of two years' cases would still exist.
  const { closedRetentionDays } = await loadSettings(db, config);
  const s = await seedDemo(db, { count, teamKey, closedRetentionDays });
  const n = (x: number) => x.toLocaleString('en-GB');
  out(`Seeded ${n(s.live)} fictional cases, as two years of work would leave them:`);
  out(`  ${n(s.live)} cases in the queue, with ${n(s.messages)} messages, ${n(s.notes)} internal notes, ${n(s.referrals)} referral records`);
  out(`  and ${n(s.historyEntries)} history entries, by ${s.caseworkers} fictional caseworkers (who cannot sign in);`);
  out(`  ${n(s.archived)} older cases already deleted by the ${closedRetentionDays}-day retention period, kept as statistics only.`);
  out(`None of them is due for deletion in the next ${s.marginDays} days.`);
  return 0;
}

/**
 * `harbour mail test --to ADDRESS`: the fixed test message, sent at once
 * (not through the outbox), and one clear sentence when it fails. It needs
 * no database on the embedded one (so it runs beside the server); with
 * PostgreSQL it reads the organisation's name.
 */
async function mailTest(config: Config, args: string[]): Promise<number> {
  const err = (s: string) => process.stderr.write(`harbour: ${s}\n`);
  if (args[0] !== 'test') {
    err('Usage: harbour mail test --to ADDRESS');
    return 64;
  }
  const { values } = parseArgs({ args: args.slice(1), options: { to: { type: 'string' } }, strict: true });
  if (!config.mail) {
    err('e-mail alerts are off: SMTP_URL is not set. Set SMTP_URL and MAIL_FROM (see .env.example), then run this again.');
    return 78; // EX_CONFIG
  }
  const to = values.to?.trim() ?? '';
  if (!isMailAddress(to)) {
    err(to ? `"${to}" is not an e-mail address. Usage: harbour mail test --to someone@example.org` : 'Usage: harbour mail test --to ADDRESS');
    return 64;
  }
  let orgName = 'Harbour';
  if (config.databaseUrl) {
    const db = await createDb(dbTargetFromConfig(config, { timeouts: true }));
    orgName = await loadSettings(db, config)
      .then((s) => s.orgName)
      .catch(() => orgName)
      .finally(() => db.destroy());
  }
  const mail = config.mail;
  const failure = await sendTestMessage(mail, to, (id) =>
    composeAlert('test', id, { email: to, pgpKey: null }, { from: mail.from, orgName, publicUrl: config.publicUrl }),
  );
  const server = `${mail.url.hostname}:${mail.url.port || (mail.url.protocol === 'smtps:' ? 465 : 587)}`;
  if (!failure) {
    out(`sent: the SMTP server at ${server} accepted the test message for ${to}.`);
    return 0;
  }
  err(`not sent (${failure.error}${failure.code ? `, ${failure.code}` : ''}): ${MAIL_ERROR_HINTS[failure.error]}.`);
  return 1;
}

/** `harbour backup --out FILE`, from the database or, on the embedded one beside a running server, through it (backup/socket.ts). */
async function backupCommand(args: string[], make: (file: string) => Promise<BackupSummary>): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' } }, strict: true });
  if (!values.out) throw new Error('Usage: harbour backup --out FILE');
  const b = await make(values.out);
  const rows = Object.values(b.rows).reduce((a, n) => a + n, 0);
  out(`Backup written to ${b.file}: ${rows.toLocaleString('en-GB')} rows, ${b.bytes.toLocaleString('en-GB')} bytes, at migration ${b.migration}.`);
  out('It is encrypted to the recovery key: only the offline recovery key can restore it.');
  // Anyone who can read the database holds the recovery public key and could make a file that restores:
  // a fingerprint noted off this server tells a backup made here from one put in its place.
  out(`SHA-256 ${await fileSha256(b.file)}: note it off this server; \`harbour restore\` prints it again.`);
  return 0;
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE);
    return command ? 0 : 64;
  }
  const config = loadConfig();
  if (command === 'mail') return mailTest(config, rest);
  await readySodium();
  let release = async () => {};
  if (!config.databaseUrl) {
    try {
      release = await lockDataDir(config.dataDir, `harbour ${command}`, () => {
        process.stderr.write('harbour: another process took the data directory; stopping.\n');
        process.exit(1);
      });
    } catch (err) {
      if (!(err instanceof DataDirLockedError)) throw err;
      if (command === 'backup' && err.owner?.role === 'server' && serverListens(config.dataDir))
        return backupCommand(rest, (file) => backupThroughServer(config.dataDir, file));
      process.stderr.write(lockedMessage(err));
      return 75; // EX_TEMPFAIL
    }
  }
  const db = await createDb(dbTargetFromConfig(config)).catch(async (err: unknown) => {
    await release();
    throw err;
  });
  try {
    switch (command) {
      case 'setup':
        return await setup(db, rest);
      case 'migrate':
        return await migrate(db, rest);
      case 'user':
        if (rest[0] !== 'add') throw new Error('Usage: harbour user add --email E --name N --roles R --password-file F');
        return await userAdd(db, rest.slice(1));
      case 'recover':
        return await recover(db, rest);
      case 'seed':
        return await seed(db, config, rest);
      case 'purge': {
        const { values } = parseArgs({ args: rest, options: { 'dry-run': { type: 'boolean' } }, strict: true });
        await migrateToLatest(db);
        const { closedRetentionDays } = await loadSettings(db, config);
        const result = await purge(db, { closedRetentionDays, dryRun: values['dry-run'] ?? false });
        if (values['dry-run']) out(`${result.due.length} closed case(s) are past ${closedRetentionDays} days and would be deleted.`);
        else if (!result.ran) out('Another instance is purging right now; nothing done.');
        else out(`Deleted ${result.deleted} closed case(s) past ${closedRetentionDays} days; their statistics are kept.`);
        return 0;
      }
      case 'audit': {
        if (rest[0] !== 'verify') throw new Error('Usage: harbour audit verify [--expect SEQ:HASH]…');
        const { values } = parseArgs({ args: rest.slice(1), options: { expect: { type: 'string', multiple: true } }, strict: true });
        return await runAuditVerify(db, out, { expect: values.expect ?? [] });
      }
      case 'backup':
        return await backupCommand(rest, (file) => writeBackup(db, file));
      case 'restore': {
        const { values } = parseArgs({ args: rest, options: { in: { type: 'string' }, 'recovery-key-file': { type: 'string' } }, strict: true });
        if (!values.in) throw new Error('Usage: harbour restore --in FILE --recovery-key-file KEYFILE');
        const recoveryKey = values['recovery-key-file']
          ? readFileSync(values['recovery-key-file'], 'utf8').trim()
          : await ask('Recovery key (not shown): ', { hidden: true });
        out(`Restoring ${values.in}, SHA-256 ${await fileSha256(values.in).catch(() => 'unreadable')}: check it against the one noted at backup.`);
        const r = await restoreBackup(db, values.in, recoveryKey);
        const rows = Object.values(r.rows).reduce((a, n) => a + n, 0);
        out(`Restored ${rows.toLocaleString('en-GB')} rows from the backup of ${r.createdAt} (migration ${r.migration}).`);
        if (r.migratedAfter.length) out(`Then applied ${r.migratedAfter.length} newer migration(s).`);
        out('Everyone signs in again. Run `harbour audit verify` and compare its head with the one recorded before.');
        return 0;
      }
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
    await release();
  }
}

/**
 * The embedded database is one process's at a time (db/lock.ts): with the
 * server running on it, a command would work on a stale copy and lose its
 * writes, or corrupt the server's.
 */
function lockedMessage(err: DataDirLockedError): string {
  const who =
    err.owner?.role === 'server'
      ? `The Harbour server (pid ${err.owner.pid}) is running`
      : `Another Harbour process${err.owner ? ` (${err.owner.role}, pid ${err.owner.pid})` : ''} is using`;
  return `harbour: ${who} on the embedded database in ${err.dataDir}.
Only one process can use it at a time. Stop the server first (Ctrl-C in its
terminal, or \`systemctl stop harbour\`), run this command again, then start
the server with \`npm start\`. (With PostgreSQL, DATABASE_URL, commands can run
beside the server.)
`;
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
