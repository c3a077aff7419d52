/**
 * The one check of a TLS client certificate and of a CA bundle, wherever it is declared (a ChartRepository's or Flux's Secret,
 * the CLI's --config file, Helm's repositories.yaml): checked when the declaration is read, so that a bad pair
 * is an error on that repository (Ready False, the CLI's stderr) before any request, as Go's tls.X509KeyPair
 * makes it in Helm (internal/tlsutil) and Flux (fluxcd/pkg runtime/secrets buildTLSConfig). The messages are
 * ours and name what is wrong, never the PEM text: OpenSSL's own errors do not quote it either, but they are
 * not passed on, so that no future error can.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { ClientCertificate } from '../model/repository.ts';

/**
 * What makes `pair` unusable, or undefined when Node's TLS stack accepts it: the certificate is not PEM, the
 * key is not an unencrypted PEM private key (Go's X509KeyPair refuses encrypted keys as well), or the key
 * belongs to another certificate.
 */
export function clientCertificateProblem(pair: ClientCertificate): string | undefined {
  try {
    new X509Certificate(pair.certPem);
  } catch {
    return 'the certificate is not a PEM certificate';
  }
  try {
    createPrivateKey({ key: pair.keyPem, format: 'pem' });
  } catch {
    return 'the private key is not an unencrypted PEM private key';
  }
  try {
    createSecureContext({ cert: pair.certPem, key: pair.keyPem });
  } catch {
    return 'the private key does not belong to the certificate';
  }
  return undefined;
}

/**
 * The certificates of a CA bundle that can be used, each as its own PEM, as Go's CertPool.AppendCertsFromPEM
 * takes them (Helm: internal/tlsutil CertPoolFromFile; Flux: fluxcd/pkg runtime/secrets buildTLSConfig): every
 * `CERTIFICATE` block without headers that parses, the others skipped. Node must get this list rather than the
 * bundle: its PEM reader stops at the first block it cannot read, so a corrupt block before a good one made
 * every handshake fail on a bundle Helm and Flux use. Trailing blanks on the BEGIN and END lines are allowed,
 * as Go's pem.Decode allows them.
 */
export function usableCaCertificates(pem: string): string[] {
  const out: string[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----[ \t]*\r?\n([\s\S]*?)-----END CERTIFICATE-----/g)) {
    // A block with headers (`Proc-Type: …`) is skipped by Go's pool.
    if (/^[\w-]+:/m.test(m[1] ?? '')) continue;
    try {
      out.push(new X509Certificate(m[0]).toString());
    } catch {
      // skipped, as Go skips a certificate that does not parse
    }
  }
  return out;
}

/**
 * What makes a CA bundle unusable, or undefined: it holds no certificate usableCaCertificates keeps. Helm
 * ("failed to append certificates from file") and Flux ("failed to parse CA certificate") refuse such a
 * bundle; Node would ignore it without a word, and every request would then fail on the server's
 * certificate instead of on the declaration.
 */
export function caBundleProblem(pem: string): string | undefined {
  return usableCaCertificates(pem).length ? undefined : 'it holds no PEM certificate that can be read';
}
