// Instance data as keel-init finds and writes it, on real files: ISO config
// drives made by xorriso (as cloud-init's and OpenStack's tools make them),
// a fw_cfg tree laid out as the kernel's qemu_fw_cfg shows it, and
// /run/config written into a scratch folder.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FW_CFG_USERDATA } from '../../model/layout.js';
import { configDriveIso } from '../../test/helpers/config-drive.js';
import { findConfigDrives, isoLabel, readFwCfg, writeInstanceConfig } from './instance-data.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-instance-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function iso(name: string, label: string, files: Record<string, string>): string {
  const src = join(dir, `${name}-src`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(src, path, '..'), { recursive: true });
    writeFileSync(join(src, path), text);
  }
  const out = join(dir, `${name}.iso`);
  const r = configDriveIso(src, label, out);
  expect(r.status, r.stderr).toBe(0);
  return out;
}

describe('config drives', () => {
  it('are told by their ISO 9660 label, on whatever block device holds them', () => {
    const nocloud = iso('nocloud', 'cidata', { 'user-data': 'hi', 'meta-data': 'instance-id: a' });
    const openstack = iso('openstack', 'config-2', { 'openstack/latest/user_data': 'hi' });
    const other = iso('other', 'DATA', { x: 'y' });
    expect(isoLabel(nocloud)).toBe('cidata');
    expect(isoLabel(openstack)).toBe('config-2');
    writeFileSync(join(dir, 'not-an-iso'), Buffer.alloc(64 * 1024));
    expect(isoLabel(join(dir, 'not-an-iso'))).toBeUndefined();
    expect(isoLabel(join(dir, 'missing'))).toBeUndefined();

    // /sys/class/block names the devices; /dev holds them. Loop devices are never config drives.
    const sys = join(dir, 'sys-block');
    const dev = join(dir, 'dev');
    mkdirSync(sys);
    mkdirSync(dev);
    for (const [name, file] of [['sr0', nocloud], ['vda', other], ['vdb', openstack], ['loop0', nocloud]] as const) {
      mkdirSync(join(sys, name));
      symlinkSync(file, join(dev, name));
    }
    expect(findConfigDrives(sys, dev)).toEqual([
      { device: join(dev, 'sr0'), kind: 'cidata' },
      { device: join(dev, 'vdb'), kind: 'config-2' },
    ]);
  });
});

describe('fw_cfg', () => {
  it("reads keel run's user data where qemu_fw_cfg shows it, and nothing when it is not there", () => {
    const root = join(dir, 'qemu_fw_cfg');
    expect(readFwCfg(root)).toBeUndefined();
    const entry = join(root, 'by_name', FW_CFG_USERDATA);
    mkdirSync(entry, { recursive: true });
    writeFileSync(join(entry, 'raw'), '{"a":{"content":"b"}}');
    writeFileSync(join(entry, 'size'), '21\n');
    expect(readFwCfg(root)).toEqual({ userdata: Buffer.from('{"a":{"content":"b"}}'), provider: `fw_cfg ${FW_CFG_USERDATA}` });
    writeFileSync(join(entry, 'size'), String(64 * 2 ** 20));
    expect(() => readFwCfg(root)).toThrow(/more than/);
  });
});

describe('/run/config', () => {
  it("is LinuxKit's layout: userdata as given, provider, metadata, and JSON user data as files and folders", () => {
    const out = join(dir, 'config-json');
    const userdata = JSON.stringify({
      ssh: { entries: { sshd_config: { perm: '0600', content: 'PermitRootLogin no\n' }, keys: { entries: { a: { content: 'k' } } } } },
      greeting: { content: 'hello' },
      '../escape': { content: 'no' },
      both: { content: 'x', entries: {} },
      bad: { perm: 'rw', content: 'still written' },
      userdata: { content: 'would replace the raw data' },
      list: ['not', 'an', 'entry'],
    });
    const r = writeInstanceConfig(out, { userdata: Buffer.from(userdata), metadata: Buffer.from('instance-id: x\n'), provider: 'cidata /dev/sr0' });
    expect(r.files).toEqual(['ssh/sshd_config', 'ssh/keys/a', 'greeting', 'bad']);
    expect(readFileSync(join(out, 'userdata'), 'utf8')).toBe(userdata);
    expect(readFileSync(join(out, 'provider'), 'utf8')).toBe('cidata /dev/sr0');
    expect(readFileSync(join(out, 'metadata'), 'utf8')).toBe('instance-id: x\n');
    expect(readFileSync(join(out, 'ssh/sshd_config'), 'utf8')).toBe('PermitRootLogin no\n');
    expect(statSync(join(out, 'ssh/sshd_config')).mode & 0o777).toBe(0o600);
    expect(statSync(join(out, 'greeting')).mode & 0o777).toBe(0o644);
    expect(statSync(join(out, 'ssh')).isDirectory()).toBe(true);
    expect(readFileSync(join(out, 'ssh/keys/a'), 'utf8')).toBe('k');
    expect(readdirSync(out).sort()).toEqual(['bad', 'greeting', 'metadata', 'provider', 'ssh', 'userdata']);
    expect(readdirSync(dir)).not.toContain('escape');
    expect(r.problems).toEqual([
      'userdata: a name /run/config keeps for itself; skipped',
      '../escape: not a file name; skipped',
      'both: needs either "content" (a string) or "entries" (an object), not both; skipped',
      'bad: perm "rw" is not an octal mode such as "0644"; using 644',
      'list: expected {"content": …} or {"entries": {…}}; skipped',
    ]);
  });

  it('keeps user data that is not a JSON object as it is, and makes nothing more of it', () => {
    const out = join(dir, 'config-text');
    const r = writeInstanceConfig(out, { userdata: Buffer.from('#cloud-config\nhostname: x\n'), provider: 'fw_cfg x' });
    expect(r).toEqual({ files: [], problems: [] });
    expect(readdirSync(out).sort()).toEqual(['provider', 'userdata']);
    expect(writeInstanceConfig(join(dir, 'config-array'), { userdata: Buffer.from('[1,2]'), provider: 'p' }).files).toEqual([]);
  });
});
