// Set by esbuild at bundle time; "dev" when running from source.
declare const __KEEL_VERSION__: string | undefined;
export const VERSION: string = typeof __KEEL_VERSION__ === 'string' ? __KEEL_VERSION__ : 'dev';
