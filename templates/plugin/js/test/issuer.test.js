// Native unit tests of src/issuer.js (`npm test`): a CA and a CSR made by
// the openssl command, the CA key held by Node's crypto in place of the
// host's signer, and the result checked by Node's X509Certificate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caSecretName, readCa, sha1, signRequest } from '../src/issuer.js';

const dir = mkdtempSync(join(tmpdir(), '{{name}}-test-'));
const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCa(name, extensions) {
  openssl('req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-subj', `/CN=${name}`, '-days', '30', ...extensions.flatMap((e) => ['-addext', e]));
  return {
    crt: readFileSync(join(dir, `${name}.crt`)),
    key: createPrivateKey(readFileSync(join(dir, `${name}.key`))),
  };
}

function makeCsr(subject, sans) {
  openssl('req', '-new', ...EC, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', subject,
    ...(sans ? ['-addext', `subjectAltName=${sans}`] : []));
  return readFileSync(join(dir, 'leaf.csr'), 'utf8');
}

const ca = makeCa('ca', ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']);
const caSpki = () => createPublicKey(ca.key).export({ type: 'spki', format: 'der' });
// Stands in for the host's `signer`: ECDSA P-256 with SHA-256, DER signature.
const signer = {
  publicKey: new Uint8Array(caSpki()),
  sign: (algorithm, data) => {
    assert.equal(algorithm, 'ecdsa-p256-sha256');
    return new Uint8Array(sign('sha256', data, ca.key));
  },
};

const request = (overrides) => ({
  csrPem: makeCsr('/CN=example.com', 'DNS:example.com,DNS:www.example.com,IP:127.0.0.1'),
  durationSeconds: undefined,
  isCa: false,
  usages: [],
  ...overrides,
});
const NOW = Math.floor(Date.now() / 1000);
const SERIAL = new Uint8Array(16).fill(0xab);

test('signs a CSR with the CA: chain, SANs, usages, default duration capped at the CA', () => {
  const parsedCa = readCa(ca.crt, signer.publicKey, 'ca', 'SecretInvalidData');
  const issued = signRequest(request({}), parsedCa, signer, NOW, SERIAL);
  const leaf = new X509Certificate(issued.certificateChainPem);
  const caCert = new X509Certificate(ca.crt);
  assert.ok(leaf.verify(caCert.publicKey), 'the CA signature verifies');
  assert.ok(leaf.checkIssued(caCert), 'issuer name and key identifiers match');
  assert.equal(leaf.subject, 'CN=example.com');
  assert.equal(leaf.subjectAltName, 'DNS:example.com, DNS:www.example.com, IP Address:127.0.0.1');
  assert.equal(leaf.ca, false);
  // A positive serial: the top bit cleared.
  assert.equal(leaf.serialNumber, '2B' + 'AB'.repeat(15));
  // 90 days asked, but the CA ends in 30: capped at the CA's notAfter.
  assert.equal(leaf.validTo, caCert.validTo);
  assert.equal(issued.caPem.trim(), ca.crt.toString().trim());
});

test('a requested duration, isCA and extended usages', () => {
  const parsedCa = readCa(ca.crt, signer.publicKey, 'ca', 'SecretInvalidData');
  const issued = signRequest(
    request({ durationSeconds: 3600n, isCa: true, usages: ['server-auth', 'client-auth'] }),
    parsedCa, signer, NOW, SERIAL);
  const leaf = new X509Certificate(issued.certificateChainPem);
  assert.equal(leaf.ca, true);
  assert.equal(Date.parse(leaf.validTo) / 1000 - Date.parse(leaf.validFrom) / 1000, 3600);
  // Node's `keyUsage` lists the extended key usages.
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  const keyUsage = execFileSync('openssl', ['x509', '-noout', '-ext', 'keyUsage'],
    { input: issued.certificateChainPem }).toString();
  assert.match(keyUsage, /Certificate Sign, CRL Sign/);
});

test('serials are positive, minimal DER integers', () => {
  const parsedCa = readCa(ca.crt, signer.publicKey, 'ca', 'SecretInvalidData');
  // The contents of the serial's INTEGER, read from the certificate's DER.
  const serial = (bytes) => {
    const { certificateChainPem } = signRequest(request({}), parsedCa, signer, NOW, Uint8Array.from(bytes));
    const der = new X509Certificate(certificateChainPem).raw;
    const inside = (at) => at + 2 + (der[at + 1] & 0x80 ? der[at + 1] & 0x7f : 0);
    const at = inside(inside(0)) + 5; // into the certificate, the TBS, past the version
    assert.equal(der[at], 0x02, 'an INTEGER');
    return der.subarray(at + 2, at + 2 + der[at + 1]).toString('hex');
  };
  const tail = new Array(14).fill(0x11);
  assert.equal(serial([0x00, 0x05, ...tail]), '05' + '11'.repeat(14));
  assert.equal(serial([0x00, 0x85, ...tail]), '0085' + '11'.repeat(14));
  assert.equal(serial([0x80, 0x00, ...tail]), '11'.repeat(14), 'top bit cleared, zeros dropped');
  assert.equal(serial(new Array(16).fill(0)), '01');
});

test('a CSR with no subject gets a critical SAN extension', () => {
  const parsedCa = readCa(ca.crt, signer.publicKey, 'ca', 'SecretInvalidData');
  const csrPem = makeCsr('/', 'DNS:only.example.com');
  const issued = signRequest(request({ csrPem }), parsedCa, signer, NOW, SERIAL);
  const text = execFileSync('openssl', ['x509', '-noout', '-text'],
    { input: issued.certificateChainPem }).toString();
  assert.match(text, /Subject Alternative Name: critical\s+DNS:only\.example\.com/);
});

test('refuses a certificate that is not a CA, and a key that is not its own', () => {
  const leaf = makeCa('leaf', ['basicConstraints=critical,CA:FALSE']);
  const leafSpki = new Uint8Array(createPublicKey(leaf.key).export({ type: 'spki', format: 'der' }));
  assert.throws(() => readCa(leaf.crt, leafSpki, 'leaf', 'ErrInvalidKeyPair'), (e) => {
    assert.deepEqual(e.payload, {
      reason: 'ErrInvalidKeyPair',
      message: 'Invalid CA in Secret leaf: tls.crt is not a CA certificate',
      retryable: false,
    });
    return true;
  });
  assert.throws(() => readCa(ca.crt, leafSpki, 'ca', 'ErrInvalidKeyPair'),
    (e) => e.payload.message === 'Invalid CA in Secret ca: tls.key is not the key of tls.crt');
  assert.throws(() => readCa(undefined, leafSpki, 'ca', 'ErrInvalidKeyPair'),
    (e) => e.payload.message === 'Invalid CA in Secret ca: no tls.crt');
});

test('reads the Secret name from the config, and says when it is missing', () => {
  const spec = { plugin: { name: '{{name}}', config: { caSecretRef: { name: 'my-ca' } } } };
  assert.equal(caSecretName(JSON.stringify(spec)), 'my-ca');
  assert.throws(() => caSecretName(JSON.stringify({ plugin: { name: '{{name}}' } })),
    (e) => e.payload.reason === 'InvalidConfig' && !e.payload.retryable);
});

test('SHA-1 agrees with Node', () => {
  for (const size of [0, 1, 55, 56, 64, 119, 1000]) {
    const data = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
    assert.equal(Buffer.from(sha1(data)).toString('hex'),
      createHash('sha1').update(data).digest('hex'));
  }
});
