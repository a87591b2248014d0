/**
 * The browser tier's helpers (docs/architecture.md), one job per file under
 * browser/; e2e tests import them from here.
 */
export * from './browser/launch.js'; // Debian's Chromium
export * from './browser/rig.js'; // a file's browser, served app and canary image, closed after it
export * from './browser/fixtures.js'; // what tests type and upload
export * from './browser/navigation.js'; // clicking and waiting for the next page
export * from './browser/reporter.js'; // the reporter's pages driven as a reporter
export * from './browser/staff.js'; // staff pages, a caseworker's reply
export * from './browser/languages.js'; // locale files and untranslated or reversed text
export * from './browser/axe.js'; // axe-core
export * from './browser/layout.js'; // overflow and resized text
export * from './browser/direction.js'; // right-to-left layout
export * from './browser/keyboard.js'; // focus and reading order
