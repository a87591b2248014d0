import { randomUUID } from 'node:crypto';
import { randomBytes, readySodium } from '../crypto/index.js';
import type { Db } from '../db/index.js';
import type { NewReport } from '../db/schema.js';
import { DEFAULT_LISTS } from '../settings/lists.js';
import { addListItem } from '../settings/list-editing.js';
import type { ReportDetails } from '../reporting/service.js';
import { CATEGORIES, CHANNELS, CONSENT, ONGOING, PERPETRATORS, TARGETED } from '../reporting/taxonomy.js';
import type { ReportInput } from '../reporting/validation.js';
import type { TeamPublicKey } from '../setup/service.js';
import * as q from './queries.js';
import { encryptAndInsert, encryptionThreads, type PlainFields, type SealedFields, type SeedBatch } from './seed-encryption.js';
import { OUTCOMES } from '../cases/vocabulary.js';

/**
 * Fictional cases for development, demos, tests and the queue benchmark.
 * Every row is a real encrypted report, as service.ts writes one: its own
 * data key sealed to the team public key (P2), narrative and details
 * encrypted under it and bound to (reports, id, field) (P8), on worker
 * threads for large counts (seed-encryption.ts). Seeded rows have no
 * receipt, so receipt_lookup and data_key_wrapped stay null.
 */

export type SeedOptions = {
  count: number;
  teamKey: TeamPublicKey;
  /** Earliest created_at (default: two years before `now`). */
  startDate?: Date;
  /** Latest created_at and the "present" the statuses are spread around (default: the clock). */
  now?: Date;
  /** A source of uniform [0, 1) numbers; pass mulberry32(seed) for repeatable data. */
  random?: () => number;
  /** Users cases may be assigned to (default: every active caseworker in the users table). */
  assigneeIds?: string[];
  batchSize?: number;
  /** Encryption threads (compiled build only; default: CPUs, at most 4; 0 = this thread). */
  workers?: number;
};

type Contact = NonNullable<ReportInput['contact']>;

