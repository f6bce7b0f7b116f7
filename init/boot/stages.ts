// Boot as declared stages over a context that only grows: each stage gets
// what the stages before it produced and returns what it adds. Each stage's
// name and duration go to the log and the boot report. A stage that cannot
// let boot go on throws BootStopped after saying why (the emergency state);
// the stages after it do not run, and keel stays up.

/** Thrown by a stage that has reported why boot cannot go on. */
export class BootStopped extends Error {
  override name = 'BootStopped';
}

export interface StageObserver {
  /** A stage ended (its additions taken, or boot stopped in it) after `ms`. */
  ended(name: string, ms: number): void;
  /** A stage threw something other than BootStopped: boot stops there too. */
  failed(name: string, err: Error): void;
}

export class Stages<C extends object> {
  private constructor(
    private readonly ctx: Promise<C | undefined>,
    private readonly observer: StageObserver,
  ) {}

  static from<C extends object>(ctx: C, observer: StageObserver): Stages<C> {
    return new Stages(Promise.resolve(ctx), observer);
  }

  then<A extends object>(name: string, run: (ctx: C) => A | Promise<A>): Stages<C & A> {
    const next = this.ctx.then(async (c): Promise<(C & A) | undefined> => {
      if (c === undefined) return undefined;
      const t0 = performance.now();
      try {
        const added = await run(c);
        return { ...c, ...added };
      } catch (err) {
        if (!(err instanceof BootStopped)) this.observer.failed(name, err instanceof Error ? err : new Error(String(err)));
        return undefined;
      } finally {
        this.observer.ended(name, Math.round(performance.now() - t0));
      }
    });
    return new Stages(next, this.observer);
  }

  /** The final context, or undefined when a stage stopped boot. */
  done(): Promise<C | undefined> {
    return this.ctx;
  }
}
