import { intern } from './intern.ts';
/**
 * The one timestamp formatter: RFC 3339 in UTC, at the precision the reader expects.
 * - `seconds`: Kubernetes `metav1.Time` (condition transitions, lastChecked, repository status).
 * - `millis`: times read from Helm records; milliseconds are kept when there are any (".000" is dropped).
 * - `micros`: `metav1.MicroTime` (Lease renewTime, events.k8s.io eventTime): the API server refuses
 *   a fraction of three digits there with a 400, so six are written.
 */
export function formatTime(t: Date | number, precision: 'seconds' | 'millis' | 'micros' = 'seconds'): string {
  const iso = (typeof t === 'number' ? new Date(t) : t).toISOString();
  // Interned: the controller keeps a few times per release, and a sync stamps hundreds with the same second.
  switch (precision) {
    case 'seconds':
      return intern(iso.replace(/\.\d{3}Z$/, 'Z'));
    case 'millis':
      return intern(iso.replace(/\.000Z$/, 'Z'));
    case 'micros':
      return iso.replace(/\.(\d{3})Z$/, '.$1000Z');
  }
}