/** A small, fast, seedable PRNG (public domain), for repeatable seeds. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- vocabulary

const DAY = 86_400_000;
const HOUR = 3_600_000;

const CATEGORY_WEIGHTS: Record<string, number> = {
  threats: 12,
  surveillance: 18,
  digital: 16,
  family: 20,
  return: 8,
  recruitment: 8,
  station: 6,
  legal: 6,
  other: 6,
};
const COMMUNITY_WEIGHTS: Record<string, number> = {
  uyghur: 22,
  tibetan: 10,
  hong_konger: 25,
  chinese_dissident: 18,
  southern_mongolian: 4,
  taiwanese: 6,
  falun_gong: 7,
  other: 4,
  prefer_not_say: 4,
};
const REGION_WEIGHTS: Record<string, number> = {
  london: 35,
  south_east: 9,
  north_west: 8,
  scotland: 8,
  west_midlands: 7,
  east_of_england: 5,
  yorkshire_humber: 5,
  east_midlands: 4,
  south_west: 3,
  wales: 3,
  north_east: 2,
  northern_ireland: 3,
  outside_uk: 3,
  prefer_not_say: 5,
};
const LABELS = [
  'croydon-station',
  'hendon',
  'glasgow-station',
  'belfast-station',
  'wechat',
  'interpol-notice',
  'protest-follow-up',
  'needs-interpreter',
  'family-detained',
  'fake-recruiter',
];

const SENTENCES: Record<string, string[]> = {
  threats: [
    'A man I did not know stopped me outside my building and said I should be careful what I say in public.',
    'I received a message saying that people like me have accidents.',
  ],
  surveillance: [
    'After the vigil two men photographed everyone who spoke and followed a group of us to the station.',
    'A car waited on my street on three evenings in a row and left when I came out.',
  ],
  digital: [
    'Someone made a fake profile with my name and photos and wrote to people in our association.',
    'My email received a message with an attachment that looked like a conference invitation but was not.',
  ],
  family: [
    'My mother was visited at home and asked where I live now and who I meet at weekends.',
    'My brother was questioned for a day and told to ask me to stop posting online.',
  ],
  return: [
    'A caller said my problems at home could be solved if I came back for a short visit.',
    'I was invited to meet an old classmate in a third country, all travel paid, which I refused.',
  ],
  recruitment: [
    'A man offered me money each month to tell him who comes to our community meetings.',
    'Someone asked me to share photos from the protest group chat in return for help with my family.',
  ],
  station: [
    'I was told to go to an office above a shop to renew my documents, and the people there asked about my friends.',
    'A hometown association invited me to a dinner where an official asked me to sign a letter.',
  ],
  legal: [
    'I was told there is a notice out for me and that I should go back to settle it.',
    'The consulate refused to renew my passport unless I first went home in person.',
  ],
  other: ['Something happened that I am not sure how to describe, and I want someone to know about it.'],
};
const CLOSERS = [
  'I have kept screenshots of the messages.',
  'I am worried about my family and do not know what to do next.',
  'I do not want the police to contact me at home.',
  'This has happened before, about a year ago.',
  'A friend had the same thing happen to her.',
];
const STATE_REASONS = [
  'They knew details that only the authorities at home would have.',
  'The caller mentioned my file number from back home.',
  'The association is known to work with the consulate.',
  'I am not sure, but my family was questioned at the same time.',
  '',
];

// ---------------------------------------------------------------- generation

export type Rand = () => number;
export const pick = <T>(r: Rand, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
export function weighted(r: Rand, codes: readonly string[], weights: Record<string, number>): string {
  const total = codes.reduce((s, c) => s + (weights[c] ?? 1), 0);
  let x = r() * total;
  for (const c of codes) {
    x -= weights[c] ?? 1;
    if (x < 0) return c;
  }
  return codes[codes.length - 1]!;
}
function some<T>(r: Rand, items: readonly T[], n: number): T[] {
  const out = new Set<T>();
  while (out.size < Math.min(n, items.length)) out.add(pick(r, items));
  return [...out];
}
const monthStart = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-01`;
};

/** Status by age: recent cases are mostly new, old ones mostly closed. */
function statusFor(r: Rand, ageDays: number): string {
  const table: [string, number][] =
    ageDays < 2
      ? [
          ['new', 75],
          ['triaged', 20],
          ['in_progress', 5],
        ]
      : ageDays < 14
        ? [
            ['new', 25],
            ['triaged', 30],
            ['in_progress', 35],
            ['referred', 5],
            ['closed', 5],
          ]
        : ageDays < 90
          ? [
              ['new', 5],
              ['triaged', 10],
              ['in_progress', 40],
              ['referred', 15],
              ['closed', 30],
            ]
          : ageDays < 365
            ? [
                ['new', 1],
                ['triaged', 3],
                ['in_progress', 12],
                ['referred', 14],
                ['closed', 70],
              ]
            : [
                ['new', 0.2],
                ['triaged', 0.8],
                ['in_progress', 4],
                ['referred', 5],
                ['closed', 90],
              ];
  return weighted(
    r,
    table.map(([s]) => s),
    Object.fromEntries(table),
  );
}

export type Generated = { row: Omit<NewReport, 'data_key_sealed' | 'narrative' | 'details' | 'contact'>; plain: PlainFields };

