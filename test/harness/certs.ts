/**
 * Certificates for a throw-away control plane, made with the openssl CLI (node:crypto cannot issue
 * X.509): a CA, the API server's serving cert (SAN IP:127.0.0.1, DNS:localhost), an admin client cert
 * (CN=admin, O=system:masters) and an RSA key pair for signing service-account tokens. EC P-256 keys for
 * the certs because they are generated in milliseconds; Go's TLS stack accepts them everywhere.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertPair {
  cert: string;
  key: string;
}

export interface ClusterCerts {
  dir: string;
  ca: CertPair;
  apiserver: CertPair;
  admin: CertPair;
  /** RSA private key (PKCS#1 PEM) that signs service-account tokens. */
  serviceAccountKey: string;
  /** Its public key (SPKI PEM), for verification. */
  serviceAccountPub: string;
}

export interface ClientIdentity {
  commonName: string;
  organizations?: readonly string[] | undefined;
}

const DAYS = '7';
const SERVER_EXTENSIONS = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n';
const CLIENT_EXTENSIONS = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';

function openssl(args: readonly string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0] ?? ''} failed: ${stderr.trim() || String(err)}`);
  }
}

function subject(id: ClientIdentity): string {
  const esc = (s: string): string => s.replace(/[/\\=,+]/g, (c) => `\\${c}`);
  return `${(id.organizations ?? []).map((o) => `/O=${esc(o)}`).join('')}/CN=${esc(id.commonName)}`;
}

/** A key and CSR, then a cert signed by the CA with the given v3 extensions. */
function issue(dir: string, base: string, subj: string, ca: CertPair, extensions: string): CertPair {
  const key = join(dir, `${base}.key`);
  const csr = join(dir, `${base}.csr`);
  const cert = join(dir, `${base}.crt`);
  const ext = join(dir, `${base}.ext`);
  writeFileSync(ext, extensions);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', subj]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', DAYS, '-sha256', '-extfile', ext, '-out', cert]);
  return { cert, key };
}

/** Signs a client certificate for another identity (for RBAC tests that need a user other than admin). */
export function issueClientCert(certs: ClusterCerts, base: string, id: ClientIdentity): CertPair {
  return issue(certs.dir, base, subject(id), certs.ca, CLIENT_EXTENSIONS);
}

/** A self-signed CA `<base>.crt`/`<base>.key` in `dir`. */
function makeCa(dir: string, base: string, commonName: string): CertPair {
  mkdirSync(dir, { recursive: true });
  const ca: CertPair = { cert: join(dir, `${base}.crt`), key: join(dir, `${base}.key`) };
  const caConf = join(dir, `${base}.cnf`);
  writeFileSync(
    caConf,
    '[req]\ndistinguished_name=dn\nx509_extensions=v3_ca\n[dn]\n[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n',
  );
  openssl(['req', '-x509', '-config', caConf, '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', ca.key, '-out', ca.cert, '-days', DAYS, '-subj', `/CN=${commonName}`]);
  return ca;
}

/** Files of a chart repository (or registry) that requires TLS client certificates. */
export interface MutualTlsCerts {
  dir: string;
  /** Signs the server certificate and the client certificate the server accepts. */
  ca: CertPair;
  /** serverAuth for 127.0.0.1 and localhost. */
  server: CertPair;
  /** clientAuth, CN=chart-reader, signed by `ca`. */
  client: CertPair;
  /** clientAuth from another CA, which the server does not accept. */
  stranger: CertPair;
}

/** CA, server and client certificates for mutual TLS on 127.0.0.1, and a client certificate of another CA. */
export function generateMutualTlsCerts(dir: string): MutualTlsCerts {
  const ca = makeCa(dir, 'ca', 'chartorigin-test-repository-ca');
  const other = makeCa(dir, 'other-ca', 'chartorigin-test-other-ca');
  return {
    dir,
    ca,
    server: issue(dir, 'server', '/CN=chart-repository', ca, SERVER_EXTENSIONS),
    client: issue(dir, 'client', '/CN=chart-reader', ca, CLIENT_EXTENSIONS),
    stranger: issue(dir, 'stranger', '/CN=stranger', other, CLIENT_EXTENSIONS),
  };
}

export function generateClusterCerts(dir: string): ClusterCerts {
  const ca = makeCa(dir, 'ca', 'chartorigin-test-ca');
  const apiserver = issue(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    ca,
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes.default.svc\n',
  );
  const certs: ClusterCerts = { dir, ca, apiserver, admin: { cert: '', key: '' }, serviceAccountKey: join(dir, 'sa.key'), serviceAccountPub: join(dir, 'sa.pub') };
  certs.admin = issueClientCert(certs, 'admin', { commonName: 'admin', organizations: ['system:masters'] });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(certs.serviceAccountKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(certs.serviceAccountPub, publicKey.export({ type: 'spki', format: 'pem' }));
  return certs;
}

export function pem(path: string): string {
  return readFileSync(path, 'utf8');
}
