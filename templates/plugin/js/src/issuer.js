// The issuer's logic, with no host calls: reading the CA and the CSR, and
// building the certificate as cert-manager's CA issuer does. Everything the
// host provides (the time, the serial, the signature) comes in as an
// argument, so `node --test` runs this file natively.
//
// Hand-written DER keeps the component free of npm dependencies: the few
// structures an issuer reads and writes fit in this file.

/** A failure, as the WIT `plugin-error` record. Thrown, never returned. */
export class IssuerError extends Error {
  constructor(reason, message, retryable) {
    super(message);
    // componentize-js turns a thrown object's `payload` into the `err` of
    // the export's `result`; anything else thrown becomes a trap.
    this.payload = { reason, message, retryable };
  }
}

/** An error that ends the request: retrying cannot help. */
export const failed = (reason, message) => new IssuerError(reason, message, false);
/** An error worth retrying later (a passing fault). */
export const retry = (reason, message) => new IssuerError(reason, message, true);

/** cert-manager's default validity: 90 days. */
export const DEFAULT_DURATION_SECONDS = 90 * 24 * 3600;

// ---- DER reading ------------------------------------------------------------

/** One TLV of `der` at `offset`: its tag, where its contents start and end. */
function readTlv(der, offset) {
  if (offset + 2 > der.length) throw new Error('truncated DER');
  const tag = der[offset];
  let length = der[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > der.length) throw new Error('bad DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i];
    start += count;
  }
  const end = start + length;
  if (end > der.length) throw new Error('truncated DER');
  return { tag, offset, start, end };
}

