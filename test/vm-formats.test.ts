// The disk and EFI formats, end to end: one image built twice with every
// format (byte-identical), each disk read back by qemu-img, the platform
// rules checked (Azure's VHD, GCE's archive, KubeVirt's containerDisk), and
// six formats booted with plain qemu under TCG (the image alone: SeaBIOS
// or OVMF, qemu's own VHD and VHDX drivers) to keel's boot complete and a
// clean power-off on the power button. keel run boots two more, one on
// qemu's pc machine, which answers over the control channel, and one with
// UEFI on keel run's default machine, q35.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerArchive } from './helpers/images.js';
import { DIST, requireDist } from './helpers/keel-ns.js';
import { bootToPowerOff } from './helpers/plain-qemu.js';
import { bootVm } from './helpers/vm.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-vm-formats-'));
const NAME = 'formats';
const TAG = `keel-vm-formats/${NAME}:${process.pid}`;
const FORMATS = ['iso-efi', 'raw-bios', 'raw-efi', 'qcow2-bios', 'qcow2-efi', 'vhd', 'vhdx', 'vmdk', 'gcp', 'aws', 'kubevirt'];
const MIB = 2 ** 20;
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
const first = join(dir, 'a');
const second = join(dir, 'b');
const out = (file: string) => join(first, file);
let buildLines: string[] = [];

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 2 ** 28 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '' };
}

