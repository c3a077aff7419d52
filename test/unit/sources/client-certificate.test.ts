import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { caBundleProblem, clientCertificateProblem, usableCaCertificates } from '../../../src/sources/client-certificate.ts';
import { clientCertificateHint } from '../../../src/sources/http/client.ts';
import { generateMutualTlsCerts } from '../../harness/certs.ts';

describe('a TLS client certificate and its key, checked where they are declared', () => {
  const dir = mkdtempSync(join(tmpdir(), 'client-cert-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = generateMutualTlsCerts(dir);
  const cert = readFileSync(certs.client.cert, 'utf8');
  const key = readFileSync(certs.client.key, 'utf8');

  it('accepts a certificate with its own key: EC (SEC1), PKCS#8, and with the CA appended as a chain', () => {
    assert.equal(clientCertificateProblem({ certPem: cert, keyPem: key }), undefined);
    const pkcs8 = execFileSync('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', certs.client.key], { encoding: 'utf8' });
    assert.equal(clientCertificateProblem({ certPem: cert, keyPem: pkcs8 }), undefined);
    assert.equal(clientCertificateProblem({ certPem: cert + readFileSync(certs.ca.cert, 'utf8'), keyPem: key }), undefined);
  });

  it('says what is wrong, never quoting either', () => {
    const encrypted = execFileSync('openssl', ['pkey', '-in', certs.client.key, '-aes256', '-passout', 'pass:pw'], { encoding: 'utf8' });
    const cases: [string, string, string][] = [
      [cert, readFileSync(certs.stranger.key, 'utf8'), 'the private key does not belong to the certificate'],
      ['', key, 'the certificate is not a PEM certificate'],
      [key, key, 'the certificate is not a PEM certificate'],
      [cert, '', 'the private key is not an unencrypted PEM private key'],
      [cert, cert, 'the private key is not an unencrypted PEM private key'],
      // Go's tls.X509KeyPair (Helm, Flux) refuses an encrypted key as well.
      [cert, encrypted, 'the private key is not an unencrypted PEM private key'],
    ];
    for (const [certPem, keyPem, problem] of cases) assert.equal(clientCertificateProblem({ certPem, keyPem }), problem);
  });
});

describe('a TLS alert from the server, in words when it is about the client certificate', () => {
  it('names a missing certificate, a refused one, and nothing else', () => {
    const cases: [string, boolean, string][] = [
      // distribution (Go) refusing a handshake without a client certificate, or with one of another CA
      ['ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE', false, ': the server requires a TLS client certificate and none is configured'],
      ['ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE', true, ': the server did not accept the client certificate'],
      // OpenSSL (a Node server with requestCert) without one, TLS 1.3
      ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', false, ': the server requires a TLS client certificate and none is configured'],
      ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', false, ': the server may require a TLS client certificate; none is configured'],
      ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', true, ': the server did not accept the client certificate'],
      ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', true, ''],
      ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', false, ''],
      // the client's own verdict on the server's certificate is not an alert
      ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', true, ''],
      ['DEPTH_ZERO_SELF_SIGNED_CERT', false, ''],
    ];
    for (const [code, has, hint] of cases) assert.equal(clientCertificateHint(code, has), hint, `${code} ${has}`);
  });
});

describe('a CA bundle, checked where it is declared as Go\'s CertPool.AppendCertsFromPEM checks it (Helm, Flux)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ca-bundle-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = generateMutualTlsCerts(dir);
  const ca = readFileSync(certs.ca.cert, 'utf8');
  const otherCa = readFileSync(certs.stranger.cert, 'utf8');
  const key = readFileSync(certs.client.key, 'utf8');
  const corrupt = ca.replace(/\n([A-Za-z0-9+/]{20})/, '\n!!!!$1');
  const withHeaders = ca.replace('-----BEGIN CERTIFICATE-----\n', '-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n');

  it('accepts a bundle with at least one certificate that parses, whatever else it holds', () => {
    assert.equal(caBundleProblem(ca), undefined);
    assert.equal(caBundleProblem(`# our CAs\n${ca}${otherCa}`), undefined);
    assert.equal(caBundleProblem(`${key}${ca}`), undefined, 'a key block is skipped, the certificate after it counts');
    assert.equal(caBundleProblem(`${corrupt}${ca}`), undefined, 'a corrupt certificate is skipped');
    assert.equal(caBundleProblem(ca.replace(/\n/g, '\r\n')), undefined, 'CRLF line ends');
    assert.equal(caBundleProblem(ca.replace('-----BEGIN CERTIFICATE-----', '-----BEGIN CERTIFICATE-----\t ')), undefined, 'blanks after BEGIN, as pem.Decode allows');
  });

  it('hands Node each certificate that parses on its own, in order, and nothing else', () => {
    const der = (pem: string): string => pem.replace(/-----[A-Z ]+-----|\s/g, '');
    const got = usableCaCertificates(`${corrupt}${withHeaders}${key}${ca}junk${otherCa}`);
    assert.deepEqual(got.map(der), [der(ca), der(otherCa)]);
    assert.ok(got.every((p) => p.startsWith('-----BEGIN CERTIFICATE-----\n') && p.trimEnd().endsWith('-----END CERTIFICATE-----')));
  });

  it('refuses a bundle from which no certificate can be read, without quoting it', () => {
    for (const bad of ['', 'not a certificate', key, corrupt, withHeaders, ca.replace('BEGIN CERTIFICATE', 'BEGIN TRUSTED CERTIFICATE')]) {
      const problem = caBundleProblem(bad);
      assert.equal(problem, 'it holds no PEM certificate that can be read', JSON.stringify(bad.slice(0, 40)));
    }
  });
});
