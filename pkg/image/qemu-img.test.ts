// The virtual disk formats with the real qemu-img, and the gcp archive with
// GNU tar: each is what its platform asks for, qemu-img reads it back, and
// two conversions of one disk are the same bytes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { MIB, writeRawDisk } from './disk.js';
import { GCP_DISK_NAME, GCP_DISK_UNIT, writeGcpArchive } from './gcp.js';
import { convertRawDisk, qemuImg, type VirtualDisk } from './qemu-img.js';
import { VHD_FIXED, VHD_FOOTER, vhdFooter } from './vhd.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-qemu-img-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const payload = { kernel: Buffer.alloc(2 << 20, 0x4b), initrd: gzipSync(Buffer.alloc(1 << 20)), cmdline: '' };
const raw = join(dir, 'disk.raw');
mkdirSync(join(dir, 'a'));
mkdirSync(join(dir, 'b'));
const rawBytes = writeRawDisk(raw, payload, { firmware: 'efi' });
const DRIVER: Record<VirtualDisk, string> = { qcow2: 'qcow2', vhd: 'vpc', vhdx: 'vhdx', vmdk: 'vmdk' };

function info(file: string, driver: string): { format: string; 'virtual-size': number; 'format-specific'?: { data?: { 'create-type'?: string } } } {
  return JSON.parse(qemuImg(['info', '--output=json', '-f', driver, file], `read ${file}`)) as ReturnType<typeof info>;
}

describe.each(['qcow2', 'vhd', 'vhdx', 'vmdk'] as const)('%s', (format) => {
  // The same file name in two folders: a VMDK records its own name.
  const a = join(dir, 'a', `disk.${format}`);
  const b = join(dir, 'b', `disk.${format}`);

  it('is read back by qemu-img at the raw disk size, and is the same bytes each time', () => {
    convertRawDisk(raw, a, format, 'seed', 1);
    convertRawDisk(raw, b, format, 'seed', 1);
    expect(info(a, DRIVER[format])).toMatchObject({ format: DRIVER[format], 'virtual-size': rawBytes });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    // Converted back, the disk is the one it was made from.
    const back = join(dir, `back-${format}.raw`);
    qemuImg(['convert', '-f', DRIVER[format], '-O', 'raw', a, back], 'convert back');
    expect(readFileSync(back).equals(readFileSync(raw))).toBe(true);
  });

  if (format !== 'vhd') {
    it('passes qemu-img check', () => {
      const r = spawnSync('qemu-img', ['check', '-f', DRIVER[format], a], { encoding: 'utf8' });
      expect(r.stdout).toContain('No errors were found on the image.');
      expect(r.status).toBe(0);
    });
  }
});

describe('the vmdk', () => {
  it('is the same bytes whatever CID qemu drew (it writes one without leading zeros, and bytes past the text that depend on its length)', () => {
    const small = join(dir, 'small.raw');
    writeFileSync(small, Buffer.alloc(MIB, 0x5a));
    const first = join(dir, 'cid-0', 'disk.vmdk');
    mkdirSync(dirname(first));
    convertRawDisk(small, first, 'vmdk', 'seed', 1);
    const want = readFileSync(first);
    // 128 conversions: a short CID came every 10 to 60 here, so some of these draw one.
    for (let i = 1; i < 128; i++) {
      const again = join(dir, `cid-${i}`, 'disk.vmdk');
      mkdirSync(dirname(again));
      convertRawDisk(small, again, 'vmdk', 'seed', 1);
      expect(readFileSync(again).equals(want), `conversion ${i}`).toBe(true);
      rmSync(dirname(again), { recursive: true });
    }
    expect(want.toString('latin1', 0, 4096)).toMatch(/\nCID=[0-9a-f]{8}\nparentCID=ffffffff\n/);
    expect(spawnSync('qemu-img', ['check', '-f', 'vmdk', first], { encoding: 'utf8' }).status).toBe(0);
  });
});

describe('the vhd', () => {
  it('meets Azure rules: fixed, a whole number of MiB, the footer after the disk, its checksum right', () => {
    const vhd = join(dir, 'a', 'disk.vhd');
    const f = vhdFooter(vhd);
    expect(f.diskType).toBe(VHD_FIXED);
    expect(f.currentSize % MIB).toBe(0);
    expect(statSync(vhd).size).toBe(f.currentSize + VHD_FOOTER);
    expect(f.checksum).toBe(f.computedChecksum);
    expect(readFileSync(vhd).subarray(0, rawBytes).equals(readFileSync(raw))).toBe(true);
  });

  it('takes its id from the seed and its date from the epoch', () => {
    convertRawDisk(raw, join(dir, 'c.vhd'), 'vhd', 'other seed', 1);
    convertRawDisk(raw, join(dir, 'd.vhd'), 'vhd', 'seed', 1_700_000_000);
    const tail = (f: string) => readFileSync(join(dir, f)).subarray(-VHD_FOOTER);
    expect(tail('c.vhd').subarray(68, 84).equals(tail('a/disk.vhd').subarray(68, 84))).toBe(false);
    expect(tail('d.vhd').readUInt32BE(24)).toBe(1_700_000_000 - 946684800);
  });
});

describe('the gcp archive', () => {
  // GNU tar writes the same layout (tar --format=oldgnu --sparse); this one is keel's, read back by GNU tar.
  it('holds exactly disk.raw, a whole number of GiB, and is the same bytes each time', async () => {
    const gcp = join(dir, 'gcp');
    mkdirSync(gcp);
    writeRawDisk(join(gcp, GCP_DISK_NAME), payload, { firmware: 'bios', unit: GCP_DISK_UNIT });
    await writeGcpArchive(gcp, join(dir, 'a.tar.gz'), 1);
    await writeGcpArchive(gcp, join(dir, 'b.tar.gz'), 1);
    expect(readFileSync(join(dir, 'a.tar.gz')).equals(readFileSync(join(dir, 'b.tar.gz')))).toBe(true);
    const list = spawnSync('tar', ['--list', '--verbose', '--numeric-owner', '-zf', join(dir, 'a.tar.gz')], { encoding: 'utf8' });
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^-rw-r--r-- 0/0 +${GCP_DISK_UNIT} .* ${GCP_DISK_NAME}$`));
    expect(statSync(join(dir, 'a.tar.gz')).size).toBeLessThan(16 * MIB); // the empty GiB is stored as holes
    // GNU tar unpacks it to the same disk, holes and all.
    mkdirSync(join(dir, 'unpacked'));
    expect(spawnSync('tar', ['-xzf', join(dir, 'a.tar.gz'), '-C', join(dir, 'unpacked')]).status).toBe(0);
    expect(spawnSync('cmp', [join(gcp, GCP_DISK_NAME), join(dir, 'unpacked', GCP_DISK_NAME)]).status).toBe(0);
  });
});
