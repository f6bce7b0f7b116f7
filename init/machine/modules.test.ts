// The order kernel modules load in: each after the modules it needs, several
// at once. finit_module itself runs in every VM boot (test/vm-*.test.ts);
// here `load` stands in for it so that the order and the overlap can be
// seen, which a real kernel does not show.
import { describe, expect, it } from 'vitest';
import { formatModuleList, parseModuleList } from '../../model/module-list.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sys } from '../core/sys.js';
import { CONTROLLER_HOLD } from './controller-hold.js';
import { aliasMatches, loadInDependencyOrder, loadModules, modulesToLoad } from './modules.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

/** Loads with a recorded start and end for each path; `fail` names paths whose load fails. */
function recorder(fail: string[] = []) {
  const events: string[] = [];
  let running = 0;
  let most = 0;
  const load = async (path: string) => {
    events.push(`start ${path}`);
    most = Math.max(most, ++running);
    await tick();
    running--;
    events.push(`end ${path}`);
    return fail.includes(path) ? { ms: 5, error: Object.assign(new Error(`${path}: Unknown symbol`), { code: 'ENOENT' }) } : { ms: 5 };
  };
  return { load, events, most: () => most };
}

describe('the kernel module list', () => {
  it('keeps each module with its dependencies, and a list without the header is read as one after another', () => {
    const text = formatModuleList([
      { path: '/m/virtio.ko', deps: [] },
      { path: '/m/virtio_net.ko', deps: ['/m/virtio.ko'] },
    ]);
    expect(parseModuleList(text)).toEqual([
      { path: '/m/virtio.ko', deps: [], devices: [], onlyAsDependency: false, requests: [] },
      { path: '/m/virtio_net.ko', deps: ['/m/virtio.ko'], devices: [], onlyAsDependency: false, requests: [] },
    ]);
    expect(parseModuleList('/m/a.ko\n/m/b.ko\n')).toEqual([
      { path: '/m/a.ko', deps: undefined, devices: [], onlyAsDependency: false, requests: [] },
      { path: '/m/b.ko', deps: undefined, devices: [], onlyAsDependency: false, requests: [] },
    ]);
  });

  it('keeps a driver\'s device patterns and marks a module listed only for another', () => {
    const text = formatModuleList([
      { path: '/m/virtio.ko', deps: [], onlyAsDependency: true },
      { path: '/m/virtio_blk.ko', deps: ['/m/virtio.ko'], devices: ['virtio:d00000002v*'] },
    ]);
    expect(parseModuleList(text)).toEqual([
      { path: '/m/virtio.ko', deps: [], devices: [], onlyAsDependency: true, requests: [] },
      { path: '/m/virtio_blk.ko', deps: ['/m/virtio.ko'], devices: ['virtio:d00000002v*'], onlyAsDependency: false, requests: [] },
    ]);
  });

  it('keeps the names the kernel asks for a feature module by', () => {
    const text = formatModuleList([{ path: '/m/overlay.ko', deps: [], requests: ['overlay', 'fs-overlay'] }]);
    expect(text).toContain('/m/overlay.ko\t%overlay\t%fs-overlay\n');
    expect(parseModuleList(text)).toEqual([{ path: '/m/overlay.ko', deps: [], devices: [], onlyAsDependency: false, requests: ['overlay', 'fs-overlay'] }]);
  });
});

