import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { EventNote } from './origin-events.ts';
import { GROUP, VERSION } from './chart-origins.ts';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { formatTime } from '../util/time.ts';
import { KubeApiError, kubeRequest } from '../kube/raw-client.ts';
import { plainText } from '../util/terminal.ts';

export interface EventTarget {
  namespace: string;
  name: string;
  uid?: string | undefined;
}

/** events.k8s.io/v1 refuses a note over 1 kB; notes are plain text (src/util/terminal.ts plainText). */
const MAX_NOTE = 1024;

/**
 * Writes events.k8s.io/v1 Events about ChartOrigins (`kubectl describe chartorigin`, `kubectl get events`).
 * Best effort: an Event that cannot be written is logged, never retried and never fails a reconcile;
 * without RBAC for Events the recorder says so once and stops trying.
 */
export class EventRecorder {
  readonly #kc: KubeConfig;
  readonly #log: Logger;
  readonly #instance: string;
  #forbidden = false;
  #sequence = 0;

  constructor(kc: KubeConfig, logger: Logger, instance = process.env['POD_NAME'] ?? hostname()) {
    this.#kc = kc;
    this.#log = logger;
    this.#instance = instance;
  }

  async emit(target: EventTarget, notes: readonly EventNote[], now = new Date()): Promise<void> {
    if (this.#forbidden) return;
    for (const note of notes) {
      try {
        await kubeRequest(this.#kc, {
          method: 'POST',
          path: `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(target.namespace)}/events`,
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({
            apiVersion: 'events.k8s.io/v1',
            kind: 'Event',
            // As client-go names them: the object's name, a dot, a unique hex suffix.
            metadata: { name: `${target.name}.${now.getTime().toString(16)}${(this.#sequence++).toString(16).padStart(4, '0')}`, namespace: target.namespace },
            eventTime: formatTime(now.getTime(), 'micros'),
            reportingController: `${GROUP}/controller`,
            reportingInstance: this.#instance.slice(0, 128),
            action: 'Analyze',
            reason: note.reason,
            type: note.type,
            note: plainText(note.message, MAX_NOTE),
            regarding: { apiVersion: `${GROUP}/${VERSION}`, kind: 'ChartOrigin', namespace: target.namespace, name: target.name, uid: target.uid },
          }),
        });
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 403) {
          this.#forbidden = true;
          this.#log.warn({ err: err.message }, 'not allowed to create Events; ChartOrigin Events are off');
          return;
        }
        this.#log.warn({ namespace: target.namespace, name: target.name, reason: note.reason, err: err instanceof Error ? err.message : String(err) }, 'event not written');
      }
    }
  }
}
