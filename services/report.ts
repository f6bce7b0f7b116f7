// What a service reports about itself: the record of each exit, and the
// summaries `keel ps` and `keel inspect` show. The control API sends these
// as they are (api/wire.ts).
import type { Outcome } from '../runtime/outcome.js';
import type { ServiceState } from './states.js';

export type Health = 'unknown' | 'healthy' | 'unhealthy';

/** One exit of one attempt: how it ended, when, and the last lines it wrote. */
export interface ExitRecord extends Outcome {
  attempt: number;
  startedAt: number;
  exitedAt: number;
  runMs: number;
  logTail: string[];
}

/** What `keel ps` lists for a service (GET /v1/services). */
export interface ServiceSummary {
  name: string;
  state: ServiceState;
  reason: string;
  pid: number | undefined;
  health: Health | undefined;
  status: string | undefined;
  attempt: number;
  restarts: number;
  startedAt: number | undefined;
  readyAt: number | undefined;
  nextRetryAt: number | undefined;
  restart: string;
  /** Forks the running container had refused at its pids limit (undefined when none runs). */
  pidsLimitHits: number | undefined;
  lastExit: Pick<ExitRecord, 'code' | 'signal' | 'oomKilled' | 'error' | 'exitedAt' | 'runMs'> | undefined;
}

/** What `keel inspect` shows (GET /v1/services/NAME). */
export interface ServiceDetail extends ServiceSummary {
  exits: ExitRecord[];
  droppedLogLines: number;
  config: unknown;
}
