// The NotifyHub of services/notify.ts, on the native addon's datagram sockets.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { statePaths } from '../../model/layout.js';
import { parseNotify, type NotifyHub } from '../../services/notify.js';
import type { Sys } from './sys.js';

export function notifyHub(sys: Sys, stateDir: string): NotifyHub {
  const handlers = new Map<number, (fields: Map<string, string>) => void>();
  let started = false;
  // 0700: the sockets are reachable only where they are bound into a container.
  const dir = statePaths(stateDir).notify;
  return {
    open(service, onMessage) {
      if (!started) {
        sys.notifyStart((id, message) => handlers.get(id)?.(parseNotify(message)));
        started = true;
      }
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const path = join(dir, `${service}.sock`);
      const id = sys.notifyOpen(path);
      handlers.set(id, onMessage);
      return {
        path,
        close() {
          handlers.delete(id);
          sys.notifyClose(id);
          rmSync(path, { force: true });
        },
      };
    },
  };
}
