/**
 * The one check of a TLS client certificate, wherever it is declared (a ChartRepository's or Flux's Secret,
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
