export { loadManifest, parseManifest, normalizedJson, jsonSchema, ManifestError, formatProblem, MANIFEST_FORMAT } from './load.js';
export type { ManifestProblem } from './load.js';
export type { Manifest, FileEntry, KernelSpec, ContainerEntry, ContainerBase, ImageLabel } from './manifest.js';
export { parseDuration, formatDuration } from './duration.js';
export { parseRestart, dependenciesOf, findCycle } from './service.js';
export type { ServiceEntry, RestartPolicy, Dependency } from './service.js';
