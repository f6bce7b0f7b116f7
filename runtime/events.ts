// The shape of the events the runtime reports. It matches the event bus's
// input (services/events.ts) without importing it: runtime/ stays below services/.
export interface RuntimeEvent {
  kind: string;
  level?: 'info' | 'warn' | 'error';
  message: string;
  [field: string]: unknown;
}
