"""The issuer's logic, with no host calls: reading the CA and the CSR, and
building the certificate as cert-manager's CA issuer does.

Everything the host provides (the time, the serial, the signature) comes in
as an argument, so `python -m unittest` runs this module natively; `app.py`
is the thin component shell that calls the host. Values use the WIT names as
plain strings (`"server-auth"`, `"ecdsa-p256-sha256"`) so this module does
not need the generated bindings.
"""

# componentize-py bundles only the modules imported at build time; asn1crypto
# looks these codecs up by name when it encodes URI and email SANs.
import encodings.cp1252  # noqa: F401
import encodings.idna  # noqa: F401
import json
from datetime import datetime, timezone

from asn1crypto import core, csr, keys, pem, x509

# cert-manager's default validity: 90 days.
DEFAULT_DURATION_SECONDS = 90 * 24 * 3600


class IssuerError(Exception):
    """A failure, as the WIT `plugin-error` record; app.py raises it as `Err`."""

    def __init__(self, reason, message, retryable=False):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retryable = retryable


# WIT `key-usage` names -> asn1crypto's KeyUsage bit names.
KEY_USAGES = {
    "signing": "digital_signature",
    "digital-signature": "digital_signature",
    "content-commitment": "non_repudiation",
    "key-encipherment": "key_encipherment",
    "data-encipherment": "data_encipherment",
    "key-agreement": "key_agreement",
    "cert-sign": "key_cert_sign",
    "crl-sign": "crl_sign",
    "encipher-only": "encipher_only",
    "decipher-only": "decipher_only",
}
# WIT `key-usage` names -> extended key usage OIDs (cert-manager maps smime
# to emailProtection).
EXTENDED_USAGES = {
    "any": "2.5.29.37.0",
    "server-auth": "1.3.6.1.5.5.7.3.1",
    "client-auth": "1.3.6.1.5.5.7.3.2",
    "code-signing": "1.3.6.1.5.5.7.3.3",
    "email-protection": "1.3.6.1.5.5.7.3.4",
    "smime": "1.3.6.1.5.5.7.3.4",
    "ipsec-end-system": "1.3.6.1.5.5.7.3.5",
    "ipsec-tunnel": "1.3.6.1.5.5.7.3.6",
    "ipsec-user": "1.3.6.1.5.5.7.3.7",
    "timestamping": "1.3.6.1.5.5.7.3.8",
    "ocsp-signing": "1.3.6.1.5.5.7.3.9",
    "microsoft-sgc": "1.3.6.1.4.1.311.10.3.3",
    "netscape-sgc": "2.16.840.1.113730.4.1",
}


def ca_secret_name(spec_json):
    """`spec.plugin.config.caSecretRef.name` of an Issuer spec (JSON text)."""
    try:
        spec = json.loads(spec_json)
    except ValueError as e:
        raise IssuerError("InvalidConfig", f"Invalid issuer spec: {e}")
    name = spec
    for field in ("plugin", "config", "caSecretRef", "name"):
        name = name.get(field) if isinstance(name, dict) else None
    if not isinstance(name, str) or not name:
        raise IssuerError(
            "InvalidConfig",
            "Invalid issuer config: spec.plugin.config.caSecretRef.name is required",
        )
    return name


def same_key(a, b):
    """Whether two SubjectPublicKeyInfos (asn1crypto or DER) hold the same key."""
    a = a if isinstance(a, keys.PublicKeyInfo) else keys.PublicKeyInfo.load(a)
    b = b if isinstance(b, keys.PublicKeyInfo) else keys.PublicKeyInfo.load(b)
    curve = lambda k: k.curve[1] if k.algorithm == "ec" else None  # noqa: E731
    return (
        a.algorithm == b.algorithm
        and curve(a) == curve(b)
        and a["public_key"].contents == b["public_key"].contents
    )


def read_ca(tls_crt, key_spki, secret_name, reason):
    """The CA from its Secret: `tls_crt` (the bytes of `tls.crt`, or None)
    must hold a CA certificate whose key is `key_spki` (the public half of
    `tls.key`, as the host gives it). `reason` names a failure in the
    caller's terms (`ErrInvalidKeyPair` for validate, `SecretInvalidData`
    for issue)."""
    why = f"Invalid CA in Secret {secret_name}"
    if tls_crt is None:
        raise IssuerError(reason, f"{why}: no tls.crt")
    try:
        _, _, der = pem.unarmor(tls_crt, multiple=False)
        ca = x509.Certificate.load(der)
        ca.native  # parse it all now, so that a broken certificate fails here
    except Exception as e:  # asn1crypto raises ValueError and TypeError
        raise IssuerError(reason, f"{why}: tls.crt: {e}")
    if not ca.ca:
        raise IssuerError(reason, f"{why}: tls.crt is not a CA certificate")
    try:
        matches = same_key(ca.public_key, key_spki)
    except Exception as e:
        raise IssuerError(reason, f"{why}: tls.key: {e}")
    if not matches:
        raise IssuerError(reason, f"{why}: tls.key is not the key of tls.crt")
    return ca


