// Users and groups of the root keel runs in, from /etc/passwd and
// /etc/group, for process entries' uid, gid and additionalGids (a name or a
// number). A user named by uid takes its primary group and the groups that
// list it, as login does, unless gid or additionalGids say otherwise.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface User {
  uid: number;
  gid: number;
  groups: number[];
  home: string;
  name?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function lines(file: string): string[][] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return []; // an image without /etc/passwd: numbers only
  }
}

export function readPasswd(root = '/'): PasswdEntry[] {
  return lines(join(root, 'etc/passwd')).map((f) => ({ name: f[0] ?? '', uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' }));
}

export function readGroups(root = '/'): GroupEntry[] {
  return lines(join(root, 'etc/group')).map((f) => ({ name: f[0] ?? '', gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

export class UserError extends Error {
  override name = 'UserError';
}

/** The user, group and supplementary groups of a process entry; `where` names the entry in errors. */
export function resolveUser(spec: { uid?: number | string; gid?: number | string; additionalGids?: Array<number | string> }, where: string, root = '/'): User {
  const passwd = readPasswd(root);
  const groups = readGroups(root);
  const named = (v: number | string, what: string) => {
    const e = typeof v === 'number' ? passwd.find((p) => p.uid === v) : passwd.find((p) => p.name === v);
    if (!e && typeof v === 'string') throw new UserError(`${where}: ${what} "${v}" is not a user in ${join(root, 'etc/passwd')}`);
    return e;
  };
  const groupId = (v: number | string, what: string): number => {
    if (typeof v === 'number') return v;
    const g = groups.find((x) => x.name === v);
    if (!g) throw new UserError(`${where}: ${what} "${v}" is not a group in ${join(root, 'etc/group')}`);
    return g.gid;
  };
  const uidSpec = spec.uid === 'root' ? 0 : (spec.uid ?? 0);
  const entry = named(uidSpec, 'uid');
  const uid = typeof uidSpec === 'number' ? uidSpec : entry!.uid;
  const gid = spec.gid !== undefined ? groupId(spec.gid === 'root' ? 0 : spec.gid, 'gid') : (entry?.gid ?? 0);
  const listed = entry ? groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid) : [];
  const extra = spec.additionalGids?.map((g) => groupId(g === 'root' ? 0 : g, 'additionalGids'));
  return { uid, gid, groups: [...new Set(extra ?? [gid, ...listed])], home: entry?.home ?? '/', ...(entry ? { name: entry.name } : {}) };
}
