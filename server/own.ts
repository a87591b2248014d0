/**
 * A map's own value for a key that came from input. A plain object literal
 * inherits from Object.prototype, so `map['constructor']`, `map['toString']`
 * or `map['__proto__']` answer with a function or an object instead of
 * undefined; every lookup keyed by a query string, a path segment or a form
 * field goes through here (or uses a Map, or an object without a prototype).
 */
export function own<V>(map: Readonly<Record<string, V>>, key: unknown): V | undefined {
  return typeof key === 'string' && Object.hasOwn(map, key) ? map[key] : undefined;
}

/** An empty object that inherits nothing, for maps filled from input (form fields). */
export function emptyMap<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}
