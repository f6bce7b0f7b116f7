// mount(2) flags, and `mount -o` style option lists turned into flags + data.

export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_SYNCHRONOUS = 16;
export const MS_REMOUNT = 32;
export const MS_DIRSYNC = 128;
export const MS_NOATIME = 1024;
export const MS_NODIRATIME = 2048;
export const MS_BIND = 4096;
export const MS_MOVE = 8192;
export const MS_REC = 16384;
export const MS_UNBINDABLE = 1 << 17;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MS_SHARED = 1 << 20;
export const MS_RELATIME = 1 << 21;
export const MS_STRICTATIME = 1 << 24;
export const MNT_DETACH = 2;

const FLAGS: Record<string, [set: number, clear: number]> = {
  ro: [MS_RDONLY, 0], rw: [0, MS_RDONLY], nosuid: [MS_NOSUID, 0], suid: [0, MS_NOSUID], nodev: [MS_NODEV, 0], dev: [0, MS_NODEV],
  noexec: [MS_NOEXEC, 0], exec: [0, MS_NOEXEC], sync: [MS_SYNCHRONOUS, 0], async: [0, MS_SYNCHRONOUS], dirsync: [MS_DIRSYNC, 0],
  remount: [MS_REMOUNT, 0], noatime: [MS_NOATIME, 0], atime: [0, MS_NOATIME], nodiratime: [MS_NODIRATIME, 0], relatime: [MS_RELATIME, 0],
  strictatime: [MS_STRICTATIME, 0], bind: [MS_BIND, 0], rbind: [MS_BIND | MS_REC, 0],
};
const PROPAGATION: Record<string, number> = {
  private: MS_PRIVATE, rprivate: MS_PRIVATE | MS_REC, shared: MS_SHARED, rshared: MS_SHARED | MS_REC,
  slave: MS_SLAVE, rslave: MS_SLAVE | MS_REC, unbindable: MS_UNBINDABLE, runbindable: MS_UNBINDABLE | MS_REC,
};

export interface ParsedOptions {
  flags: number;
  /** Propagation changes need a second mount(2) call of their own. */
  propagation: number;
  data: string | null;
}

export function parseMountOptions(options: readonly string[]): ParsedOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = FLAGS[o];
    if (f) flags = (flags | f[0]) & ~f[1];
    else if (PROPAGATION[o] !== undefined) propagation |= PROPAGATION[o]!;
    else if (o !== 'defaults') data.push(o);
  }
  return { flags, propagation, data: data.length ? data.join(',') : null };
}
