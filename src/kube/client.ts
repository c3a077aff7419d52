import { KubeConfig } from '@kubernetes/client-node';

/** kubeconfig from a file, $KUBECONFIG / ~/.kube/config, or the in-cluster service account. */
export function loadKubeConfig(options: { kubeconfig?: string | undefined; context?: string | undefined } = {}): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
  else kc.loadFromDefault();
  if (options.context) {
    if (!kc.getContexts().some((c) => c.name === options.context)) throw new Error(`context "${options.context}" is not in the kubeconfig`);
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes cluster configured (give --kubeconfig, set KUBECONFIG, or run in a cluster)');
  return kc;
}
