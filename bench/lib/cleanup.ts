// Cleanups that run on every path out of a benchmark: success, failure, ctrl-c.
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const cleanups: Array<() => void | Promise<void>> = [];

/** Registers a cleanup; the function returned runs it now (once) and forgets it. */
export function track(fn: () => void | Promise<void>): () => Promise<void> {
  cleanups.push(fn);
  return async () => {
    const i = cleanups.indexOf(fn);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await fn();
  };
}

/** Runs every registered cleanup, newest first; one failing does not stop the rest. */
export async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const c = cleanups.pop()!;
    try {
      await c();
    } catch (err) {
      console.error(`cleanup: ${(err as Error).message}`);
    }
  }
}

/** Runs `main`, then the cleanups, and exits; ctrl-c and SIGTERM clean up too. */
export function runBench(main: () => Promise<void>, onError?: () => void): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`\n${sig}: cleaning up`);
      void runCleanups().then(() => process.exit(130));
    });
  }
  main().then(
    async () => {
      await runCleanups();
      process.exit(0);
    },
    async (err: unknown) => {
      console.error(err instanceof Error ? err.stack : String(err));
      onError?.();
      await runCleanups();
      process.exit(1);
    },
  );
}