describe('loading in dependency order', () => {
  it('starts a module only once those it needs are in, runs independent ones together, and reports in list order', async () => {
    const list = parseModuleList(
      formatModuleList([
        { path: 'virtio', deps: [] },
        { path: 'virtio_pci', deps: ['virtio'] },
        { path: 'overlay', deps: [] },
        { path: 'llc', deps: [] },
        { path: 'stp', deps: ['llc'] },
        { path: 'bridge', deps: ['llc', 'stp'] },
        { path: 'evdev', deps: [] },
      ]),
    );
    const r = recorder(['overlay']);
    const results = await loadInDependencyOrder(list, r.load);
    const at = (e: string) => r.events.indexOf(e);
    expect(at('start virtio_pci')).toBeGreaterThan(at('end virtio'));
    expect(at('start stp')).toBeGreaterThan(at('end llc'));
    expect(at('start bridge')).toBeGreaterThan(at('end stp'));
    // virtio, overlay, llc and evdev need nothing: they overlap, four at a time at most.
    expect(r.most()).toBe(4);
    expect(results.map((x) => x.error?.message)).toEqual([undefined, undefined, 'overlay: Unknown symbol', undefined, undefined, undefined, undefined]);
  });

  it('still tries a module whose dependency failed, so that its own error is reported', async () => {
    const list = parseModuleList(formatModuleList([{ path: 'libata', deps: [] }, { path: 'ata_piix', deps: ['libata'] }]));
    const r = recorder(['libata', 'ata_piix']);
    const results = await loadInDependencyOrder(list, r.load);
    expect(r.events).toEqual(['start libata', 'end libata', 'start ata_piix', 'end ata_piix']);
    expect(results.every((x) => x.error)).toBe(true);
  });

  it('loads a list that does not name dependencies one module after another', async () => {
    const r = recorder();
    await loadInDependencyOrder(parseModuleList('a\nb\nc\n'), r.load);
    expect(r.events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(r.most()).toBe(1);
  });

  it('settles at once for an empty list', async () => {
    expect(await loadInDependencyOrder([], recorder().load)).toEqual([]);
  });
});

describe('matching a driver to the devices present', () => {
  it('matches modalias patterns as modprobe does: * ? and [...]', () => {
    expect(aliasMatches('virtio:d00000002v*', 'virtio:d00000002v00001AF4')).toBe(true);
    expect(aliasMatches('virtio:d00000002v*', 'virtio:d00000001v00001AF4')).toBe(false);
    expect(aliasMatches('acpi*:PNP0C0C:*', 'acpi:PNP0C0C:')).toBe(true);
    expect(aliasMatches('pci:v00001AF4d*sv*sd*bc*sc*i*', 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00')).toBe(true);
    expect(aliasMatches('scsi:t-0x0[45]*', 'scsi:t-0x05')).toBe(true);
    expect(aliasMatches('scsi:t-0x0[!45]*', 'scsi:t-0x05')).toBe(false);
    expect(aliasMatches('of:N*T*Cqemu,fw-cfg-mmio', 'of:NfwT(null)Cqemu,fw-cfg-mmio')).toBe(true);
    expect(aliasMatches('a.b', 'axb')).toBe(false);
  });

  const text = formatModuleList([
    { path: 'virtio', deps: [], onlyAsDependency: true },
    { path: 'virtio_pci', deps: ['virtio'], devices: ['pci:v00001AF4d*'] },
    { path: 'virtio_blk', deps: ['virtio'], devices: ['virtio:d00000002v*'] },
    { path: 'virtio_net', deps: ['virtio'], devices: ['virtio:d00000001v*'] },
    { path: 'overlay', deps: [] },
    { path: 'llc', deps: [], onlyAsDependency: true },
    { path: 'bridge', deps: ['llc'], requests: ['bridge', 'rtnl-link-bridge'] },
  ]);
  const list = parseModuleList(text);
  const names = (ms: readonly { path: string }[]) => ms.map((m) => m.path);

  it('picks the modules not gated on a device, the drivers of devices present, and what they need', () => {
    expect(names(modulesToLoad(list, ['pci:v00001AF4d00001000'], new Set()))).toEqual(['virtio', 'virtio_pci', 'overlay']);
    expect(names(modulesToLoad(list, ['pci:v00001AF4d00001000', 'virtio:d00000001v00001AF4'], new Set(['virtio', 'virtio_pci', 'overlay'])))).toEqual(['virtio_net']);
    // Once boot is complete, the rest of the drivers and the feature modules nothing asked for, with what they need.
    expect(names(modulesToLoad(list, undefined, new Set(['virtio', 'virtio_pci', 'overlay', 'virtio_net'])))).toEqual(['virtio_blk', 'llc', 'bridge']);
  });

  it('at boot loads a driver for a device that appears once another driver is in, and leaves the rest for later, but for what the kernel asked for meanwhile', async () => {
    // A directory stands in for sysfs, and `finitModules` for the kernel: loading virtio_pci makes its virtio
    // device appear, as the real virtio_pci does (the VM tests boot the real thing).
    const sys = mkdtempSync(join(tmpdir(), 'keel-sysfs-'));
    const device = (bus: string, name: string, alias: string) => {
      mkdirSync(join(sys, 'bus', bus, 'devices', name), { recursive: true });
      writeFileSync(join(sys, 'bus', bus, 'devices', name, 'modalias'), `${alias}\n`);
    };
    try {
      device('pci', '0000:00:02.0', 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00');
      const listFile = join(sys, 'modules');
      writeFileSync(listFile, text);
      const loaded: string[] = [];
      const kernel = {
        finitModules: async (paths: string[]) => {
          loaded.push(...paths);
          if (paths.includes('virtio_pci')) device('virtio', 'virtio0', 'virtio:d00000001v00001AF4');
          return paths.map(() => ({ ms: 1 }));
        },
      } as unknown as Sys;
      const boot = await loadModules(kernel, listFile, sys);
      expect(loaded.sort()).toEqual(['overlay', 'virtio', 'virtio_net', 'virtio_pci']);
      expect(boot.loaded).toBe(4);
      expect(boot.waiting).toEqual(['virtio_blk']);
      // bridge is left for the kernel to ask for; llc, which only bridge needs, with it.
      expect(boot.onRequest).toEqual(['bridge']);
      // The kernel asked for bridge meanwhile (its helper loaded it and llc): /sys/module shows them.
      mkdirSync(join(sys, 'module', 'bridge'), { recursive: true });
      mkdirSync(join(sys, 'module', 'llc'), { recursive: true });
      const later = await boot.loadWaiting();
      expect(later.loaded).toBe(1);
      expect(loaded.slice(4)).toEqual(['virtio_blk']);
    } finally {
      rmSync(sys, { recursive: true, force: true });
    }
  });
});

describe('the disk controller\'s driver on keel run\'s word (controller-hold.ts)', () => {
  // A directory stands in for sysfs and `finitModules` for the kernel: loading qemu_fw_cfg makes its files appear,
  // as the real module does. The VM tests boot the real thing (test/vm.test.ts: the demo and the zero-container image).
  const text = formatModuleList([
    { path: 'qemu_fw_cfg', deps: [], devices: ['acpi*:QEMU0002:*'] },
    { path: 'libata', deps: [], onlyAsDependency: true },
    { path: 'ata_piix', deps: ['libata'], devices: ['pci:v00008086d00007010sv*sd*bc*sc*i*'] },
    { path: 'ahci', deps: ['libata'], devices: ['pci:v*d*sv*sd*bc01sc06i01*'] },
    { path: 'evdev', deps: [], devices: ['input:b*v*p*e*-e*k*r*a*m*l*s*f*w*'] },
  ]);
  const IDE = 'pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80';
  const SATA = 'pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01';
  const FW_CFG = 'acpi:QEMU0002:';

  /** `fwCfg`: 'module' (its files appear when qemu_fw_cfg loads), 'built-in' (there from the start), 'fails' (its load fails). */
  async function boot(devices: string[], word: string | undefined, moduleList = text, fwCfg: 'module' | 'built-in' | 'fails' = 'module') {
    const sys = mkdtempSync(join(tmpdir(), 'keel-sysfs-'));
    devices.forEach((alias, i) => {
      const dir = join(sys, 'bus', alias.split(':')[0]!, 'devices', `dev${i}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'modalias'), `${alias}\n`);
    });
    const listFile = join(sys, 'modules');
    writeFileSync(listFile, moduleList);
    const showWord = () => {
      if (word === undefined) return;
      const entry = join(sys, 'firmware/qemu_fw_cfg/by_name/opt/org.keel/empty-controller');
      mkdirSync(entry, { recursive: true });
      writeFileSync(join(entry, 'raw'), word);
    };
    if (fwCfg === 'built-in') showWord();
    const order: string[] = [];
    const kernel = {
      finitModules: async (paths: string[]) => {
        order.push(`start ${paths[0]}`);
        await tick();
        order.push(`end ${paths[0]}`);
        if (paths[0] === 'qemu_fw_cfg' && fwCfg === 'fails') return [{ ms: 1, error: Object.assign(new Error('qemu_fw_cfg: Unknown symbol'), { code: 'ENOENT' }) }];
        if (paths[0] === 'qemu_fw_cfg') showWord();
        return paths.map(() => ({ ms: 1 }));
      },
    } as unknown as Sys;
    try {
      const b = await loadModules(kernel, listFile, sys, CONTROLLER_HOLD);
      const atBoot = [...order];
      await b.loadWaiting();
      return { b, atBoot, afterBoot: order.slice(atBoot.length) };
    } finally {
      rmSync(sys, { recursive: true, force: true });
    }
  }

  // pc has the IDE controller, q35 the SATA one: the driver of the one there is held, the other's waits as any driver
  // whose device is absent. Both, and what only they need, load after boot.
  it.each([
    { device: IDE, kind: 'IDE', held: 'ata_piix', waiting: 'ahci' },
    { device: SATA, kind: 'SATA', held: 'ahci', waiting: 'ata_piix' },
  ])('leaves $held for after boot when keel run says the $kind controller is empty', async ({ device, kind, held, waiting }) => {
    const { b, atBoot, afterBoot } = await boot([device, FW_CFG], kind);
    expect(atBoot).toEqual(['start qemu_fw_cfg', 'end qemu_fw_cfg']);
    expect(b.emptyByHost).toEqual([{ driver: held, why: `keel run attached no drive to the ${kind} controller` }]);
    expect(b.waiting).toEqual([waiting, 'evdev'].sort());
    expect(afterBoot.filter((e) => e.startsWith('start')).sort()).toEqual(['start ahci', 'start ata_piix', 'start evdev', 'start libata']);
  });

  it('lets a driver go when the word names another kind of controller than the one here', async () => {
    // keel run says SATA, but this machine has the IDE controller: ata_piix loads at boot once the word is read, and
    // ahci, named but with no device here, waits as any driver whose device is absent.
    const { b, atBoot } = await boot([IDE, FW_CFG], 'SATA');
    expect(atBoot).toEqual(['start qemu_fw_cfg', 'end qemu_fw_cfg', 'start libata', 'end libata', 'start ata_piix', 'end ata_piix']);
    expect(b.emptyByHost).toEqual([]);
    expect(b.waiting).toEqual(['ahci', 'evdev']);
  });

  it('loads the IDE driver at boot, once fw_cfg is in, when keel run does not say so', async () => {
    for (const word of [undefined, 'empty', 'SCSI']) {
      const { b, atBoot } = await boot([IDE, FW_CFG], word);
      expect(atBoot).toEqual(['start qemu_fw_cfg', 'end qemu_fw_cfg', 'start libata', 'end libata', 'start ata_piix', 'end ata_piix']);
      expect(b.emptyByHost).toEqual([]);
    }
  });

  it('loads the IDE driver at boot whatever keel run says when the manifest names it (kernel.modules)', async () => {
    const named = text.replace(/^ata_piix\tlibata\t@.*$/m, 'ata_piix\tlibata');
    const { b, atBoot } = await boot([IDE, FW_CFG], 'IDE', named);
    expect(atBoot.filter((e) => e.startsWith('start')).sort()).toEqual(['start ata_piix', 'start libata', 'start qemu_fw_cfg']);
    expect(b.emptyByHost).toEqual([]);
  });

  it('reads the word at once from a kernel that builds fw_cfg in, and holds the driver without waiting', async () => {
    for (const [device, kind, driver] of [[IDE, 'IDE', 'ata_piix'], [SATA, 'SATA', 'ahci']] as const) {
      const { b, atBoot } = await boot([device], kind, text, 'built-in');
      expect(atBoot).toEqual([]);
      expect(b.emptyByHost.map((e) => e.driver)).toEqual([driver]);
    }
  });

  it('lets the IDE driver go at boot when qemu_fw_cfg fails to load (the word cannot be read)', async () => {
    const { b, atBoot } = await boot([IDE, FW_CFG], 'IDE', text, 'fails');
    expect(atBoot).toEqual(['start qemu_fw_cfg', 'end qemu_fw_cfg', 'start libata', 'end libata', 'start ata_piix', 'end ata_piix']);
    expect(b.emptyByHost).toEqual([]);
    expect(b.failed).toHaveLength(1);
  });

  it('does not wait on a machine without fw_cfg (another hypervisor)', async () => {
    const { b, atBoot } = await boot([IDE], undefined);
    expect(atBoot).toEqual(['start libata', 'end libata', 'start ata_piix', 'end ata_piix']);
    expect(b.emptyByHost).toEqual([]);
  });
});
