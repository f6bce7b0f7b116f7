// The one engine supervision sees: each entry goes to the engine of its
// kind, runc for containers and keel's own fork for processes. A manifest of
// process entries only needs no runc: without one, a container entry fails
// to plan, saying why.
import type { ContainerEngine, ContainerPlan, OutputSink, PlanRequest, RunningContainer, StartOptions } from './engine.js';

interface KindPlan extends ContainerPlan {
  readonly inner: ContainerPlan;
  readonly engine: ContainerEngine;
}

export class EntryEngine implements ContainerEngine<KindPlan> {
  constructor(
    private readonly process: ContainerEngine,
    /** The runc engine, or why there is none (runc missing). */
    private readonly container: ContainerEngine | { missing: string },
  ) {}

  plan(request: PlanRequest): KindPlan {
    const engine = request.entry.kind === 'process' ? this.process : this.container;
    if ('missing' in engine) throw new Error(`${request.entry.name} is a container, and ${engine.missing}`);
    const inner = engine.plan(request);
    return { id: inner.id, name: inner.name, inner, engine };
  }

  start(plan: KindPlan, output: OutputSink, opts?: StartOptions): Promise<RunningContainer> {
    return plan.engine.start(plan.inner, output, opts);
  }
}
