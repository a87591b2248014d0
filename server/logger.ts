import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * The logger never receives request bodies, query strings, headers, IPs or
 * user agents; errors are reduced to their type, code and stack frames
 * (messages can quote input, e.g. a JSON parse error or a SQL constraint).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      serializers: { err: safeError },
      redact: { paths: ['req', 'headers', 'ip', 'body'], remove: true },
    },
    destination,
  );
}

export function safeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const frames = (err.stack ?? '').split('\n').filter((l) => l.trimStart().startsWith('at '));
  return {
    type: err.name,
    code: (err as { code?: unknown }).code,
    stack: frames.slice(0, 12).map((l) => l.trim()),
  };
}
