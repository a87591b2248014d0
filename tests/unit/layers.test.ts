import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The house's floors (docs/architecture.md): every import of a server file
 * points down or stays on its own floor. A folder, or a file at the top of
 * server/, is one room; each room has a floor, and a room that is not listed
 * here fails the test until someone decides where it stands. Read off the
 * source's own import lines, as a newcomer would.
 */
const FLOORS: Record<string, number> = {
  // entry points
  'index.ts': 14,
  'cli.ts': 14,
  'app.ts': 13,
  // the route tables: every guard on its line
  routes: 12,
  // backups read and write every table
  backup: 11,
  // the demo and bench generator uses the features it fills
  demo: 11,
  // features
  admin: 9,
  cases: 9,
  'housekeeping.ts': 8,
  retention: 7,
  team: 6,
  stats: 6,
  reporting: 5,
  // identity: staff sessions, guards and the keys a person holds
  staff: 5,
  // the audit log, which every writer above uses
  // e-mail alerts: written in the event's transaction (reporting, cases), sent by a worker
  alerts: 4.5,
  audit: 4,
  // HTTP plumbing: csrf, sessions, multipart, errors, rate limits
  web: 3,
  setup: 2,
  settings: 1,
  i18n: 0,
  // the ground
  db: 0,
  crypto: 0,
  types: 0,
  'config.ts': -1,
  'errors.ts': -1,
  'logger.ts': -1,
  'paths.ts': -1,
  'own.ts': -1,
  'ids.ts': -1,
};

const root = path.resolve(import.meta.dirname, '../../server');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return /\.(ts|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

const roomOf = (file: string) => path.relative(root, file).split(path.sep)[0]!;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"\n;]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => path.resolve(path.dirname(file), s).replace(/\.js$/, '.ts'));
}

const files = sourceFiles(root);

describe('layers', () => {
  it('every room of server/ has a floor', () => {
    const rooms = new Set(files.map(roomOf));
    expect([...rooms].filter((r) => !(r in FLOORS))).toEqual([]);
  });

  it('every import points down to a lower floor or stays in its own room', () => {
    const climbing: string[] = [];
    for (const file of files) {
      const from = roomOf(file);
      for (const target of importsOf(file)) {
        if (!target.startsWith(root + path.sep)) continue;
        const to = roomOf(target);
        if (to !== from && (FLOORS[to] ?? Infinity) >= (FLOORS[from] ?? -Infinity)) {
          climbing.push(`${path.relative(root, file)} -> ${path.relative(root, target)}`);
        }
      }
    }
    expect(climbing).toEqual([]);
  });

  it('reads the imports it judges (a sample edge is found)', () => {
    const app = files.find((f) => roomOf(f) === 'app.ts')!;
    expect(importsOf(app).map((t) => roomOf(t))).toContain('routes');
  });
});
