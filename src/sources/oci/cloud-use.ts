/**
 * Which repositories got registry credentials from the ambient cloud identity in this process, for the CLI's
 * notice. Apart from cloud-identity.ts so that printing the notice loads no HTTP code.
 */
import type { CloudProvider } from './cloud-registry.ts';
import { byCodeUnits } from '../../util/order.ts';

/** A repository that got registry credentials from the ambient cloud identity, and the provider. */
export interface CloudIdentityUse {
  repository: string;
  provider: CloudProvider;
}

/**
 * The one stderr line `scan` and `inspect` print when repositories used the user's own cloud identity: any
 * Flux source in the cluster (whoever may create one in any namespace) can name a registry and a provider, and
 * the CLI then asks the operator's cloud for a token for it. Names and providers only, never a token.
 */
export function describeCloudIdentityUse(uses: readonly CloudIdentityUse[]): string | undefined {
  if (!uses.length) return undefined;
  const list = [...new Map(uses.map((u) => [`${u.repository}\n${u.provider}`, u])).values()]
    .sort((a, b) => byCodeUnits(a.repository, b.repository))
    .map((u) => `${u.repository} (${u.provider})`);
  return `your cloud identity was used for registry credentials of: ${list.join(', ')}`;
}

const uses = new Map<string, CloudIdentityUse>();

export function recordCloudIdentityUse(repository: string, provider: CloudProvider): void {
  uses.set(`${repository}\n${provider}`, { repository, provider });
}

export function cloudIdentityUses(): CloudIdentityUse[] {
  return [...uses.values()];
}

/** For tests. */
export function clearCloudIdentityUses(): void {
  uses.clear();
}
