// Instance data: what the host or the cloud hands this one machine at boot
// (an immutable image needs per-instance settings). keel-init reads it
// before onboot, from the first of these that has it:
//   1. qemu's fw_cfg file opt/org.keel/userdata (keel run --data), which the
//      qemu_fw_cfg module shows under /sys/firmware/qemu_fw_cfg;
//   2. a config drive: an ISO 9660 volume labelled cidata (cloud-init's
//      NoCloud: user-data, meta-data; LinuxKit's own ISOs hold "config") or
//      config-2 (OpenStack: openstack/latest/user_data, meta_data.json).
// It writes what it found in LinuxKit's layout under /run/config, where
// containers bind it: userdata (the bytes as given), provider (where they
// came from), metadata when the source has one, and, when the user data is a
// JSON object, each key as a file or folder (LinuxKit's convention:
// {"NAME": {"content": "…", "perm": "0600"}} is a file, {"NAME": {"entries":
// {…}}} a folder). A "hostname" file there sets the hostname, as LinuxKit does.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FW_CFG_USERDATA } from '../../model/layout.js';
import { MNT_DETACH, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, type Sys } from '../core/sys.js';
import { removeTree } from '../../runtime/remove-tree.js';

export interface InstanceData {
  userdata: Buffer;
  metadata?: Buffer;
  /** Where it came from, as /run/config/provider says it: "fw_cfg opt/org.keel/userdata", "cidata /dev/sr0". */
  provider: string;
}

/** More than any configuration needs; a bigger file is refused rather than copied into memory. */
export const MAX_USERDATA = 16 * 2 ** 20;

/** The user data keel run passed through fw_cfg, if any. */
export function readFwCfg(root = '/sys/firmware/qemu_fw_cfg'): InstanceData | undefined {
  const entry = join(root, 'by_name', FW_CFG_USERDATA);
  if (!existsSync(join(entry, 'raw'))) return undefined;
  const size = Number(readFileSync(join(entry, 'size'), 'utf8'));
  if (size > MAX_USERDATA) throw new Error(`fw_cfg ${FW_CFG_USERDATA} holds ${size} bytes, more than the ${MAX_USERDATA} keel reads`);
  return { userdata: readFileSync(join(entry, 'raw')), provider: `fw_cfg ${FW_CFG_USERDATA}` };
}

const ISO_SECTOR = 2048;