def signature_algorithm(spki):
    """The WIT `signature-algorithm` a key signs with, and its AlgorithmIdentifier."""
    key = keys.PublicKeyInfo.load(spki)
    if key.algorithm == "ec" and key.curve[1] == "secp256r1":
        return "ecdsa-p256-sha256", {"algorithm": "sha256_ecdsa"}
    if key.algorithm == "ec" and key.curve[1] == "secp384r1":
        return "ecdsa-p384-sha384", {"algorithm": "sha384_ecdsa"}
    if key.algorithm == "rsa":
        return "rsa-pkcs1-sha256", {"algorithm": "sha256_rsa", "parameters": core.Null()}
    if key.algorithm == "ed25519":
        return "ed25519", {"algorithm": "ed25519"}
    raise IssuerError("SigningError", f"Error signing certificate: unsupported key {key.algorithm}")


def _time(unix_seconds):
    """UTCTime until 2049, GeneralizedTime after, as RFC 5280 4.1.2.5 says."""
    moment = datetime.fromtimestamp(unix_seconds, timezone.utc)
    return x509.Time({"utc_time" if 1950 <= moment.year < 2050 else "general_time": moment})


def _extension(name, critical, value):
    fields = {"extn_id": name, "extn_value": value}
    if critical:  # DER leaves out a default value
        fields["critical"] = True
    return x509.Extension(fields)


def _requested_alt_names(info):
    """The subjectAltName extension of a CSR's extensionRequest, if any."""
    for attribute in info["attributes"]:
        if attribute["type"].native != "extension_request":
            continue
        for extensions in attribute["values"]:
            for extension in extensions:
                if extension["extn_id"].native == "subject_alt_name":
                    return extension["extn_value"].parsed
    return None


def build_tbs(request, ca, algorithm_id, now_unix, serial):
    """The TBSCertificate for `request`, signed by `ca` (from `read_ca`),
    as cert-manager's CA issuer builds it: subject, key and SANs from the
    CSR, the requested duration capped at the CA's notAfter, the requested
    usages (digital signature and key encipherment by default; a CA also
    gets keyCertSign and cRLSign), key identifiers. `request` has the WIT
    `certificate-request` fields (csr_pem, duration_seconds, is_ca, usages
    as WIT names); `serial` is 16 random bytes."""
    try:
        _, _, der = pem.unarmor(request.csr_pem.encode(), multiple=False)
        info = csr.CertificationRequest.load(der)["certification_request_info"]
        info.native  # parse it all now
        alt_names = _requested_alt_names(info)
    except Exception as e:
        raise IssuerError("SigningError", f"Error generating certificate template: {e}")

    duration = request.duration_seconds
    if duration is None:
        duration = DEFAULT_DURATION_SECONDS
    ca_not_after = int(ca["tbs_certificate"]["validity"]["not_after"].native.timestamp())
    not_after = min(now_unix + duration, ca_not_after)
    if not_after < now_unix:
        raise IssuerError("SigningError", "Error signing certificate: the CA certificate has expired")

    usages = list(request.usages) or ["digital-signature", "key-encipherment"]
    key_usage = {KEY_USAGES[u] for u in usages if u in KEY_USAGES}
    if request.is_ca:
        key_usage |= {"key_cert_sign", "crl_sign"}
    extended = list(dict.fromkeys(EXTENDED_USAGES[u] for u in usages if u in EXTENDED_USAGES))

    extensions = []
    if key_usage:
        extensions.append(_extension("key_usage", True, x509.KeyUsage(key_usage)))
    if extended:
        extensions.append(_extension("extended_key_usage", False, x509.ExtKeyUsageSyntax(extended)))
    constraints = x509.BasicConstraints({"ca": request.is_ca})  # DER omits ca=False
    extensions.append(_extension("basic_constraints", True, constraints))
    extensions.append(_extension("key_identifier", False, core.OctetString(info["subject_pk_info"].sha1)))
    authority_key_id = ca.key_identifier or ca.public_key.sha1
    extensions.append(
        _extension("authority_key_identifier", False, {"key_identifier": authority_key_id})
    )
    if alt_names is not None:
        # RFC 5280 4.2.1.6: critical when the subject is empty.
        empty_subject = len(info["subject"].chosen) == 0
        extensions.append(_extension("subject_alt_name", empty_subject, alt_names))

    # A positive INTEGER: the top bit cleared, and never zero.
    number = int.from_bytes(serial, "big") & ((1 << 127) - 1) or 1
    return x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": number,
            "signature": algorithm_id,
            "issuer": ca.subject,
            "validity": {"not_before": _time(now_unix), "not_after": _time(not_after)},
            "subject": info["subject"],
            "subject_public_key_info": info["subject_pk_info"],
            "extensions": extensions,
        }
    )


def sign_request(request, ca, signer, now_unix, serial):
    """Signs `request` with the CA. `signer` has `public_key` (SPKI DER) and
    `sign(algorithm_name, data) -> signature` (the host's key in the
    plugin, a local key in tests). Returns (certificate PEM, CA PEM)."""
    if not same_key(ca.public_key, signer.public_key):
        raise IssuerError(
            "SigningError",
            "Error signing certificate: the CA key (tls.key) does not match the CA certificate (tls.crt)",
        )
    name, algorithm_id = signature_algorithm(signer.public_key)
    tbs = build_tbs(request, ca, algorithm_id, now_unix, serial)
    signature = signer.sign(name, tbs.dump())
    certificate = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm_id, "signature_value": signature}
    )
    return (
        pem.armor("CERTIFICATE", certificate.dump()).decode(),
        pem.armor("CERTIFICATE", ca.dump()).decode(),
    )
