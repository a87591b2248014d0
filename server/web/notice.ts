/**
 * The notice a page shows after a redirect (`?notice=saved`): the text of
 * one of the codes the page lists, or null. The code is compared with the
 * list, never used as a key into an object, so an unknown, repeated or
 * inherited name (`__proto__`, `constructor`) shows nothing.
 */
export function noticeFrom<C extends string>(
  query: Readonly<Record<string, unknown>>,
  codes: readonly C[],
  text: (code: C) => string,
): string | null {
  const code = query['notice'];
  return typeof code === 'string' && (codes as readonly string[]).includes(code) ? text(code as C) : null;
}
