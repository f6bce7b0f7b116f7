// keel run's side of the disk and EFI formats: each built file is
// recognised by its contents, gets the firmware it boots with, and yields
// the kernel and initrd keel build put in it; the qemu arguments boot it
// from a read-only disk after the data disks. The boots themselves are in
// test/vm-formats.test.ts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeIsoBios } from '../image/iso.js';
import { writeBootOutputs } from '../image/outputs.js';
import { bootFacts } from './boot-facts.js';
import { findImage, recognise, type DiskImage } from './image.js';
import { initrdMemoryMb } from './memory.js';
import { qemuArgs, type RunOptions } from './qemu.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-boot-facts-'));
const kernel = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 13) & 0xff));
const initrd = gzipSync(Buffer.alloc(30 << 20)); // unpacks to 30 MiB
const memoryMb = initrdMemoryMb(initrd);
const cache = join(dir, 'cache');

beforeAll(async () => {
  process.env.KEEL_CACHE = cache;
  const formats = ['iso-efi', 'raw-bios', 'raw-efi', 'qcow2-bios', 'qcow2-efi', 'vhd', 'vhdx', 'vmdk', 'aws'] as const;
  await writeBootOutputs(formats, { name: 'os', outDir: dir, payload: { kernel, initrd, cmdline: 'quiet' } });
  writeFileSync(join(dir, 'k'), kernel);
  writeFileSync(join(dir, 'i'), initrd);
  writeIsoBios({ kernel: join(dir, 'k'), initrd: join(dir, 'i'), cmdline: 'quiet', out: join(dir, 'os.iso') });
}, 120_000);
afterAll(() => {
  delete process.env.KEEL_CACHE;
  rmSync(dir, { recursive: true, force: true });
});

describe('keel run with a built disk or ISO', () => {
  it.each([
    ['os-bios.img', 'raw', 'bios'],
    ['os.raw', 'raw', 'bios'],
    ['os-efi.img', 'raw', 'uefi'],
    ['os.qcow2', 'qcow2', 'bios'],
    ['os-efi.qcow2', 'qcow2', 'uefi'],
    ['os.vhd', 'vpc', 'bios'],
    ['os.vhdx', 'vhdx', 'uefi'],
    ['os.vmdk', 'vmdk', 'bios'],
  ])('%s is a %s disk that boots with %s, holding the kernel and initrd keel build put in', (file, driver, firmware) => {
    const image = findImage(join(dir, file));
    expect(image).toMatchObject({ format: 'disk', driver, path: join(dir, file) });
    const facts = bootFacts(image, false);
    expect(facts.firmware).toBe(firmware);
    expect(readFileSync(facts.kernel).equals(kernel)).toBe(true);
    expect(facts.memoryMb).toBe(memoryMb);
  });

  it('knows a fixed VHD by its footer, though it starts like a raw disk', () => {
    expect(recognise(join(dir, 'os.vhd'))).toMatchObject({ driver: 'vpc', fixedVhd: true });
  });

  it('boots an iso-efi with UEFI and an iso-bios with the BIOS, unless --uefi says otherwise', () => {
    const efi = bootFacts(findImage(join(dir, 'os-efi.iso')), false);
    expect(efi).toMatchObject({ firmware: 'uefi', why: 'UEFI (the ISO boots only with UEFI)', memoryMb });
    expect(readFileSync(efi.kernel).equals(kernel)).toBe(true);
    expect(bootFacts(findImage(join(dir, 'os.iso')), false)).toMatchObject({ firmware: 'bios', memoryMb });
    expect(() => bootFacts(findImage(join(dir, 'os.iso')), true)).toThrow(/boots only with a BIOS; leave --uefi out/);
    expect(bootFacts(findImage(join(dir, 'os-efi.img')), true)).toMatchObject({ firmware: 'uefi', why: 'UEFI (asked for)' });
    expect(() => bootFacts(findImage(join(dir, 'os-bios.img')), true)).toThrow(/has no \/EFI\/BOOT\/BOOTX64.EFI, so UEFI cannot boot it \(a BIOS image boots without --uefi\)/);
  });

  it('refuses a file that is no image, saying what it looked for', () => {
    writeFileSync(join(dir, 'notes.txt'), 'hello\n');
    expect(() => findImage(join(dir, 'notes.txt'))).toThrow(/is not an image keel run boots: not an ISO, and not a disk/);
  });

  it('attaches the image read-only after the data disks, with UEFI firmware when it needs it', () => {
    const image = findImage(join(dir, 'os-efi.qcow2')) as DiskImage;
    const opts: RunOptions = { memMb: 512, cpus: 1, accel: 'tcg', noReboot: true, arch: 'amd64', disks: [{ path: '/data.img', format: 'raw' }] };
    const args = qemuArgs(image, opts, 'tcg', undefined, { code: '/fw/code.fd', vars: '/vm/efivars.fd' }).join(' ');
    expect(args).toContain('-drive if=pflash,format=raw,unit=0,readonly=on,file=/fw/code.fd -drive if=pflash,format=raw,unit=1,file=/vm/efivars.fd');
    const data = args.indexOf('file=/data.img');
    const boot = args.indexOf(`if=none,id=keelboot,file=${image.path},format=qcow2,snapshot=on`);
    expect(data).toBeGreaterThan(0);
    expect(boot).toBeGreaterThan(data); // the data disk stays /dev/vda
    expect(args).toContain('virtio-blk-pci,drive=keelboot,bootindex=0');
    expect(args).not.toContain('-kernel');
    expect(qemuArgs(image, opts, 'tcg').join(' ')).not.toContain('pflash');
    // Every disk is virtio, the firmware is pflash and the data fw_cfg: nothing on the machine's disk controller, and keel run says so.
    expect(args).toContain('-fw_cfg name=opt/org.keel/empty-controller,string=SATA');
    expect(qemuArgs(image, { ...opts, machine: 'pc' as const }, 'tcg', undefined, undefined, '/vm/userdata').join(' ')).toContain('-fw_cfg name=opt/org.keel/empty-controller,string=IDE');
  });
});