function build(outDir: string): string[] {
  const started = Date.now();
  const r = run(process.execPath, [join(DIST, 'keel.js'), 'build', '-o', outDir, '--format', FORMATS.join(','), '--tag', TAG, join(dir, `${NAME}.yml`)]);
  expect(r.status, r.stderr).toBe(0);
  process.stdout.write(`formats: keel build of ${FORMATS.length} formats took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return r.stdout.split('\n');
}

/** '' for the same bytes; else the sizes, how many bytes differ and where the first few are. */
function differences(a: string, b: string): string {
  const x = readFileSync(a);
  const y = readFileSync(b);
  if (x.equals(y)) return '';
  const at: number[] = [];
  let n = 0;
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i] && n++ < 8) at.push(i);
  return `${x.length} and ${y.length} bytes, ${n} differ, first at ${at.join(', ')}`;
}

beforeAll(() => {
  requireDist();
  // One service, so that ps over the control channel has something to show.
  dockerArchive(dir, join(dir, 'idle.tar'), 'keel-vm-formats/idle:1', { layers: [{ files: { 'bin/busybox': 'busybox' } }] });
  writeFileSync(
    join(dir, `${NAME}.yml`),
    ['kernel:', '  cmdline: "quiet"', `hostname: ${NAME}`, 'services:', '  - name: idle', '    image: ./idle.tar', '    command: ["/bin/busybox", "sh", "-c", "trap \'exit 0\' TERM; while :; do /bin/busybox sleep 1; done"]', ''].join('\n'),
  );
  buildLines = build(first);
  build(second);
}, 600_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  run('docker', ['rmi', '--force', TAG]);
});

describe('every format, built twice from the same inputs', () => {
  it('is the same bytes, and the kubevirt image the same image id', () => {
    const files = readdirSync(first).sort();
    expect(files).toEqual([
      `${NAME}-bios.img`, `${NAME}-cmdline`, `${NAME}-efi.img`, `${NAME}-efi.iso`, `${NAME}-efi.qcow2`, `${NAME}-initrd.img`, `${NAME}-kernel`,
      `${NAME}.img.tar.gz`, `${NAME}.qcow2`, `${NAME}.raw`, `${NAME}.vhd`, `${NAME}.vhdx`, `${NAME}.vmdk`,
    ]);
    expect(readdirSync(second).sort()).toEqual(files);
    for (const f of files) expect(differences(join(first, f), join(second, f)), f).toBe('');
    expect(readFileSync(out(`${NAME}.raw`)).equals(readFileSync(out(`${NAME}-bios.img`)))).toBe(true); // aws is the raw-bios disk
    const id = /kubevirt: \S+ \((sha256:[0-9a-f]{12})/.exec(buildLines.join('\n'))?.[1];
    expect(id).toBeDefined();
    expect(run('docker', ['image', 'inspect', '--format', '{{.Id}}', TAG]).stdout.trim().startsWith(id!)).toBe(true);
    for (const f of files) process.stdout.write(`formats: ${f} ${statSync(join(first, f)).size} bytes\n`);
  });
});

describe('the disks', () => {
  it.each([
    [`${NAME}-bios.img`, 'raw'],
    [`${NAME}-efi.img`, 'raw'],
    [`${NAME}.raw`, 'raw'],
    [`${NAME}.qcow2`, 'qcow2'],
    [`${NAME}-efi.qcow2`, 'qcow2'],
    [`${NAME}.vhd`, 'vpc'],
    [`${NAME}.vhdx`, 'vhdx'],
    [`${NAME}.vmdk`, 'vmdk'],
  ])('%s passes qemu-img info and check as %s, a whole number of MiB', (file, driver) => {
    const info = run('qemu-img', ['info', '--output=json', '-f', driver, out(file)]);
    expect(info.status, info.stderr).toBe(0);
    const parsed = JSON.parse(info.stdout) as { format: string; 'virtual-size': number };
    expect(parsed.format).toBe(driver);
    expect(parsed['virtual-size'] % MIB).toBe(0);
    const check = run('qemu-img', ['check', '-f', driver, out(file)]);
    if (driver === 'raw' || driver === 'vpc') {
      // qemu-img has no check for these two; the partition table is checked instead.
      expect(check.stderr).toContain('This image format does not support checks');
      const verify = run('sfdisk', ['--verify', out(file)]);
      expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    } else {
      expect(check.status, check.stdout + check.stderr).toBe(0);
      expect(check.stdout).toContain('No errors were found on the image.');
    }
  });

  it('the vhd meets Azure rules: fixed, a whole number of MiB, the footer after the disk', () => {
    const vhd = readFileSync(out(`${NAME}.vhd`));
    const footer = vhd.subarray(-512);
    expect(footer.toString('latin1', 0, 8)).toBe('conectix');
    expect(footer.readUInt32BE(60)).toBe(2); // fixed
    const size = Number(footer.readBigUInt64BE(48));
    expect(size % MIB).toBe(0);
    expect(vhd.length).toBe(size + 512);
    expect(vhd.subarray(0, size).equals(readFileSync(out(`${NAME}.raw`)))).toBe(true);
  });

  it('the gcp archive holds exactly disk.raw, a whole number of GiB', () => {
    const list = run('tar', ['--list', '--verbose', '-zf', out(`${NAME}.img.tar.gz`)]);
    expect(list.status, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const m = / (\d+) \d{4}-\d\d-\d\d \d\d:\d\d disk\.raw$/.exec(lines[0]!);
    expect(m, lines[0]).not.toBeNull();
    expect(Number(m![1]) % 2 ** 30).toBe(0);
  });

  it('the kubevirt image is in the engine with the disk under /disk/, owned 107:107, and qemu-img reads it', () => {
    const save = join(dir, 'kubevirt.tar');
    expect(run('docker', ['save', '-o', save, TAG]).status).toBe(0);
    const manifest = JSON.parse(run('tar', ['-xOf', save, 'manifest.json']).stdout) as Array<{ Layers: string[] }>;
    expect(manifest[0]!.Layers).toHaveLength(1);
    const layer = join(dir, 'layer.tar');
    writeFileSync(layer, spawnSync('tar', ['-xOf', save, manifest[0]!.Layers[0]!], { maxBuffer: 2 ** 28 }).stdout);
    const listing = run('tar', ['--list', '--verbose', '--numeric-owner', '-f', layer]).stdout.trim().split('\n');
    expect(listing).toHaveLength(2);
    expect(listing[0]).toMatch(/^dr-xr-xr-x 107\/107 .* disk\/$/);
    expect(listing[1]).toMatch(new RegExp(`^-r--r----- 107/107 .* disk/${NAME}\\.qcow2$`));
    // Copied back out of the engine, the disk is the qcow2-bios output, and a good qcow2.
    const container = `formats-kubevirt-${process.pid}`;
    expect(run('docker', ['create', '--name', container, TAG, '/none']).status).toBe(0);
    try {
      expect(run('docker', ['cp', `${container}:/disk/${NAME}.qcow2`, join(dir, 'kubevirt.qcow2')]).status).toBe(0);
    } finally {
      run('docker', ['rm', container]);
    }
    const info = run('qemu-img', ['info', '--output=json', join(dir, 'kubevirt.qcow2')]);
    expect(info.status, info.stderr).toBe(0);
    expect((JSON.parse(info.stdout) as { format: string }).format).toBe('qcow2');
    expect(run('qemu-img', ['check', join(dir, 'kubevirt.qcow2')]).status).toBe(0);
    expect(readFileSync(join(dir, 'kubevirt.qcow2')).equals(readFileSync(out(`${NAME}.qcow2`)))).toBe(true);
  });
});

/** The qemu arguments that attach the image, per format: how a user would boot it with qemu alone. */
const BOOTS: Array<[string, 'bios' | 'uefi', (file: string) => string[]]> = [
  [`${NAME}-bios.img`, 'bios', (f) => ['-drive', `file=${f},format=raw,if=virtio`]],
  [`${NAME}.vhd`, 'bios', (f) => ['-drive', `file=${f},format=vpc,if=virtio`]],
  [`${NAME}-efi.img`, 'uefi', (f) => ['-drive', `file=${f},format=raw,if=virtio`]],
  [`${NAME}-efi.qcow2`, 'uefi', (f) => ['-drive', `file=${f},format=qcow2,if=virtio`]],
  [`${NAME}.vhdx`, 'uefi', (f) => ['-drive', `file=${f},format=vhdx,if=virtio`]],
  // A CD drive on virtio-scsi: OVMF reads it several times faster than the default IDE one under TCG.
  [`${NAME}-efi.iso`, 'uefi', (f) => ['-device', 'virtio-scsi-pci,id=scsi', '-drive', `if=none,id=cd,media=cdrom,format=raw,readonly=on,file=${f}`, '-device', 'scsi-cd,drive=cd,bus=scsi.0']],
];

describe('booted with plain qemu', () => {
  it.each(BOOTS)('%s boots with %s to keel boot complete, and powers off on the power button', async (file, firmware, attach) => {
    const vmDir = join(dir, `boot-${file}`);
    mkdirSync(vmDir);
    const qmpPath = join(vmDir, 'qmp.sock');
    const uefi: string[] = [];
    if (firmware === 'uefi') {
      copyFileSync(OVMF_VARS, join(vmDir, 'vars.fd'));
      uefi.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${join(vmDir, 'vars.fd')}`);
    }
    const t = await bootToPowerOff({ name: `formats-${file}-${process.pid}`, args: [...uefi, ...attach(out(file))], qmpPath, hostname: NAME, ...(firmware === 'bios' ? { loader: /SYSLINUX \d/ } : {}) });
    process.stdout.write(`formats: ${file} (${firmware}) boot complete after ${t.bootMs} ms (${t.sinceKernelMs} ms after kernel start), TCG\n`);
  }, 600_000);
});

