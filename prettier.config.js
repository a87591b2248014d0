// Prettier: the settings closest to the code as it was written by hand. Of
// printWidth 120/130/140/150, trailingComma all/es5/none and arrowParens
// always/avoid, this set changed the fewest lines over server, tests, bench,
// scripts and migrations when Prettier was introduced.
/** @type {import('prettier').Config} */
export default {
  printWidth: 150,
  singleQuote: true,
  semi: true,
  trailingComma: 'all',
  arrowParens: 'always',
  tabWidth: 2,
  useTabs: false,
  endOfLine: 'lf',
};
