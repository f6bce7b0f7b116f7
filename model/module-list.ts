// The kernel module list keel build writes into the image (MODULE_LIST) and
// keel-init loads at boot: dependencies first, one module a line, "PATH" then
// a tab before each module (by path, on an earlier line) that must be in the
// kernel before this one can link. The header line says the list names its
// dependencies; a list without it (an older or hand-written one) is loaded
// one module after another, in its order.

export interface ModuleToLoad {
  path: string;
  /** Paths of the modules this one needs; undefined when the list does not say. */
  deps: string[] | undefined;
}

const HEADER = '# keel kernel modules: path, then its dependencies, tab-separated';

export function formatModuleList(modules: ReadonlyArray<{ path: string; deps: readonly string[] }>): string {
  return [HEADER, ...modules.map((m) => [m.path, ...m.deps].join('\t'))].join('\n') + '\n';
}

export function parseModuleList(text: string): ModuleToLoad[] {
  const lines = text.split('\n');
  const named = lines[0] === HEADER;
  return lines
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((line) => {
      const [path, ...deps] = line.split('\t');
      return { path: path!, deps: named ? deps.filter(Boolean) : undefined };
    });
}
