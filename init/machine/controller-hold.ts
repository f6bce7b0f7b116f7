// keel run's word that the disk controller its machine always has is empty.
// qemu's q35 machine always has an AHCI (SATA) controller, and its pc machine
// a PIIX IDE controller, so their drivers (ahci, ata_piix, with libata and
// the SCSI core under them) are always there to load by device, and loading
// one probes all its ports, asynchronously: under TCG the IDE probe took
// 0.6-0.9 s of the way from keel-init's first line to the first container,
// most of it CPU taken from what boot was doing beside it. Nothing can tell
// an empty controller from outside but that probe. keel run, which made the
// machine, knows when it put no drive there and says so in fw_cfg
// (FW_CFG_EMPTY_CONTROLLER, naming the controller's kind); that kind's driver
// then waits until boot is complete, as a driver whose device is absent does.
// The word is read once qemu_fw_cfg is in, so these drivers wait for that
// module (tens of ms) on a machine that has fw_cfg; on one without (another
// hypervisor) they load as any other driver.
import { readFileSync } from 'node:fs';
import { CONTROLLER_DRIVERS, FW_CFG_EMPTY_CONTROLLER, type ControllerKind } from '../../model/layout.js';
import type { DriverHold } from './modules.js';

const isKind = (word: string): word is ControllerKind => Object.hasOwn(CONTROLLER_DRIVERS, word);

export const CONTROLLER_HOLD: DriverHold = {
  drivers: Object.values(CONTROLLER_DRIVERS),
  until: 'qemu_fw_cfg',
  empty: (sysRoot) => {
    let word: string;
    try {
      word = readFileSync(`${sysRoot}/firmware/qemu_fw_cfg/by_name/${FW_CFG_EMPTY_CONTROLLER}/raw`, 'utf8').trim();
    } catch {
      return undefined; // no fw_cfg, or keel run did not say (it attached a drive there, or did not make this machine)
    }
    return isKind(word) ? { driver: CONTROLLER_DRIVERS[word], why: `keel run attached no drive to the ${word} controller` } : undefined;
  },
};
