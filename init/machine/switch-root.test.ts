import { describe, expect, it } from 'vitest';
import { rootIsInitramfs, rootWayAsked } from './switch-root.js';

describe('leaving the initramfs', () => {
  it('knows the initial rootfs by being its own parent, so a bind of it moved over / is not taken for it', () => {
    expect(rootIsInitramfs('1 1 0:2 / / rw - rootfs rootfs rw\n20 1 0:21 / /proc rw - proc proc rw\n')).toBe(true);
    // After the move: the bind (of type rootfs) has the hidden rootfs as its parent.
    expect(rootIsInitramfs('25 1 0:2 / / rw - rootfs rootfs rw\n26 25 0:21 / /proc rw - proc proc rw\n')).toBe(false);
    // After the copy: a tmpfs over /.
    expect(rootIsInitramfs('1 1 0:2 / / rw - rootfs rootfs rw\n22 1 0:23 / / rw - tmpfs tmpfs rw\n')).toBe(false);
    expect(rootIsInitramfs('30 29 8:1 / / rw - ext4 /dev/sda1 rw\n')).toBe(false);
  });

  it('moves unless keel.root=copy is on the kernel command line (the last word wins)', () => {
    expect(rootWayAsked('console=ttyS0 quiet')).toBe('move');
    expect(rootWayAsked('console=ttyS0 keel.root=copy quiet')).toBe('copy');
    expect(rootWayAsked('keel.root=copy keel.root=move')).toBe('move');
    expect(rootWayAsked('keel.root=bogus')).toBe('move');
  });
});
