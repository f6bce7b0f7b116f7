// The parts of an image's config that keel uses, from Docker's and OCI's
// image config JSON (the same shape: {config: {Entrypoint, Cmd, Env, WorkingDir, Labels}}).
import type { ImageConfig } from '../../../runtime/oci-spec.js';

interface RawConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
}

export interface RawImageConfig {
  config?: RawConfig | null;
  architecture?: string;
  os?: string;
}

export function imageConfigFrom(raw: RawConfig | null | undefined): ImageConfig {
  const c = raw ?? {};
  return {
    ...(c.Entrypoint?.length ? { entrypoint: c.Entrypoint } : {}),
    ...(c.Cmd?.length ? { cmd: c.Cmd } : {}),
    ...(c.Env?.length ? { env: c.Env } : {}),
    ...(c.WorkingDir ? { workingDir: c.WorkingDir } : {}),
    ...(c.Labels && Object.keys(c.Labels).length ? { labels: c.Labels } : {}),
  };
}
