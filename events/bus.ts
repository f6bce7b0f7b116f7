// The event bus: every state change in keel is one event here. The console,
// the JSON log, and the control API's event stream all read the same
// events, so what an operator sees and what a script reads never disagree.

/** debug events go to the log only, not to the console. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface KeelEventInput {
  /** What happened, dotted: "boot.complete", "onboot.exited", "shutdown.step". */
  kind: string;
  level?: Level;
  /** One readable line for people (the console); the fields carry the data. */
  message: string;
  [field: string]: unknown;
}

export interface KeelEvent extends KeelEventInput {
  id: number;
  /** Milliseconds since the epoch. */
  time: number;
  level: Level;
}

export type Listener = (event: KeelEvent) => void;

export class EventBus {
  private nextId = 1;
  private readonly listeners = new Set<Listener>();
  private readonly recent: KeelEvent[] = [];

  /** @param keep how many recent events to keep for late subscribers */
  constructor(private readonly keep = 1000) {}

  emit(input: KeelEventInput): KeelEvent {
    const event: KeelEvent = { ...input, id: this.nextId++, time: Date.now(), level: input.level ?? 'info' };
    this.recent.push(event);
    if (this.recent.length > this.keep) this.recent.shift();
    for (const listener of this.listeners) {
      // A listener that throws must not stop the others or the emitter.
      try {
        listener(event);
      } catch {
        /* contained: listeners report their own failures */
      }
    }
    return event;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after `id` that are still kept, oldest first. */
  since(id: number): KeelEvent[] {
    return this.recent.filter((e) => e.id > id);
  }
}
