// sd_notify: a service with `notify: true` gets a datagram socket of its own,
// bound into its container as $NOTIFY_SOCKET. READY=1 marks it ready,
// WATCHDOG=1 feeds its watchdog, STATUS= is shown by keel inspect.

export const NOTIFY_PATH_IN_CONTAINER = '/run/notify.sock';

export interface NotifySocket {
  /** The socket on the host, to bind into the container. */
  path: string;
  close(): void;
}

/** Opens one notify socket per service; the init provides it (it needs the native addon). */
export interface NotifyHub {
  open(service: string, onMessage: (fields: Map<string, string>) => void): NotifySocket;
}

/** "READY=1\nSTATUS=up" → {READY: "1", STATUS: "up"}; malformed lines are ignored. */
export function parseNotify(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}
