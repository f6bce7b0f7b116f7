// Whether keel-init is a container image's init, and that mode's default
// manifest: decided before the first line, so kept apart from the rest of
// container.ts (the manifest reader and the supervisor under it load later).
import { existsSync } from 'node:fs';
import { IMAGE_MANIFEST } from '../../model/layout.js';
import type { InitArgs } from '../core/args.js';

/** Where a container image keeps its keel.yml. */
export const CONTAINER_MANIFEST = '/etc/keel/keel.yml';

/** PID 1 with /proc mounted, in a container a Docker or Podman engine made. */
export function isContainerInit(isPid1: boolean): boolean {
  return isPid1 && existsSync('/proc/self') && (existsSync('/.dockerenv') || existsSync('/run/.containerenv'));
}

/** Without --manifest: /etc/keel/keel.yml, else the manifest.json keel build writes. */
export function containerDefaults(args: InitArgs): void {
  if (!args.manifestSet && (existsSync(CONTAINER_MANIFEST) || !existsSync(IMAGE_MANIFEST))) args.manifest = CONTAINER_MANIFEST;
}