/** The volume label of an ISO 9660 file system on `device` (its primary volume descriptor, sector 16), if it has one. */
export function isoLabel(device: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(device, 'r');
    const pvd = Buffer.alloc(ISO_SECTOR);
    if (readSync(fd, pvd, 0, ISO_SECTOR, 16 * ISO_SECTOR) !== ISO_SECTOR) return undefined;
    if (pvd[0] !== 1 || pvd.toString('latin1', 1, 6) !== 'CD001') return undefined;
    return pvd.toString('latin1', 40, 72).trimEnd();
  } catch {
    return undefined; // no medium in the drive, a device that cannot be read: not a config drive
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export type DriveKind = 'cidata' | 'config-2';

/** Block devices holding an ISO 9660 config drive, in name order (sr0 before vdb). */
export function findConfigDrives(sysBlock = '/sys/class/block', dev = '/dev'): Array<{ device: string; kind: DriveKind }> {
  if (!existsSync(sysBlock)) return [];
  const out: Array<{ device: string; kind: DriveKind }> = [];
  for (const name of readdirSync(sysBlock).sort()) {
    if (/^(loop|ram|zram|nbd)\d/.test(name)) continue;
    const label = isoLabel(join(dev, name))?.toLowerCase();
    if (label === 'cidata' || label === 'config-2') out.push({ device: join(dev, name), kind: label });
  }
  return out;
}

/** The first of `names` that is a file below `dir`. */
function firstFile(dir: string, names: readonly string[]): Buffer | undefined {
  for (const n of names) {
    const p = join(dir, n);
    if (existsSync(p)) return readFileSync(p);
  }
  return undefined;
}

/** Mounts the drive read-only for a moment and reads its user data and metadata. */
export function readConfigDrive(sys: Sys, drive: { device: string; kind: DriveKind }, mountPoint: string): InstanceData | undefined {
  mkdirSync(mountPoint, { recursive: true });
  // isofs is a feature module: without it in, the kernel runs the image's modprobe helper inside this call.
  sys.mount(drive.device, mountPoint, 'iso9660', MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
  try {
    const cidata = drive.kind === 'cidata';
    const userdata = firstFile(mountPoint, cidata ? ['user-data', 'config'] : ['openstack/latest/user_data']);
    const metadata = firstFile(mountPoint, cidata ? ['meta-data'] : ['openstack/latest/meta_data.json']);
    if (!userdata && !metadata) return undefined;
    return { userdata: userdata ?? Buffer.alloc(0), ...(metadata ? { metadata } : {}), provider: `${drive.kind} ${drive.device}` };
  } finally {
    sys.umount2(mountPoint, MNT_DETACH);
    removeTree(mountPoint);
  }
}

/** One key of JSON user data: a file (content) or a folder (entries), with its permission bits. */
interface Entry {
  content?: unknown;
  entries?: unknown;
  perm?: unknown;
}

/** A name that stays in its folder: no "/", not "." or "..", not empty. */
const SAFE_NAME = /^(?!\.\.?$)[^/\0]+$/;

function perm(e: Entry, fallback: number, where: string, problems: string[]): number {
  if (e.perm === undefined) return fallback;
  if (typeof e.perm === 'string' && /^[0-7]{3,4}$/.test(e.perm)) return parseInt(e.perm, 8);
  problems.push(`${where}: perm ${JSON.stringify(e.perm)} is not an octal mode such as "0644"; using ${fallback.toString(8)}`);
  return fallback;
}

/** Writes the JSON convention's tree below `dir`; what cannot be written is said, and the rest is still written. */
export function writeJsonTree(dir: string, tree: Record<string, unknown>, problems: string[], where = ''): string[] {
  const written: string[] = [];
  for (const [name, value] of Object.entries(tree)) {
    const at = where ? `${where}/${name}` : name;
    const e = value as Entry;
    if (!SAFE_NAME.test(name)) problems.push(`${at}: not a file name; skipped`);
    else if (!value || typeof value !== 'object' || Array.isArray(value)) problems.push(`${at}: expected {"content": …} or {"entries": {…}}; skipped`);
    else if (typeof e.content === 'string' && e.entries === undefined) {
      writeFileSync(join(dir, name), e.content, { mode: perm(e, 0o644, at, problems) });
      written.push(at);
    } else if (e.entries && typeof e.entries === 'object' && !Array.isArray(e.entries) && e.content === undefined) {
      mkdirSync(join(dir, name), { mode: perm(e, 0o755, at, problems) });
      written.push(...writeJsonTree(join(dir, name), e.entries as Record<string, unknown>, problems, at));
    } else problems.push(`${at}: needs either "content" (a string) or "entries" (an object), not both; skipped`);
  }
  return written;
}

/** /run/config as LinuxKit lays it out; returns the files the JSON made and what could not be made. */
export function writeInstanceConfig(dir: string, data: InstanceData): { files: string[]; problems: string[] } {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'userdata'), data.userdata, { mode: 0o644 });
  writeFileSync(join(dir, 'provider'), data.provider, { mode: 0o644 });
  if (data.metadata) writeFileSync(join(dir, 'metadata'), data.metadata, { mode: 0o644 });
  const problems: string[] = [];
  let json: unknown;
  try {
    json = JSON.parse(data.userdata.toString('utf8'));
  } catch {
    return { files: [], problems }; // not JSON: userdata as it is, and nothing more (LinuxKit's rule)
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return { files: [], problems };
  const tree = { ...(json as Record<string, unknown>) };
  for (const own of ['userdata', 'provider', 'metadata']) {
    if (own in tree) problems.push(`${own}: a name /run/config keeps for itself; skipped`);
    delete tree[own];
  }
  return { files: writeJsonTree(dir, tree, problems), problems };
}
