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

/** The longest message an event keeps, and the longest text of each of its other fields (a log tail's lines, a stack). */
export const MAX_MESSAGE = 8 * 1024;
export const MAX_FIELD_TEXT = 2 * 1024;

/** Text cut to `max` characters, saying how much was cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** Every event is bounded in size: the bus keeps hundreds, and a container's output can make fields of any length. */
function bounded(input: KeelEventInput): KeelEventInput {
  const out: KeelEventInput = { ...input, message: clip(input.message, MAX_MESSAGE) };
  for (const [k, v] of Object.entries(input)) {
    if (k === 'message') continue;
    if (typeof v === 'string') out[k] = clip(v, MAX_FIELD_TEXT);
    else if (Array.isArray(v)) out[k] = v.slice(-50).map((x: unknown) => (typeof x === 'string' ? clip(x, MAX_FIELD_TEXT) : x));
  }
  return out;
}

export class EventBus {
  private nextId = 1;
  private readonly listeners = new Set<Listener>();
  private readonly recent: KeelEvent[] = [];

  /** @param keep how many recent events to keep for late subscribers */
  constructor(private readonly keep = 1000) {}

  emit(input: KeelEventInput): KeelEvent {
    const event: KeelEvent = { ...bounded(input), id: this.nextId++, time: Date.now(), level: input.level ?? 'info' };
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
