// keel run's word that the IDE controller is empty. qemu's pc machine always
// has a PIIX IDE controller, so its driver (ata_piix, with libata, scsi_mod
// and scsi_common under it) is always there to load by device, and loading
// it probes both ports, asynchronously: under TCG that took 0.6-0.9 s of the
// way from keel-init's first line to the first container, most of it CPU
// taken from what boot was doing beside it. Nothing can tell an empty
// controller from outside but that probe. keel run, which made the machine,
// knows when it put no drive there and says so in fw_cfg (FW_CFG_IDE); the
// driver then waits until boot is complete, as a driver whose device is
// absent does. The word is read once qemu_fw_cfg is in, so the driver waits
// for that module (tens of ms) on a machine that has fw_cfg; on one without
// (another hypervisor) it loads as any other driver.
import { readFileSync } from 'node:fs';
import { FW_CFG_IDE, FW_CFG_IDE_EMPTY } from '../../model/layout.js';
import type { DriverHold } from './modules.js';

export const IDE_HOLD: DriverHold = {
  driver: 'ata_piix',
  until: 'qemu_fw_cfg',
  empty: (sysRoot) => {
    let word: string;
    try {
      word = readFileSync(`${sysRoot}/firmware/qemu_fw_cfg/by_name/${FW_CFG_IDE}/raw`, 'utf8').trim();
    } catch {
      return undefined; // no fw_cfg, or keel run did not say (it attached a drive there, or did not make this machine)
    }
    return word === FW_CFG_IDE_EMPTY ? 'keel run attached no drive to the IDE controller' : undefined;
  },
};