/** The TLVs inside a constructed TLV. */
function children(der, tlv) {
  const out = [];
  for (let at = tlv.start; at < tlv.end; ) {
    const child = readTlv(der, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

const whole = (der, tlv) => der.subarray(tlv.offset, tlv.end);
const contents = (der, tlv) => der.subarray(tlv.start, tlv.end);
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

function expect(tlv, tag, what) {
  if (tlv === undefined || tlv.tag !== tag) throw new Error(`${what} is not where X.509 puts it`);
  return tlv;
}

// ---- DER writing -------------------------------------------------------------

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A TLV around `parts`. */
function tlv(tag, ...parts) {
  const body = concat(parts);
  const n = body.length;
  let header;
  if (n < 0x80) header = [tag, n];
  else if (n < 0x100) header = [tag, 0x81, n];
  else if (n < 0x10000) header = [tag, 0x82, n >> 8, n & 0xff];
  else header = [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concat([Uint8Array.from(header), body]);
}

const SEQUENCE = 0x30;
const OCTET_STRING = 0x04;
const BIT_STRING = 0x03;
const OID = 0x06;
const seq = (...parts) => tlv(SEQUENCE, ...parts);
const bytes = (...values) => Uint8Array.from(values);
const oid = (hexText) => tlv(OID, Uint8Array.from(hexText.match(/../g), (h) => parseInt(h, 16)));

/** An Extension: OID, critical flag (only when true, as DER wants), value. */
const extension = (oidHex, critical, value) =>
  seq(oid(oidHex), critical ? bytes(0x01, 0x01, 0xff) : bytes(), tlv(OCTET_STRING, value));

// Object identifiers, as the hex of their DER contents.
const OIDS = {
  ecPublicKey: '2a8648ce3d0201',
  p256: '2a8648ce3d030107',
  p384: '2b81040022',
  rsaEncryption: '2a864886f70d010101',
  ed25519: '2b6570',
  extensionRequest: '2a864886f70d01090e',
  subjectKeyId: '551d0e',
  keyUsage: '551d0f',
  subjectAltName: '551d11',
  basicConstraints: '551d13',
  authorityKeyId: '551d23',
  extKeyUsage: '551d25',
};

// ---- PEM ----------------------------------------------------------------------

/** The DER of every PEM block labelled `label`, in order. */
export function pemBlocks(text, label) {
  const pattern = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`, 'g');
  return Array.from(text.matchAll(pattern), (m) => {
    const binary = atob(m[1].replace(/\s+/g, ''));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  });
}

export function toPem(der, label) {
  let binary = '';
  for (const b of der) binary += String.fromCharCode(b);
  const lines = btoa(binary).match(/.{1,64}/g).join('\n');
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

// ---- Keys -----------------------------------------------------------------------

/** A SubjectPublicKeyInfo: its algorithm, curve and key bits. */
function parseSpki(der) {
  const spki = expect(readTlv(der, 0), SEQUENCE, 'the public key');
  const [algorithm, bits] = children(der, spki);
  const [algOid, params] = children(der, expect(algorithm, SEQUENCE, 'the key algorithm'));
  return {
    algorithm: hex(contents(der, algOid)),
    curve: params && params.tag === OID ? hex(contents(der, params)) : '',
    // The key bits without the BIT STRING's unused-bits byte.
    bits: contents(der, expect(bits, BIT_STRING, 'the key bits')).subarray(1),
  };
}

/** Whether two SubjectPublicKeyInfos hold the same key. */
export function sameKey(a, b) {
  const [x, y] = [parseSpki(a), parseSpki(b)];
  return x.algorithm === y.algorithm && x.curve === y.curve && hex(x.bits) === hex(y.bits);
}

/** The signature algorithm a key signs with (a WIT `signature-algorithm`) and its DER AlgorithmIdentifier. */
export function signatureAlgorithm(spkiDer) {
  const key = parseSpki(spkiDer);
  if (key.algorithm === OIDS.ecPublicKey && key.curve === OIDS.p256)
    return { name: 'ecdsa-p256-sha256', der: seq(oid('2a8648ce3d040302')) };
  if (key.algorithm === OIDS.ecPublicKey && key.curve === OIDS.p384)
    return { name: 'ecdsa-p384-sha384', der: seq(oid('2a8648ce3d040303')) };
  if (key.algorithm === OIDS.rsaEncryption)
    return { name: 'rsa-pkcs1-sha256', der: seq(oid('2a864886f70d01010b'), bytes(0x05, 0x00)) };
  if (key.algorithm === OIDS.ed25519) return { name: 'ed25519', der: seq(oid(OIDS.ed25519)) };
  throw new Error(`unsupported key algorithm (OID ${key.algorithm}, curve ${key.curve || 'none'})`);
}

/** SHA-1 of the key bits: the key identifier cert-manager (and Go) use. */
export function keyIdentifier(spkiDer) {
  return sha1(parseSpki(spkiDer).bits);
}

/** SHA-1 (FIPS 180-4), only for key identifiers, which are not a security property. */
export function sha1(message) {
  const length = message.length;
  const padded = new Uint8Array((((length + 8) >> 6) + 1) * 64);
  padded.set(message);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded.length - 4, (length * 8) >>> 0);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Uint32Array(80);
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(block + i * 4);
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let [a, b, c, d, e] = h;
    for (let i = 0; i < 80; i++) {
      const [f, k] =
        i < 20 ? [(b & c) | (~b & d), 0x5a827999]
        : i < 40 ? [b ^ c ^ d, 0x6ed9eba1]
        : i < 60 ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc]
        : [b ^ c ^ d, 0xca62c1d6];
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) >>> 0;
      [e, d, c, b, a] = [d, c, (b << 30) | (b >>> 2), a, t];
    }
    [a, b, c, d, e].forEach((v, i) => (h[i] = (h[i] + v) >>> 0));
  }
  const out = new Uint8Array(20);
  const outView = new DataView(out.buffer);
  h.forEach((v, i) => outView.setUint32(i * 4, v));
  return out;
}

// ---- Time ---------------------------------------------------------------------------

function parseTime(der, t) {
  const text = new TextDecoder().decode(contents(der, t));
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) throw new Error(`unreadable time ${text}`);
  let year = Number(m[1]);
  if (m[1].length === 2) year += year < 50 ? 2000 : 1900;
  return Date.UTC(year, m[2] - 1, m[3], m[4], m[5], m[6]) / 1000;
}

/** UTCTime until 2049, GeneralizedTime after, as RFC 5280 4.1.2.5 says. */
function encodeTime(unixSeconds) {
  const iso = new Date(unixSeconds * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/\D/g, '');
  const year = Number(digits.slice(0, 4));
  const [tag, text] = year >= 1950 && year < 2050 ? [0x17, digits.slice(2)] : [0x18, digits];
  return tlv(tag, new TextEncoder().encode(text + 'Z'));
}

// ---- The CA and the request ------------------------------------------------------------

/**
 * The CA certificate from a Secret's `tls.crt` (the first certificate):
 * what signing needs from it. Throws a plain Error saying what is wrong.
 */
export function parseCa(tlsCrtText) {
  const [der] = pemBlocks(tlsCrtText, 'CERTIFICATE');
  if (der === undefined) throw new Error('no PEM certificate in tls.crt');
  const cert = expect(readTlv(der, 0), SEQUENCE, 'the certificate');
  const tbs = children(der, expect(children(der, cert)[0], SEQUENCE, 'the TBSCertificate'));
  const fields = tbs[0].tag === 0xa0 ? tbs.slice(1) : tbs; // skip [0] version
  const [, , , validity, subject, spki] = fields;
  const notAfter = children(der, expect(validity, SEQUENCE, 'the validity'))[1];
  const ca = {
    der,
    pem: toPem(der, 'CERTIFICATE'),
    subject: whole(der, expect(subject, SEQUENCE, 'the subject')),
    publicKey: whole(der, expect(spki, SEQUENCE, 'the public key')),
    notAfter: parseTime(der, notAfter),
    isCa: false,
    subjectKeyId: undefined,
  };
  const extensions = fields.find((f) => f.tag === 0xa3);
  for (const ext of extensions ? children(der, children(der, extensions)[0]) : []) {
    const parts = children(der, ext);
    const id = hex(contents(der, parts[0]));
    const value = contents(der, parts[parts.length - 1]);
    if (id === OIDS.basicConstraints) {
      const inner = children(value, readTlv(value, 0));
      ca.isCa = inner.length > 0 && inner[0].tag === 0x01 && value[inner[0].start] !== 0;
    } else if (id === OIDS.subjectKeyId) {
      ca.subjectKeyId = contents(value, readTlv(value, 0));
    }
  }
  return ca;
}

/** A PKCS#10 request: subject, public key and requested SANs, as DER. */
export function parseCsr(csrPem) {
  const [der] = pemBlocks(csrPem, 'CERTIFICATE REQUEST');
  if (der === undefined) throw new Error('no PEM certificate request');
  const info = expect(children(der, readTlv(der, 0))[0], SEQUENCE, 'the request info');
  const [, subject, spki, attributes] = children(der, info);
  const csr = {
    subject: whole(der, expect(subject, SEQUENCE, 'the subject')),
    subjectIsEmpty: subject.end === subject.start,
    publicKey: whole(der, expect(spki, SEQUENCE, 'the public key')),
    subjectAltNames: undefined,
  };
  for (const attribute of attributes && attributes.tag === 0xa0 ? children(der, attributes) : []) {
    const [type, values] = children(der, attribute);
    if (hex(contents(der, type)) !== OIDS.extensionRequest) continue;
    const extensions = children(der, values)[0];
    for (const ext of children(der, extensions)) {
      const parts = children(der, ext);
      if (hex(contents(der, parts[0])) === OIDS.subjectAltName)
        csr.subjectAltNames = contents(der, parts[parts.length - 1]);
    }
  }
  return csr;
}

// ---- Usages -----------------------------------------------------------------------------

// WIT `key-usage` names → key usage bit (RFC 5280 4.2.1.3, bit 0 = digitalSignature).
const KEY_USAGE_BITS = {
  signing: 0, 'digital-signature': 0, 'content-commitment': 1, 'key-encipherment': 2,
  'data-encipherment': 3, 'key-agreement': 4, 'cert-sign': 5, 'crl-sign': 6,
  'encipher-only': 7, 'decipher-only': 8,
};
// WIT `key-usage` names → extended key usage OID (cert-manager maps smime to emailProtection).
const EXTENDED_USAGES = {
  any: '551d2500', 'server-auth': '2b06010505070301', 'client-auth': '2b06010505070302',
  'code-signing': '2b06010505070303', 'email-protection': '2b06010505070304',
  smime: '2b06010505070304', 'ipsec-end-system': '2b06010505070305',
  'ipsec-tunnel': '2b06010505070306', 'ipsec-user': '2b06010505070307',
  timestamping: '2b06010505070308', 'ocsp-signing': '2b06010505070309',
  'microsoft-sgc': '2b0601040182370a0303', 'netscape-sgc': '6086480186f8420401',
};

/** The KeyUsage BIT STRING contents for `bits` (bit 0 first, as DER numbers them). */
function keyUsageValue(bits) {
  const octets = [0, 0];
  for (let bit = 0; bit < 9; bit++) if (bits & (1 << bit)) octets[bit >> 3] |= 0x80 >> (bit & 7);
  const used = octets[1] ? 2 : 1;
  const last = octets[used - 1];
  let unused = 0;
  while (unused < 8 && !(last & (1 << unused))) unused++;
  return tlv(BIT_STRING, bytes(unused % 8), Uint8Array.from(octets.slice(0, used)));
}

// ---- Building the certificate -------------------------------------------------------------

/**
 * The TBSCertificate for `request` (the WIT `certificate-request`), signed by
 * `ca` (from `parseCa`) with `algorithm` (from `signatureAlgorithm`), as
 * cert-manager's CA issuer builds it: subject, key and SANs from the CSR,
 * the requested duration capped at the CA's notAfter, the requested usages
 * (digital signature and key encipherment by default; a CA also gets
 * keyCertSign and cRLSign), key identifiers. `serial` is 16 random bytes.
 */
export function buildTbs(request, ca, algorithm, nowUnix, serial) {
  let csr;
  try {
    csr = parseCsr(request.csrPem);
  } catch (e) {
    throw failed('SigningError', `Error generating certificate template: ${e.message}`);
  }
  const duration = request.durationSeconds ?? DEFAULT_DURATION_SECONDS;
  const notAfter = Math.min(nowUnix + Number(duration), ca.notAfter);
  if (notAfter < nowUnix) {
    throw failed('SigningError', 'Error signing certificate: the CA certificate has expired');
  }

  const usages = request.usages.length ? request.usages : ['digital-signature', 'key-encipherment'];
  let bits = 0;
  for (const u of usages) if (u in KEY_USAGE_BITS) bits |= 1 << KEY_USAGE_BITS[u];
  if (request.isCa) bits |= (1 << 5) | (1 << 6);
  const extended = [...new Set(usages.filter((u) => u in EXTENDED_USAGES).map((u) => EXTENDED_USAGES[u]))];

  // A positive INTEGER: the top bit cleared, never zero, and no leading
  // zero bytes (DER's minimal encoding; Go's parser refuses others).
  const serialBytes = Uint8Array.from(serial);
  serialBytes[0] &= 0x7f;
  if (serialBytes.every((b) => b === 0)) serialBytes[15] = 1;
  let first = 0;
  while (first < 15 && serialBytes[first] === 0 && serialBytes[first + 1] < 0x80) first++;

  const extensions = [];
  if (bits) extensions.push(extension(OIDS.keyUsage, true, keyUsageValue(bits)));
  if (extended.length) extensions.push(extension(OIDS.extKeyUsage, false, seq(...extended.map(oid))));
  extensions.push(
    extension(OIDS.basicConstraints, true, seq(request.isCa ? bytes(0x01, 0x01, 0xff) : bytes())),
  );
  extensions.push(extension(OIDS.subjectKeyId, false, tlv(OCTET_STRING, keyIdentifier(csr.publicKey))));
  const authorityKeyId = ca.subjectKeyId ?? keyIdentifier(ca.publicKey);
  extensions.push(extension(OIDS.authorityKeyId, false, seq(tlv(0x80, authorityKeyId))));
  if (csr.subjectAltNames) {
    // RFC 5280 4.2.1.6: critical when the subject is empty.
    extensions.push(extension(OIDS.subjectAltName, csr.subjectIsEmpty, csr.subjectAltNames));
  }

  return seq(
    bytes(0xa0, 0x03, 0x02, 0x01, 0x02), // version v3
    tlv(0x02, serialBytes.subarray(first)),
    algorithm.der,
    ca.subject,
    seq(encodeTime(nowUnix), encodeTime(notAfter)),
    csr.subject,
    csr.publicKey,
    tlv(0xa3, seq(...extensions)),
  );
}

/** The signed certificate, PEM: the TBSCertificate, the algorithm, the signature. */
export function assemble(tbs, algorithm, signature) {
  const der = seq(tbs, algorithm.der, tlv(BIT_STRING, bytes(0), signature));
  return toPem(der, 'CERTIFICATE');
}

/**
 * Signs `request` with the CA: `signer` is `{ publicKey: SPKI DER,
 * sign(algorithmName, data) → signature }` (the host's key in the plugin, a
 * local key in tests). Returns the WIT `issued` record.
 */
export function signRequest(request, ca, signer, nowUnix, serial) {
  if (!sameKey(ca.publicKey, signer.publicKey)) {
    throw failed('SigningError', 'Error signing certificate: the CA key (tls.key) does not match the CA certificate (tls.crt)');
  }
  let algorithm;
  try {
    algorithm = signatureAlgorithm(signer.publicKey);
  } catch (e) {
    throw failed('SigningError', `Error signing certificate: ${e.message}`);
  }
  const tbs = buildTbs(request, ca, algorithm, nowUnix, serial);
  const signature = signer.sign(algorithm.name, tbs);
  return { certificateChainPem: assemble(tbs, algorithm, signature), caPem: ca.pem };
}

/**
 * The CA from its Secret: `tlsCrt` (the bytes of `tls.crt`, or undefined)
 * must hold a CA certificate whose key is `keySpki` (the public half of
 * `tls.key`, as the host gives it). `reason` names the failure in the
 * caller's terms (`ErrInvalidKeyPair` for validate, `SecretInvalidData`
 * for issue).
 */
export function readCa(tlsCrt, keySpki, secretName, reason) {
  const why = `Invalid CA in Secret ${secretName}`;
  if (tlsCrt === undefined) throw failed(reason, `${why}: no tls.crt`);
  let ca;
  try {
    ca = parseCa(new TextDecoder().decode(tlsCrt));
  } catch (e) {
    throw failed(reason, `${why}: tls.crt: ${e.message}`);
  }
  if (!ca.isCa) throw failed(reason, `${why}: tls.crt is not a CA certificate`);
  let matches;
  try {
    matches = sameKey(ca.publicKey, keySpki);
  } catch (e) {
    throw failed(reason, `${why}: tls.key: ${e.message}`);
  }
  if (!matches) throw failed(reason, `${why}: tls.key is not the key of tls.crt`);
  return ca;
}

/** `spec.plugin.config.caSecretRef.name` of an Issuer spec (JSON text). */
export function caSecretName(specJson) {
  let name;
  try {
    name = JSON.parse(specJson)?.plugin?.config?.caSecretRef?.name;
  } catch (e) {
    throw failed('InvalidConfig', `Invalid issuer spec: ${e.message}`);
  }
  if (typeof name !== 'string' || name === '') {
    throw failed('InvalidConfig', 'Invalid issuer config: spec.plugin.config.caSecretRef.name is required');
  }
  return name;
}
