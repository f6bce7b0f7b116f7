// LinuxKit's `runtime:` section: work done on the host around a container.
// Directories, mounts and cgroups are made before `runc create` (binds may
// need them); interfaces and namespace binds after it, when the container's
// namespaces exist, and before `runc start`.
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { LINK_MODULES, linkKind } from '../model/link-kinds.js';
import { cgroupDirs } from './cgroups.js';
import { runHelper, whatEnded } from './helper-process.js';
import type { Host } from './host.js';
import { MS_BIND, parseMountOptions } from './mount-options.js';
import type { RuntimeConfig } from './oci-types.js';

export class PrepError extends Error {
  override name = 'PrepError';
}

const IP_TIMEOUT_MS = 10_000;

async function ip(host: Host, args: string[]): Promise<void> {
  const r = await runHelper(host, 'ip', args, { timeoutMs: IP_TIMEOUT_MS });
  if (r.code === 0) return;
  throw new PrepError(`ip ${args.join(' ')}: ${r.stderr.trim() || whatEnded(r, IP_TIMEOUT_MS)}`);
}

/**
 * Mounts first (a directory may be made under one), each destination and an
 * overlay's upper and work directories made if missing, then directories,
 * then cgroups. Relative paths are read from the container's root filesystem
 * on the host (`rootfs`), as LinuxKit reads them.
 */
export function beforeCreate(rt: RuntimeConfig, host: Host, rootfs: string): void {
  const onHost = (p: string) => (isAbsolute(p) ? p : join(rootfs, p));
  for (const m of rt.mounts) {
    const at = onHost(m.destination);
    mkdirSync(at, { recursive: true });
    for (const o of m.options) {
      const dir = /^(upperdir|workdir)=(.+)$/.exec(o)?.[2];
      if (dir) mkdirSync(dir, { recursive: true });
    }
    const o = parseMountOptions(m.options);
    try {
      host.mount(m.source, at, m.type === 'bind' ? null : m.type, o.flags, o.data);
      if (o.propagation) host.mount(null, at, null, o.propagation, null);
    } catch (err) {
      throw new PrepError(`runtime.mounts: ${m.type} ${m.source} on ${at}: ${(err as Error).message}`);
    }
  }
  for (const dir of rt.mkdir) mkdirSync(onHost(dir), { recursive: true });
  for (const cg of rt.cgroups) for (const dir of cgroupDirs(cg.startsWith('/') ? cg : `/${cg}`)) mkdirSync(dir, { recursive: true });
}

const NS_FILES: Record<keyof RuntimeConfig['bindNS'], string> = { cgroup: 'cgroup', ipc: 'ipc', mnt: 'mnt', net: 'net', pid: 'pid', user: 'user', uts: 'uts' };

/**
 * An interface is created where LinuxKit creates it: a veth pair, or any kind
 * with createInRoot, in the root namespace and then moved in (a wireguard
 * interface keeps its socket where it was made); other kinds inside the
 * container's namespace; without `add`, an existing interface is moved in.
 */
async function prepareInterface(iface: RuntimeConfig['interfaces'][number], pid: number, host: Host): Promise<void> {
  if (!iface.name) throw new PrepError('runtime.interfaces: an interface needs a name');
  const kind = linkKind(iface);
  const netns = ['netns', String(pid)];
  // ip link add NAME [link DEV] [netns PID] type KIND [what the kind takes]
  const add = (where: string[]) => ip(host, ['link', 'add', iface.name!, ...(iface.link ? ['link', iface.link] : []), ...where, 'type', kind!, ...(iface.options ?? [])]);
  try {
    if (kind === 'veth') await ip(host, ['link', 'add', iface.name, 'type', 'veth', 'peer', 'name', iface.peer ?? '']);
    else if (kind && iface.createInRoot) await add([]);
    else if (kind) return await add(netns);
  } catch (err) {
    // "Unknown device type": the kernel lacks the kind; say which module provides it.
    if (kind && /unknown device type|not supported/i.test((err as Error).message)) {
      throw new PrepError(`runtime.interfaces: ${iface.name}: this kernel has no "${kind}" link type; load its module (kernel.modules: [${LINK_MODULES[kind] ?? kind}])`);
    }
    throw err;
  }
  await ip(host, ['link', 'set', iface.name, ...netns]);
}

export async function afterCreate(rt: RuntimeConfig, pid: number, host: Host): Promise<void> {
  for (const iface of rt.interfaces) await prepareInterface(iface, pid, host);
  for (const [ns, target] of Object.entries(rt.bindNS) as Array<[keyof RuntimeConfig['bindNS'], string | undefined]>) {
    if (!target) continue;
    mkdirSync(dirname(target), { recursive: true });
    if (!existsSync(target)) closeSync(openSync(target, 'w'));
    try {
      host.mount(join('/proc', String(pid), 'ns', NS_FILES[ns]), target, null, MS_BIND, null);
    } catch (err) {
      throw new PrepError(`runtime.bindNS.${ns}: ${(err as Error).message}`);
    }
  }
}
