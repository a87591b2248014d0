import { staffTranslator } from '../i18n/index.js';

/**
 * How staff pages describe a colleague's account: where it came from and
 * who asked for its access. The approving caseworker reads these before
 * confirming, so each says plainly who did what, and when (UTC).
 */

export const utc = (d: Date | string) => new Date(d).toISOString().slice(0, 16).replace('T', ' ');

type Named = { name: string | null; status: string | null; id?: string | null };

/** A colleague's name: marked when deactivated, and "you" for the reader. */
export function colleague(p: Named, viewerId: string): string | null {
  const st = staffTranslator();
  if (p.name === null) return null;
  const name = p.status === 'deactivated' ? st('common.deactivated_user', { name: p.name }) : p.name;
  return p.id === viewerId ? st('access.you', { name }) : name;
}

export type OriginRow = {
  created_via: 'setup' | 'cli' | 'invitation' | 'seed' | 'unknown';
  invited_by?: string | null;
  invited_at: Date | null;
  inviter_name: string | null;
  inviter_status: string | null;
};

export function originText(u: OriginRow, viewerId: string): string {
  const st = staffTranslator();
  switch (u.created_via) {
    case 'invitation': {
      const name = colleague({ name: u.inviter_name, status: u.inviter_status, id: u.invited_by ?? null }, viewerId);
      const time = u.invited_at ? utc(u.invited_at) : null;
      if (name && time) return st('access.origin.invitation', { name, time });
      return st('access.origin.invitation_unrecorded');
    }
    case 'cli':
      return st('access.origin.cli');
    case 'setup':
      return st('access.origin.setup');
    case 'seed':
      return st('access.origin.seed');
    default:
      return st('access.origin.unknown');
  }
}

export type RequestRow = {
  access_requested_by?: string | null;
  access_requested_at: Date | null;
  requester_name: string | null;
  requester_status: string | null;
};

/** Who asked for the person's access and when; null if nobody has. */
export function accessRequest(u: RequestRow, viewerId: string): { name: string | null; time: string } | null {
  if (!u.access_requested_at) return null;
  return {
    name: colleague({ name: u.requester_name, status: u.requester_status, id: u.access_requested_by ?? null }, viewerId),
    time: utc(u.access_requested_at),
  };
}

export function requestText(u: RequestRow, viewerId: string): string | null {
  const st = staffTranslator();
  const r = accessRequest(u, viewerId);
  if (!r) return null;
  return r.name ? st('access.requested', { name: r.name, time: r.time }) : st('access.requested_unrecorded', { time: r.time });
}