export function generate(r: Rand, n: number, teamKeyId: number, start: number, now: number, assignees: string[]): Generated {
  const id = randomUUID();
  const created = start + r() * (now - start);
  const at = (ms: number) => new Date(Math.min(now, ms));
  const ageDays = (now - created) / DAY;

  const categories: string[] = [];
  const howMany = r() < 0.55 ? 1 : r() < 0.67 ? 2 : 3;
  while (categories.length < howMany) {
    const c = weighted(r, CATEGORIES, CATEGORY_WEIGHTS);
    if (!categories.includes(c)) categories.push(c);
  }
  const community = weighted(r, DEFAULT_LISTS.community, COMMUNITY_WEIGHTS);
  const region = weighted(r, DEFAULT_LISTS.region, REGION_WEIGHTS);
  const suspectedState =
    community === 'hong_konger'
      ? weighted(r, DEFAULT_LISTS.state, { hong_kong_sar: 50, china: 40, not_sure: 10 })
      : weighted(r, DEFAULT_LISTS.state, { china: 85, not_sure: 12, other: 2, russia: 0.5, iran: 0.5, hong_kong_sar: 0 });
  const status = statusFor(r, ageDays);
  const urgent = r() < 0.05;

  // Labels: about one case in five, a few with two.
  const labels: string[] = [];
  if (categories.includes('station') && region === 'london' && r() < 0.5) labels.push(r() < 0.6 ? 'croydon-station' : 'hendon');
  if (r() < 0.18) labels.push(pick(r, LABELS));
  if (r() < 0.04) labels.push(pick(r, LABELS));

  // Workflow timestamps, each no later than now and in a plausible order.
  const triagedAt = status === 'new' ? null : at(created + HOUR + r() * 60 * HOUR);
  let firstResponse = status !== 'new' && r() < 0.85 ? at(created + 2 * HOUR + r() * 10 * DAY) : null;
  let lastStaff = firstResponse ? at(firstResponse.getTime() + r() * Math.max(0, now - firstResponse.getTime()) * 0.3) : null;
  const reporterUpdated = r() < 0.25 ? at(created + r() * Math.min(now - created, 60 * DAY)) : null;
  if (reporterUpdated && triagedAt && r() < 0.85) {
    // Most reporter messages get an answer, after them.
    lastStaff = at(Math.max(lastStaff?.getTime() ?? 0, reporterUpdated.getTime() + HOUR + r() * 6 * DAY));
    firstResponse ??= lastStaff;
  }
  const closedAt = status === 'closed' ? at(Math.max(lastStaff?.getTime() ?? 0, created + 7 * DAY + r() * 120 * DAY)) : null;
  // A caseworker saw the case after the reporter's last word, except for a few (unread).
  const seenBase = Math.max(triagedAt?.getTime() ?? 0, lastStaff?.getTime() ?? 0);
  const staffSeen = triagedAt ? at(reporterUpdated && r() < 0.9 ? Math.max(seenBase, reporterUpdated.getTime() + r() * 2 * DAY) : seenBase) : null;
  const assigneeId = assignees.length === 0 || r() < (status === 'new' ? 0.8 : 0.15) ? null : pick(r, assignees);

  const incidentFrom = r() < 0.7 ? monthStart(created - r() * 180 * DAY) : null;
  const incidentTo = incidentFrom && r() < 0.3 ? monthStart(Math.max(Date.parse(incidentFrom), created - r() * 30 * DAY)) : null;

  const followUp = r() < 0.3 ? 'contact' : 'portal';
  const contact: Contact | null =
    followUp === 'contact'
      ? (() => {
          const method = pick(r, ['email', 'phone', 'signal'] as const);
          // example.org and Ofcom's drama range 07700 900xxx: fictional by design.
          const value =
            method === 'email'
              ? `reporter${n}@example.org`
              : method === 'phone'
                ? `+44 7700 900${String(n % 1000).padStart(3, '0')}`
                : `quietharbour.${String(n % 100).padStart(2, '0')}`;
          return { method, value, language: pick(r, ['en', 'zh-hans', 'zh-hant', 'ug', 'bo']) };
        })()
      : null;
  const narrative = [...categories.map((c) => pick(r, SENTENCES[c] ?? SENTENCES['other']!)), ...(r() < 0.6 ? [pick(r, CLOSERS)] : [])].join(' ');
  const details: ReportDetails = {
    ongoing: pick(r, ONGOING),
    targeted: weighted(r, TARGETED, { me: 60, family: 25, organisation: 10, someone_else: 5 }),
    stateReason: pick(r, STATE_REASONS),
    perpetrator: pick(r, PERPETRATORS),
    channels: some(r, CHANNELS, 1 + Math.floor(r() * 3)),
    links: r() < 0.2 ? [`https://example.org/post/${1000 + (n % 9000)}`] : [],
    consent: weighted(r, CONSENT, { yes: 35, no: 25, talk_first: 40 }),
    followUp,
  };

  return {
    row: {
      id,
      state: 'submitted',
      status,
      categories,
      urgent,
      community,
      region,
      suspected_state: suspectedState,
      incident_from: incidentFrom,
      incident_to: incidentTo,
      team_key_id: teamKeyId,
      receipt_lookup: null,
      data_key_wrapped: null,
      created_at: new Date(created),
      submitted_at: new Date(created),
      reporter_updated_at: reporterUpdated,
      assignee_id: assigneeId,
      labels,
      closing_outcome: closedAt ? pick(r, OUTCOMES) : null,
      triaged_at: triagedAt,
      closed_at: closedAt,
      first_response_at: firstResponse,
      last_staff_message_at: lastStaff,
      staff_seen_at: staffSeen,
    },
    plain: { id, narrative, details, contact },
  };
}

// ---------------------------------------------------------------- seeding

/**
 * Inserts `count` fictional submitted cases, 1,000 per INSERT, and analyses
 * the table so the planner sees the new distribution at once. Returns the
 * number of rows inserted. Only the reports: no messages, notes, history or
 * referral records, and old cases closed long past any retention period (the
 * benchmarks' shape; `harbour seed --demo` uses seedDemo instead).
 */
