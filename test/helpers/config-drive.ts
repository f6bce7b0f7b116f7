// A config drive as cloud-init's and OpenStack's tools make one: an ISO 9660
// image with Joliet and Rock Ridge names, told by its volume label.
import { spawnXorriso } from '../../pkg/image/xorriso.js';

/** Writes `src`'s files to the ISO `out` labelled `label`; returns xorriso's status and stderr. */
export function configDriveIso(src: string, label: string, out: string): { status: number | null; stderr: string } {
  const { result } = spawnXorriso('xorriso', ['-as', 'mkisofs', '-quiet', '-o', out, '-V', label, '-J', '-r', src], out);
  return { status: result.status, stderr: result.stderr };
}
