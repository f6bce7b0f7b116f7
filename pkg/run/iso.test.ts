// keel run's side of iso-bios: which file it boots, the qemu arguments, and
// the kernel and initrd it reads back out of the ISO.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { writeIsoBios } from '../image/iso.js';
import { minimumMemoryMb } from './memory.js';
import { findImage, qemuArgs, type RunOptions } from './qemu.js';
import { isoInitrd, isoProbeKernel } from './iso.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-run-iso-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// amd64 (serial console ttyS0, the q35 machine unless --machine pc) whatever the host's architecture.
const opts: RunOptions = { memMb: 512, cpus: 1, accel: 'tcg', noReboot: true, arch: 'amd64' };

describe('keel run with an iso-bios image', () => {
  const kernel = join(dir, 'k');
  const initrd = join(dir, 'i');
  writeFileSync(kernel, Buffer.alloc(123_457, 0x6b));
  writeFileSync(initrd, gzipSync(Buffer.alloc(40 << 20))); // 40 MiB unpacked
  writeIsoBios({ kernel, initrd, cmdline: 'quiet', out: join(dir, 'os.iso') });

  it('boots NAME.iso, or NAME when only NAME.iso exists, from the CD drive', () => {
    for (const target of [join(dir, 'os.iso'), join(dir, 'os')]) {
      const image = findImage(target);
      expect(image).toEqual({ format: 'iso', name: target, iso: join(dir, 'os.iso') });
      const args = qemuArgs(image, opts, 'tcg');
      expect(args.join(' ')).toContain(`-cdrom ${join(dir, 'os.iso')} -boot order=d`);
      expect(args).not.toContain('-kernel');
      expect(args).not.toContain('-append');
      // The ISO is a drive on the machine's disk controller (q35: SATA; pc: IDE): keel run does not say it is empty.
      for (const machine of ['q35', 'pc'] as const) expect(qemuArgs(image, { ...opts, machine }, 'tcg').join(' ')).not.toContain('opt/org.keel/empty-controller');
    }
  });

  it('still prefers NAME-kernel and NAME-initrd.img, with console=ttyS0 added', () => {
    writeFileSync(join(dir, 'os-kernel'), 'k');
    writeFileSync(join(dir, 'os-initrd.img'), 'i');
    writeFileSync(join(dir, 'os-cmdline'), 'quiet\n');
    const image = findImage(join(dir, 'os'));
    expect(image.format).toBe('kernel+initrd');
    expect(qemuArgs(image, opts, 'tcg').join(' ')).toContain(`-kernel ${join(dir, 'os-kernel')} -initrd ${join(dir, 'os-initrd.img')} -append quiet console=ttyS0`);
  });

  it('boots amd64 on q35 unless --machine pc, and says when the machine\'s disk controller is empty', () => {
    for (const f of ['kernel', 'initrd.img']) writeFileSync(join(dir, `os-${f}`), f);
    const image = findImage(join(dir, 'os'));
    // amd64 boots on q35, as LinuxKit's runner does, and --machine pc on pc. Nothing sits on the disk controller each
    // always has (SATA, IDE), and keel run says so (init/machine/controller-hold.ts); not with hand-given qemu
    // arguments, which may attach a drive there, nor on arm64's virt machine, which has no such controller.
    expect(qemuArgs(image, opts, 'tcg').slice(0, 3)).toEqual(['-nodefaults', '-M', 'q35']);
    expect(qemuArgs(image, opts, 'tcg').join(' ')).toContain('-fw_cfg name=opt/org.keel/empty-controller,string=SATA');
    const pc = { ...opts, machine: 'pc' as const };
    expect(qemuArgs(image, pc, 'tcg').slice(0, 3)).toEqual(['-nodefaults', '-M', 'pc']);
    expect(qemuArgs(image, pc, 'tcg').join(' ')).toContain('-fw_cfg name=opt/org.keel/empty-controller,string=IDE');
    expect(qemuArgs(image, { ...pc, extraArgs: ['-hda', 'disk.img'] }, 'tcg').join(' ')).not.toContain('opt/org.keel/empty-controller');
    expect(qemuArgs(image, { ...opts, extraArgs: ['-cdrom', 'seed.iso'] }, 'tcg').join(' ')).not.toContain('opt/org.keel/empty-controller');
    expect(qemuArgs(image, { ...opts, arch: 'arm64' }, 'tcg').join(' ')).not.toContain('opt/org.keel/empty-controller');
    expect(qemuArgs(image, { ...opts, arch: 'arm64' }, 'tcg').slice(0, 3)).toEqual(['-nodefaults', '-M', 'virt']);
  });

  it('reads the memory the initrd needs and the kernel for the KVM probe out of the ISO', () => {
    const iso = join(dir, 'os.iso');
    expect(minimumMemoryMb(iso, isoInitrd(iso))).toBe(minimumMemoryMb(initrd));
    process.env.KEEL_CACHE = join(dir, 'cache');
    try {
      const probe = isoProbeKernel(iso);
      expect(readFileSync(probe).equals(readFileSync(kernel))).toBe(true);
      writeIsoBios({ kernel, initrd, cmdline: 'other', out: join(dir, 'rebuilt.iso'), epoch: 12345 });
      expect(isoProbeKernel(join(dir, 'rebuilt.iso'))).toBe(probe); // the same kernel: one copy, one probe result
    } finally {
      delete process.env.KEEL_CACHE;
    }
  });

  it('says when a file is not an iso-bios image', () => {
    writeFileSync(join(dir, 'fake.iso'), Buffer.alloc(40_000));
    expect(() => isoInitrd(join(dir, 'fake.iso'))).toThrow(/is not an ISO 9660 image/);
  });
});
