// keel run --data/--data-file: the instance's data, handed to the guest
// through qemu's fw_cfg as the file opt/org.keel/userdata, which keel-init
// reads at boot (init/machine/instance-data.ts) into /run/config/userdata.
// fw_cfg needs no disk, no CD-ROM driver and no network in the guest: the
// kernel's qemu_fw_cfg module shows it under /sys/firmware/qemu_fw_cfg.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FW_CFG_USERDATA } from '../../model/layout.js';

/** fw_cfg is read a byte at a time by the guest's driver: a config, not a disk image. */
export const MAX_DATA_BYTES = 4 * 2 ** 20;

/** How the data reaches the guest, as keel --vm VM inspect says it. */
export const DATA_VIA = `qemu fw_cfg ${FW_CFG_USERDATA}`;

/** Writes the data beside the VM's sockets (root's only); returns the file. */
export function writeInstanceData(data: Buffer, vmDir: string): string {
  const file = join(vmDir, 'userdata');
  writeFileSync(file, data, { mode: 0o600 });
  return file;
}

/** qemu's arguments that pass the file on. */
export function fwCfgArgs(file: string | undefined): string[] {
  return file === undefined ? [] : ['-fw_cfg', `name=${FW_CFG_USERDATA},file=${file.replace(/,/g, ',,')}`];
}
