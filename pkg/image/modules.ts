// Kernel modules for the image. Debian's kernel builds virtio, overlay, veth,
// evdev and the ACPI button as modules (docs/architecture.md, "Stock kernels"), and a package
// has no modules.dep (depmod makes it at install), so dependencies are read
// from each module's own .modinfo ("depends=a,b").
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { modaliasBus } from '../../model/module-list.js';
import { BuildError } from './kernel.js';

/**
 * What every keel image carries: disks, network, console and vsock over virtio; overlay; veth and bridge; the power
 * button. The drivers load when their devices are there; overlay, veth and bridge when the kernel asks (modprobe-helper.ts).
 */
export const DEFAULT_MODULES = [
  // virtio_pci is the transport: without it no virtio device (net, blk, console) is ever found.
  'virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_console', 'virtio_rng', 'vmw_vsock_virtio_transport', 'overlay', 'veth', 'bridge', 'evdev', 'button',
];

/**
 * What instance data arrives by (init/machine/instance-data.ts): qemu's fw_cfg, and ISO 9660 config
 * drives on a virtio disk or a CD-ROM on SATA (qemu's q35 machine) or IDE (its pc machine). Loaded when the kernel has them as
 * modules; a kernel without them (a trimmed LinuxKit kernel.tar) still builds, and its machine
 * reads no instance data from what is missing.
 */
export const INSTANCE_DATA_MODULES = ['qemu_fw_cfg', 'isofs', 'sr_mod', 'ahci', 'ata_piix'];

const norm = (name: string) => name.replace(/-/g, '_');

/** keel's own modules that wait for their devices: the defaults and the instance-data ones, but for any the manifest names itself. */
export function gatedDefaults(named: readonly string[]): string[] {
  const byManifest = new Set(named.map(norm));
  return [...DEFAULT_MODULES, ...INSTANCE_DATA_MODULES].filter((m) => !byManifest.has(norm(m)));
}

/** Module name → path of its .ko below lib/modules/RELEASE. */
export function moduleIndex(modulesDir: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko')) index.set(norm(e.name.slice(0, -3)), relative(modulesDir, p));
    }
  };
  walk(join(modulesDir, 'kernel'));
  return index;
}

/** Modules built into the kernel (modules.builtin), which need no loading. */
export function builtinModules(modulesDir: string): Set<string> {
  const file = join(modulesDir, 'modules.builtin');
  if (!existsSync(file)) return new Set();
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => norm(l.split('/').pop()!.replace(/\.ko$/, ''))));
}

/** Every value of `key` in a module's .modinfo section (depends=, alias=, …). */
function modinfoValues(ko: Buffer, key: string): string[] {
  const tag = Buffer.from(`\0${key}=`);
  const values: string[] = [];
  for (let at = ko.indexOf(tag); at >= 0; at = ko.indexOf(tag, at + tag.length)) {
    values.push(ko.subarray(at + tag.length, ko.indexOf(0, at + tag.length)).toString());
  }
  return values;
}

/** The depends= entry of a module's .modinfo section. */
export function modinfoDepends(ko: Buffer): string[] {
  return (modinfoValues(ko, 'depends')[0] ?? '').split(',').filter(Boolean).map(norm);
}

/**
 * The buses whose devices the kernel names by a modalias in sysfs, as a
 * driver's alias= names them ("pci:v00001AF4d*…", "acpi*:PNP0C0C:*"). Other
 * aliases name what request_module asks for (fs-overlay, rtnl-link-veth,
 * block-major-11-*), not a device.
 */
const DEVICE_BUSES = new Set(['pci', 'virtio', 'acpi', 'scsi', 'input', 'platform', 'of', 'serio', 'usb', 'hid', 'vmbus', 'xen', 'pnp']);

/** The modalias patterns of the devices a module drives (empty for a module that drives none). */
export function modinfoDevices(ko: Buffer): string[] {
  return modinfoValues(ko, 'alias').filter((a) => DEVICE_BUSES.has(modaliasBus(a) ?? ''));
}

/**
 * The kinds of name the kernel's request_module asks for a feature by: a filesystem type when it is mounted, a link
 * kind when such a link is made, a socket family when such a socket is opened. An alias of another kind (a bus this
 * list does not know, a block or char major) is not taken as a feature: its module loads at boot, as before.
 */
const REQUEST_PREFIXES = ['fs-', 'rtnl-link-', 'net-pf-'];

/**
 * The names the kernel asks for a feature module by: its own and each of its feature aliases ("fs-overlay" when
 * overlay is mounted, "rtnl-link-bridge" when a bridge is made, "fs-iso9660"); empty when it has no feature alias.
 * An alias with a wildcard (net-pf-40-proto-*) is left out: the helper matches names literally.
 */
export function modinfoRequests(ko: Buffer, name: string): string[] {
  const features = modinfoValues(ko, 'alias').filter((a) => REQUEST_PREFIXES.some((p) => a.startsWith(p)) && !/[*?[]/.test(a));
  return features.length ? [name, ...features] : [];
}

export interface ResolvedModule {
  /** Its .ko below lib/modules/RELEASE. */
  rel: string;
  /** The rel of each module it needs that is not built in (each earlier in the order). */
  deps: string[];
  /** For a module of `gated`: the modalias patterns of its devices (keel-init loads it early only when one is present). */
  devices: string[];
  /** Not asked for: here only because a module asked for needs it. */
  onlyAsDependency: boolean;
  /**
   * For a module of `gated` that drives no device but has aliases (overlay, veth, bridge, isofs): the names the
   * kernel asks for it by. keel-init leaves it for the kernel to ask for, through the image's modprobe helper.
   */
  requests: string[];
}

/**
 * The modules to load for `wanted` (and for those of `ifPresent` the kernel has), dependencies first, each once; built-in
 * ones are skipped. The device drivers among `gated` carry their devices' modalias patterns, and its feature modules
 * the names the kernel asks for them by.
 */
export function resolveModules(modulesDir: string, wanted: readonly string[], ifPresent: readonly string[] = [], gated: readonly string[] = []): ResolvedModule[] {
  const index = moduleIndex(modulesDir);
  const builtin = builtinModules(modulesDir);
  const order: ResolvedModule[] = [];
  const seen = new Set<string>();
  const askedFor = new Set([...wanted, ...ifPresent].map(norm));
  const gatedNames = new Set(gated.map(norm));
  const visit = (name: string, from?: string) => {
    const n = norm(name);
    if (seen.has(n) || builtin.has(n)) return;
    seen.add(n);
    const rel = index.get(n);
    if (!rel) throw new BuildError(`kernel module ${name}${from ? ` (needed by ${from})` : ''} is not in this kernel's modules; check kernel.modules`);
    const ko = readFileSync(join(modulesDir, rel));
    const deps = modinfoDepends(ko).filter((d) => !builtin.has(d));
    for (const d of deps) visit(d, n);
    const devices = gatedNames.has(n) ? modinfoDevices(ko) : [];
    const requests = gatedNames.has(n) && devices.length === 0 ? modinfoRequests(ko, n) : [];
    order.push({ rel, deps: deps.map((d) => index.get(d)!), devices, onlyAsDependency: !askedFor.has(n), requests });
  };
  for (const w of wanted) visit(w);
  for (const w of ifPresent) if (index.has(norm(w))) visit(w);
  return order;
}
