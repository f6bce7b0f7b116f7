// The instance-data stage (machine mode, before onboot): the data the host or
// the cloud handed this machine (init/machine/instance-data.ts) written to
// /run/config for containers to bind. /run/config always exists, so a bind
// of it works whether or not data was given. A hostname in the data wins
// over the manifest's, as LinuxKit's metadata package makes it.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INSTANCE_CONFIG_DIR } from '../../model/layout.js';
import { findConfigDrives, readConfigDrive, readFwCfg, writeInstanceConfig, type InstanceData } from '../machine/instance-data.js';
import { setHostname } from '../machine/setup.js';
import type { BootBase } from './context.js';

function find(ctx: BootBase): InstanceData | undefined {
  const fromFwCfg = readFwCfg();
  if (fromFwCfg) return fromFwCfg;
  for (const drive of findConfigDrives()) {
    const data = readConfigDrive(ctx.sys, drive, join(ctx.paths.dir, 'config-drive'));
    if (data) return data;
  }
  return undefined;
}

export function instanceDataStage(ctx: BootBase): object {
  const { bus, machine, sys } = ctx;
  if (!machine) return {}; // a development host's /run/config is not keel's to write
  mkdirSync(INSTANCE_CONFIG_DIR, { recursive: true, mode: 0o755 });
  let data: InstanceData | undefined;
  try {
    data = find(ctx);
  } catch (err) {
    bus.emit({ kind: 'instance.data', level: 'warn', message: `instance data could not be read: ${(err as Error).message}` });
    return {};
  }
  if (!data) {
    bus.emit({ kind: 'instance.data', level: 'debug', message: 'no instance data (no fw_cfg entry, no config drive)' });
    return {};
  }
  const { files, problems } = writeInstanceConfig(INSTANCE_CONFIG_DIR, data);
  const made = files.length ? `; from its JSON: ${files.join(', ')}` : '';
  bus.emit({ kind: 'instance.data', message: `instance data: ${data.userdata.length} bytes from ${data.provider} in ${INSTANCE_CONFIG_DIR}/userdata${made}`, provider: data.provider, files });
  for (const p of problems) bus.emit({ kind: 'instance.data', level: 'warn', message: `instance data: ${p}` });
  const hostname = join(INSTANCE_CONFIG_DIR, 'hostname');
  if (existsSync(hostname)) setHostname(sys, readFileSync(hostname, 'utf8').trim() || undefined, (e) => bus.emit(e));
  return {};
}
