// The boot plan: what keel is about to do, in a few lines, before anything
// starts. An operator on the console sees the manifest's identity, the
// onboot order, and each service with its dependencies, limits and policy.
import { formatDuration, formatRestart, type Manifest, type ServiceEntry } from '../../model/index.js';
import { sha256Hex } from '../../model/sha256.js';

const MiB = 2 ** 20;

function serviceLine(s: ServiceEntry): string {
  const notes: string[] = [...(s.kind === 'process' ? ['process'] : []), `restart ${formatRestart(s.restart)}`];
  const deps = s.dependsOn;
  if (deps.length) notes.push(`after ${deps.map((d) => (d.condition === 'ready' ? d.name : `${d.name} ${d.condition}`)).join(', ')}`);
  if (s.ready) notes.push('ready: exec probe');
  if (s.notify) notes.push(`ready: sd_notify${s.watchdogSec !== undefined ? `, watchdog ${formatDuration(s.watchdogSec)}` : ''}`);
  const mem = s.resources?.memory?.limit;
  if (mem !== undefined) notes.push(`memory ${Math.round(mem / MiB)} MiB`);
  const pids = s.resources?.pids?.limit;
  if (pids !== undefined) notes.push(`pids ${pids}`);
  return `${s.name} (${notes.join('; ')})`;
}

export function bootPlan(manifest: Manifest, manifestText: string, path: string): string {
  const hash = sha256Hex(manifestText).slice(0, 12);
  const lines = [
    `plan: manifest ${path} sha256:${hash}: ${manifest.onboot.length} onboot, ${manifest.services.length} service(s), ${manifest.onshutdown.length} onshutdown`,
  ];
  if (manifest.onboot.length) lines.push(`onboot, in order: ${manifest.onboot.map((e) => `${e.name}${e.timeout !== undefined ? ` (timeout ${formatDuration(e.timeout)})` : ''}${e.critical ? ' (critical)' : ''}`).join(' -> ')}`);
  for (const s of manifest.services) lines.push(`service ${serviceLine(s)}`);
  if (manifest.onshutdown.length) lines.push(`onshutdown, in order: ${manifest.onshutdown.map((e) => e.name).join(' -> ')}`);
  return lines.join('\n');
}
