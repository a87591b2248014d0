import type { Express } from 'express';

/** One route of the app as its router holds it: the method, the whole path pattern, and what runs on its line, by name. */
export type WalkedRoute = { method: string; path: string; guards: string[] };

type Layer = {
  rawPath?: string | string[];
  name: string;
  handle: { stack?: Layer[]; name: string };
  route?: { path: string | string[]; stack: { method?: string; name: string }[] };
};

/**
 * Every route registered on the app, read from Express's own router (not a
 * list kept by hand), so a route added tomorrow is walked tomorrow. Mounted
 * routers are followed with their mount path; a route on several paths is
 * one entry per path. `guards` are the names of the functions on the route's
 * line, in order (route-line guards are named functions for this reason).
 */
export function walkRoutes(app: Express): WalkedRoute[] {
  const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
  const out: WalkedRoute[] = [];
  const visit = (layers: Layer[], prefix: string) => {
    for (const layer of layers) {
      if (layer.route) {
        const paths = ([] as string[]).concat(layer.route.path);
        const methods = [...new Set(layer.route.stack.map((s) => s.method).filter((m): m is string => Boolean(m)))];
        const guards = layer.route.stack.map((s) => s.name);
        for (const p of paths) for (const m of methods) out.push({ method: m.toUpperCase(), path: join(prefix, p), guards });
      } else if (layer.handle.stack) {
        for (const p of ([] as string[]).concat(layer.rawPath ?? '/')) visit(layer.handle.stack, join(prefix, p));
      }
    }
  };
  visit(stack, '');
  return out;
}

const join = (a: string, b: string) => (a + (b === '/' ? '' : b)).replace(/\/+/g, '/') || '/';

/** A concrete path for a route pattern: each `:param` filled from `values`, else with a well-formed id that names nothing. */
export function fillPath(pattern: string, values: Record<string, string> = {}): string {
  return pattern.replace(/:(\w+)/g, (_m, name: string) => values[name] ?? '00000000-0000-4000-8000-000000000000');
}

export const changesState = (r: WalkedRoute) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method);
