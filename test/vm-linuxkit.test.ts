// LinuxKit's constructs in a real boot of the pinned Debian kernel: link
// kinds made for containers where LinuxKit makes them (wireguard, bridge,
// dummy, veth, a vlan made in the root namespace and moved in), a runtime
// mount at a relative destination, the same onboot name twice, and the
// manifest written into the image by files[].metadata.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireDist } from './helpers/keel-ns.js';
import { busyboxRootfs } from './helpers/rootfs.js';
import { bootVm, keelBuild } from './helpers/vm.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-vm-lk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MANIFEST = `kernel:
  cmdline: "console=ttyS0 quiet"
onboot:
  - name: parent
    image: ./rootfs
    net: host
    capabilities.add: [CAP_NET_ADMIN]
    command: [/bin/ip, link, add, lkparent, type, dummy]
  - name: links
    image: ./rootfs
    net: new
    command:
      - /bin/sh
      - -c
      - |
        ip -o link show | sed 's/@[^:]*//' | awk '{print "link", $2}'
        grep vlan10 /proc/net/vlan/config | tr -s ' '
    runtime:
      interfaces:
        - {name: wg0, add: wireguard}
        - {name: wgroot, add: wireguard, createInRoot: true}
        - {name: br0, add: bridge}
        - {name: d0, add: dummy}
        - {name: vin, peer: vout}
        - {name: vlan10, add: vlan, createInRoot: true, link: lkparent, options: [id, "10"]}
  - name: step
    image: ./rootfs
    command: [/bin/echo, first step]
  - name: step
    image: ./rootfs
    command:
      - /bin/sh
      - -c
      - |
        grep ' /scratch ' /proc/mounts | cut -d' ' -f1,3
        head -3 /host-etc/linuxkit-config
    binds: ["/etc:/host-etc:ro"]
    runtime:
      mounts:
        - {type: tmpfs, source: tmpfs, destination: scratch}
files:
  - path: etc/linuxkit-config
    metadata: yaml
`;

describe('LinuxKit constructs in a VM', () => {
  it('makes each link kind for its container, mounts at a relative destination, runs a name twice, and carries its own manifest', async () => {
    requireDist();
    busyboxRootfs(join(dir, 'rootfs'));
    writeFileSync(join(dir, 'lkvm.yml'), MANIFEST);
    expect(keelBuild(join(dir, 'lkvm.yml'), dir)).toMatch(/built lkvm/);
    const vm = bootVm(join(dir, 'lkvm'), join(dir, 'qmp.sock'));
    try {
      await vm.waitFor(/keel: boot complete \d+ ms after kernel start/, 300_000);
      const s = vm.screen();
      expect(s).toMatch(/keel: onboot links exited 0/);
      for (const link of ['wg0', 'wgroot', 'br0', 'd0', 'vin', 'vlan10']) expect(s).toMatch(new RegExp(`links \\| link ${link}:`));
      expect(s).toMatch(/links \| vlan10 \| 10 \| lkparent/);
      expect(s).toMatch(/step \| first step/);
      expect(s).toMatch(/step \| tmpfs tmpfs/);
      expect(s).toMatch(/step \| kernel:/);
      expect(s).toMatch(/keel: onboot: 4 ran, 0 failed/);
      const qmp = await vm.qmp();
      await qmp.command('system_powerdown');
      qmp.close();
      expect(await vm.exited).toBe(0);
    } finally {
      vm.stop();
    }
  }, 420_000);
});