describe('keel run', () => {
  // Both of amd64's machines, each with the driver of the disk controller it always has held on keel run's word.
  it.each([
    { file: `${NAME}.vmdk`, args: ['--machine=pc'], firmware: 'BIOS', machine: 'pc', kind: 'IDE', driver: 'ata_piix' },
    { file: `${NAME}-efi.qcow2`, args: [], firmware: 'UEFI[^,]*', machine: 'q35', kind: 'SATA', driver: 'ahci' },
  ])('boots $file on the $machine machine ($driver held), serves the control channel (keel --vm NAME ps), and powers off on SIGTERM', async ({ file, args, firmware, machine, kind, driver }) => {
    const vm = bootVm(out(file), join(dir, `run-qmp-${machine}.sock`), [], 1024, args);
    try {
      await vm.waitFor(new RegExp(`keel run: booting \\S+ as VM \\S+ with TCG.*, ${firmware}, amd64, ${machine} machine, `), 60_000);
      await vm.waitFor(/keel: service idle running/, 420_000);
      expect(vm.screen()).toMatch(new RegExp(`keel: loaded \\d+ kernel module\\(s\\)[^\\r\\n]*; ${driver} loads after boot: keel run attached no drive to the ${kind} controller`));
      const ps = await vm.keel('ps');
      expect(ps.status, ps.stderr).toBe(0);
      expect(ps.stdout).toMatch(/^idle\s+(ready|running)\s+\d+/m);
      vm.signal('SIGTERM');
      expect(await vm.exited).toBe(0);
      expect(vm.screen()).toMatch(/keel: poweroff now \(shutdown took \d+ ms\)/);
    } finally {
      vm.stop();
    }
  }, 600_000);
});
