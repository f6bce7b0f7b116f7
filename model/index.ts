export { emptyManifest, fieldLocator, loadManifest, parseManifest, readManifestText, normalizedJson, jsonSchema, ManifestError, formatProblem, MANIFEST_FORMAT, MAX_MANIFEST_BYTES, MAX_YAML_BYTES } from './load.js';
export type { ManifestProblem } from './load.js';
export type { Manifest, FileEntry, KernelSpec, ContainerEntry, ContainerBase, ImageLabel } from './manifest.js';
export { parseDuration, formatDuration } from './duration.js';
export { findCycle, waitersOf } from './service.js';
export { manifestWarnings, replacedByKeel, type ManifestWarning } from './warnings.js';
export { LINK_MODULES, linkKind } from './link-kinds.js';
export type { ServiceEntry, Dependency } from './service.js';
export { formatRestart, type RestartPolicy, type Bind, type Tmpfs, type Rlimit } from './strings.js';