export async function seedCases(db: Db, opts: SeedOptions): Promise<number> {
  await readySodium();
  const r = opts.random ?? Math.random;
  const now = (opts.now ?? new Date()).getTime();
  const start = (opts.startDate ?? new Date(now - 730 * DAY)).getTime();
  if (!(start < now)) throw new Error('seedCases: startDate must be before now');
  const batchSize = seedBatchSize(opts.batchSize);
  const assignees = opts.assigneeIds ?? (await activeCaseworkerIds(db));

  function* batches(): Generator<SeedBatch<Generated[]>> {
    for (let from = 0; from < opts.count; from += batchSize) {
      const batch = Array.from({ length: Math.min(batchSize, opts.count - from) }, (_, i) =>
        generate(r, from + i, opts.teamKey.id, start, now, assignees),
      );
      yield { plains: batch.map((g) => g.plain), rest: batch };
    }
  }
  const labelCodes = await db.transaction().execute(seedLabelCodes);
  await encryptAndInsert(batches(), opts.teamKey.publicKey, encryptionThreads(opts.count, opts.workers), (b, enc) =>
    insertReports(db, b.rest, enc, labelCodes),
  );
  await q.analyzeReports(db);
  return opts.count;
}

/** 28 parameters a row: at most 2,000 rows keeps an INSERT under PostgreSQL's 65,535. */
export const seedBatchSize = (n: number | undefined) => Math.max(1, Math.min(n ?? 1000, 2000));

export const activeCaseworkerIds = q.activeCaseworkerIds;

/**
 * The seed's label texts as items of the administrator's label list (the
 * list is how labels are stored: reports hold its codes), made the first
 * time, found by their English text after that.
 */
export async function seedLabelCodes(db: Db): Promise<Map<string, string>> {
  const rows = await q.labelItemsByEnglish(db);
  const codes = new Map(rows.map((r) => [r.en, r.code]));
  for (const text of LABELS) if (!codes.has(text)) codes.set(text, await addListItem(db, 'label', { en: text }));
  return codes;
}

export async function insertReports(db: Db, batch: Generated[], enc: SealedFields[], labelCodes: Map<string, string>): Promise<void> {
  await q.insertReportRows(
    db,
    batch.map((g, i) => ({
      ...g.row,
      // Texts drawn by generate() become the list's codes (a case never carries one twice).
      labels: [...new Set((g.row.labels ?? []).map((text) => labelCodes.get(text) ?? text))],
      data_key_sealed: enc[i]!.dataKeySealed,
      narrative: enc[i]!.narrative,
      details: enc[i]!.details,
      contact: enc[i]!.contact,
    })),
  );
}

const STAFF_NAMES = [
  'Aylin Demir',
  'Tom Hughes',
  'Mei Lin Cheng',
  'Priya Shah',
  'Dawa Tsering',
  'Rachel Okafor',
  'Ben Carter',
  'Nadia Karim',
  'Sam Wilson',
  'Lena Fischer',
  'Omar Haddad',
  'Grace Liu',
];

/**
 * Fictional caseworkers to assign seeded cases to. Their password verifier
 * and keys are random bytes, so nobody can ever sign in as them, and they
 * hold no key grant. `createdAt` backdates their accounts (a demo's two
 * years of work). Returns their ids.
 */
export async function seedCaseworkers(db: Db, count: number, random: Rand = Math.random, createdAt?: Date): Promise<string[]> {
  const rows = Array.from({ length: count }, (_, i) => {
    const name = STAFF_NAMES[i % STAFF_NAMES.length]! + (i >= STAFF_NAMES.length ? ` ${Math.floor(i / STAFF_NAMES.length) + 1}` : '');
    return {
      id: randomUUID(),
      email: `${name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}.${Math.floor(random() * 1e9).toString(36)}@seed.invalid`,
      display_name: name,
      roles: ['caseworker' as const],
      status: 'active' as const,
      password_salt: randomBytes(16),
      password_verifier: randomBytes(32),
      public_key: randomBytes(32),
      private_key_wrapped: randomBytes(72),
      totp_secret_wrapped: null,
      totp_last_step: null,
      deactivated_at: null,
      created_via: 'seed' as const,
      ...(createdAt ? { created_at: createdAt, password_changed_at: createdAt } : {}),
    };
  });
  await q.insertUserRows(db, rows);
  return rows.map((u) => u.id);
}
