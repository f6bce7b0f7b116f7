// keel --vm VM inspect (without a service name): the VM itself, as keel run
// started it (vm.json in its folder): image, firmware, accelerator, memory,
// CPUs, network and published ports, disks, instance data, sockets.
import { readVmInfo } from '../run/vm-dir.js';
import { out } from './output.js';

export function vmInspect(name: string): number {
  out(JSON.stringify(readVmInfo(name), null, 2));
  return 0;
}
