// The parts of the OCI runtime spec (config.json) that keel writes.
import type { SeccompProfile } from '../model/seccomp.js';

export type OciSeccomp = SeccompProfile;

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[]; inheritable: string[]; ambient: string[] };
    rlimits: Array<{ type: string; soft: number; hard: number }>;
    noNewPrivileges: boolean;
    oomScoreAdj?: number;
  };
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations: Record<string, string>;
  linux: {
    namespaces: Array<{ type: string; path?: string }>;
    uidMappings?: Array<{ containerID: number; hostID: number; size: number }>;
    gidMappings?: Array<{ containerID: number; hostID: number; size: number }>;
    sysctl: Record<string, string>;
    resources: Record<string, unknown>;
    cgroupsPath: string;
    devices: Array<Record<string, unknown>>;
    maskedPaths: string[];
    readonlyPaths: string[];
    rootfsPropagation?: string;
    seccomp?: OciSeccomp;
  };
}

/** LinuxKit's `runtime:` section: what keel does on the host around a container's start. */
export interface RuntimeConfig {
  mkdir: string[];
  mounts: OciMount[];
  cgroups: string[];
  interfaces: Array<{ name?: string; add?: string; peer?: string; createInRoot: boolean; link?: string; options?: string[] }>;
  bindNS: Partial<Record<'cgroup' | 'ipc' | 'mnt' | 'net' | 'pid' | 'user' | 'uts', string>>;
}
