import { statfs } from 'node:fs/promises';
import { insufficientStorage } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * Free space under the embedded database. PostgreSQL on a full disk fails
 * the write; PGlite then stalls inside WebAssembly (reproduced with PGlite
 * alone). So new writes are refused, with a clear "try again later" page,
 * while there is still room for what the next one needs: a write-ahead-log
 * segment (16 MiB), and the largest upload written twice (once to the WAL,
 * once to the table), plus a margin. `/readyz` reports it, and the log says
 * when it starts and stops.
 *
 * The reading is refreshed in the background every `everyMs` (statfs is
 * cheap, but not free on every chunk of an upload).
 */
export class DiskGuard {
  private freeBytes = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private wasLow = false;

  constructor(
    private readonly dir: string,
    readonly reserveBytes: number,
    private readonly logger: Logger | null = null,
    private readonly everyMs = 2000,
  ) {}

  /** Reads the free space now, then every `everyMs` until stop(). */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async refresh(): Promise<void> {
    try {
      const s = await statfs(this.dir);
      this.freeBytes = s.bavail * s.bsize;
    } catch (err) {
      this.logger?.warn({ err }, 'could not read the free disk space');
      return;
    }
    const low = this.low;
    if (low !== this.wasLow) {
      this.wasLow = low;
      const mb = (n: number) => Math.round(n / 1024 / 1024);
      if (low)
        this.logger?.error(
          { freeMb: mb(this.freeBytes), reserveMb: mb(this.reserveBytes) },
          'disk nearly full: refusing new reports and files until space is freed',
        );
      else this.logger?.info({ freeMb: mb(this.freeBytes) }, 'disk space recovered: accepting reports again');
    }
  }

  get low(): boolean {
    return this.freeBytes < this.reserveBytes;
  }

  get free(): number {
    return this.freeBytes;
  }

  /** Throws the 507 "cannot take files or reports right now" error when space is short. */
  ensureSpace(): void {
    if (this.low) throw insufficientStorage();
  }
}
