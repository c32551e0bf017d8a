// The component: the three exports of the `issuer` world, as a thin shell
// over ./issuer.js. Only this file calls the host.
//
// How values cross the WIT boundary here (componentize-js):
// - records are objects with camelCase fields, enums are their WIT names as
//   strings ('ecdsa-p256-sha256'), list<u8> is a Uint8Array, u64 and s64 are
//   BigInt, an option is the value or undefined;
// - an import's `result` error is thrown, as an object whose `payload` is the
//   WIT `host-error` ({ tag: 'unavailable', val: 'why' });
// - an export's `result` error must be thrown the same way: an object whose
//   `payload` is the `plugin-error` record (IssuerError does that). A plain
//   Error traps the call, with a message that does not say why.

import { load, publicKey, sign } from 'certwasm:issuer/signer@0.4.0';
import { get } from 'certwasm:issuer/secrets@0.4.0';
import { nowUnixSeconds } from 'certwasm:issuer/clock@0.4.0';
import { IssuerError, caSecretName, readCa, signRequest, failed } from './issuer.js';

export function info() {
  return {
    name: '{{name}}',
    version: '0.1.0',
    issuerTypes: ['plugin'],
    description: 'Signs certificates with a CA kept in a Secret ({{name}}, JavaScript).',
    needs: [],
  };
}

/**
 * Runs an import; its `host-error` becomes a plugin error worded
 * "<what>: <the host's sentence>", retryable only for passing faults.
 */
function host(reason, what, call) {
  try {
    return call();
  } catch (e) {
    const error = e?.payload;
    if (error && typeof error.tag === 'string') {
      throw new IssuerError(reason, `${what}: ${error.val}`, error.tag === 'unavailable');
    }
    throw e;
  }
}

/**
 * Reads and checks the CA named by the issuer's config; returns it and a
 * signer. `reasons.get` names a failure to read the Secret or key,
 * `reasons.invalid` a Secret whose contents are wrong.
 */
function loadCa(specJson, reasons) {
  const name = caSecretName(specJson);
  const secret = host(reasons.get, `Failed to read the CA Secret ${name}`, () => get(name));
  if (secret === undefined) {
    throw failed(reasons.get, `Failed to read the CA Secret ${name}: it does not exist`);
  }
  const tlsCrt = secret.data.find(([field]) => field === 'tls.crt')?.[1];
  const what = `Failed to load the CA key from Secret ${name}`;
  const key = host(reasons.get, what, () => load(name, 'tls.key'));
  const keySpki = host(reasons.get, what, () => publicKey(key));
  const ca = readCa(tlsCrt, keySpki, name, reasons.invalid);
  const signer = {
    publicKey: keySpki,
    sign: (algorithm, data) =>
      host('SigningError', 'Error signing certificate', () => sign(key, algorithm, data)),
  };
  return { ca, signer };
}

export function validate(config) {
  loadCa(config.specJson, { get: 'ErrGetKeyPair', invalid: 'ErrInvalidKeyPair' });
  return { reason: 'KeyPairVerified', message: 'Signing CA verified' };
}

export function issue(request, _state) {
  const { ca, signer } = loadCa(request.issuer.specJson, {
    get: 'SecretGetError',
    invalid: 'SecretInvalidData',
  });
  const serial = crypto.getRandomValues(new Uint8Array(16));
  const now = Number(nowUnixSeconds());
  return { tag: 'issued', val: signRequest(request, ca, signer, now, serial) };
}
