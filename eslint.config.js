// ESLint (flat config): the JavaScript and typescript-eslint recommended rules
// (syntax only, no type information: fast enough for every commit), Node
// globals, ES modules, and two boundaries from docs/architecture.md (SQL lives
// in queries files and db/, crypto in one module), so a file that crosses one
// fails the lint instead of waiting for a reviewer to notice.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const CRYPTO_LIBRARIES = {
  group: [
    'libsodium',
    'libsodium/*',
    'libsodium-wrappers',
    'libsodium-wrappers/*',
    'libsodium-wrappers-sumo',
    'argon2',
    'argon2/*',
    'openpgp',
    'openpgp/*',
  ],
  message:
    'crypto lives in server/crypto (docs/architecture.md; the P-properties of docs/security.md are proved there): import what you need from server/crypto/index.js.',
};
const KYSELY_SQL = {
  name: 'kysely',
  importNames: ['sql'],
  message:
    'SQL lives in queries files (queries.ts, *-queries.ts) and server/db/: routes and services call a query function, never build SQL (docs/architecture.md).',
};
// The same two boundaries for dynamic import() and require(), which no-restricted-imports does not see.
const CRYPTO_RE = '/^(libsodium(-wrappers(-sumo)?)?|argon2|openpgp)(\\u002F.*)?$/';
const CRYPTO_DYNAMIC = [
  { selector: `ImportExpression[source.value=${CRYPTO_RE}]`, message: CRYPTO_LIBRARIES.message },
  { selector: `CallExpression[callee.name='require'][arguments.0.value=${CRYPTO_RE}]`, message: CRYPTO_LIBRARIES.message },
];

// Kysely's query builder, as well as its `sql` tag: a handler or a service
// calls a named query function instead (its file says which SQL runs).
const QUERY_BUILDER = {
  selector: 'CallExpression[callee.property.name=/^(selectFrom|selectNoFrom|insertInto|replaceInto|updateTable|deleteFrom|mergeInto)$/]',
  message: KYSELY_SQL.message,
};

/** The import rules for a group of files; a later block replaces an earlier one's options, so each block states both. */
function boundaries({ crypto, sql }) {
  const paths = sql ? [KYSELY_SQL] : [];
  const patterns = crypto ? [CRYPTO_LIBRARIES] : [];
  return {
    '@typescript-eslint/no-restricted-imports': paths.length || patterns.length ? ['error', { paths, patterns }] : 'off',
    'no-restricted-syntax': crypto || sql ? ['error', ...(crypto ? CRYPTO_DYNAMIC : []), ...(sql ? [QUERY_BUILDER] : [])] : 'off',
  };
}

// Where Kysely's `sql` tag may be imported: the queries files of each feature,
// the database layer, migrations (frozen SQL), and tests and benchmarks
// (which check and time the schema directly).
const SQL_ALLOWED = ['**/queries.ts', '**/*-queries.ts', 'server/db/**', 'migrations/**', 'tests/**', 'bench/**'];

export default defineConfig(
  {
    // Only server, tests, bench, scripts, migrations, bin and the root config
    // files are linted; public/js is browser code outside this config.
    ignores: ['dist/', 'data/', 'coverage/', 'screenshots/', 'bench/results/', 'node_modules/', 'public/', 'views/', 'locales/', 'docs/'],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.{js,mjs,ts}'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      // A leading underscore marks a binding kept on purpose: an Express
      // error handler's `_next` (Express needs the four parameters), a field
      // left out of a rest copy (`{ wrapKey: _unused, ...material }`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
  {
    // Migrations are frozen in time and never import the app's schema types
    // (docs/architecture.md): Kysely<any> is how Kysely's own docs type them.
    files: ['migrations/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  // Nothing outside server/crypto imports libsodium or argon2. No test
  // imports them today (the crypto tests go through server/crypto/index.js);
  // a test that must prove a property against the library itself gets its own
  // exception here.
  // Kysely's `sql` and query builder only where SQL is allowed to live.
  { files: ['**/*.{js,mjs,ts}'], rules: boundaries({ crypto: true, sql: true }) },
  { files: SQL_ALLOWED, rules: boundaries({ crypto: true, sql: false }) },
  { files: ['server/crypto/**'], rules: boundaries({ crypto: false, sql: true }) },
  { files: ['server/crypto/**/queries.ts', 'server/crypto/**/*-queries.ts'], rules: boundaries({ crypto: false, sql: false }) },
  // The alert tests decrypt what the server sent with the staff member's own
  // private key, as their mail client would: against openpgp itself, not
  // through server/crypto (which only encrypts).
  { files: ['tests/helpers/pgp.ts'], rules: boundaries({ crypto: false, sql: false }) },
);
