// LinuxKit's `runtime:` section: work done on the host around a container.
// Directories, mounts and cgroups are made before `runc create` (binds may
// need them); interfaces and namespace binds after it, when the container's
// namespaces exist, and before `runc start`.
import { execFile } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cgroupDirs } from './cgroups.js';
import type { Host } from './host.js';
import { MS_BIND, parseMountOptions } from './mount-options.js';
import type { RuntimeConfig } from './oci-types.js';

export class PrepError extends Error {
  override name = 'PrepError';
}

function ip(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) reject(new PrepError(`ip ${args.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolve();
    });
  });
}

export function beforeCreate(rt: RuntimeConfig, host: Host): void {
  for (const dir of rt.mkdir) mkdirSync(dir, { recursive: true });
  for (const m of rt.mounts) {
    mkdirSync(m.destination, { recursive: true });
    const o = parseMountOptions(m.options);
    try {
      host.mount(m.source, m.destination, m.type === 'bind' ? null : m.type, o.flags, o.data);
      if (o.propagation) host.mount(null, m.destination, null, o.propagation, null);
    } catch (err) {
      throw new PrepError(`runtime.mounts: ${m.type} ${m.source} on ${m.destination}: ${(err as Error).message}`);
    }
  }
  for (const cg of rt.cgroups) for (const dir of cgroupDirs(cg.startsWith('/') ? cg : `/${cg}`)) mkdirSync(dir, { recursive: true });
}

const NS_FILES: Record<keyof RuntimeConfig['bindNS'], string> = { cgroup: 'cgroup', ipc: 'ipc', mnt: 'mnt', net: 'net', pid: 'pid', user: 'user', uts: 'uts' };

export async function afterCreate(rt: RuntimeConfig, pid: number, host: Host): Promise<void> {
  for (const iface of rt.interfaces) {
    if (!iface.name) throw new PrepError('runtime.interfaces: an interface needs a name');
    if (iface.add === 'veth') {
      if (!iface.peer) throw new PrepError(`runtime.interfaces: veth ${iface.name} needs a peer name`);
      await ip(['link', 'add', iface.name, 'type', 'veth', 'peer', 'name', iface.peer]);
    }
    await ip(['link', 'set', iface.name, 'netns', String(pid)]);
  }
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
