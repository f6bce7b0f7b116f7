export { loadManifest, parseManifest, normalizedJson, jsonSchema, ManifestError, formatProblem, MANIFEST_FORMAT } from './load.js';
export type { ManifestProblem } from './load.js';
export type { Manifest, FileEntry, KernelSpec, ContainerEntry, ImageLabel } from './manifest.js';
export { parseDuration, formatDuration } from './duration.js';
