"""The component: the three exports of the `issuer` world, as a thin shell
over `{{module}}`. Only this file calls the host.

How values cross the WIT boundary here (componentize-py):
- records are dataclasses with snake_case fields, enums are Python enums
  (`types.KeyUsage.SERVER_AUTH`), list<u8> is `bytes`, an option is the value
  or None, u64 and s64 are `int`;
- an import's `result` error is raised as `componentize_py_types.Err`, whose
  `value` is the WIT `host-error` (`types.HostError_Unavailable("why")`, ...);
- an export's `result` error is returned by raising
  `Err(types.PluginError(...))`. Any other exception traps the call and the
  host reports an opaque failure.
"""

import os

from componentize_py_types import Err

import wit_world
from wit_world.imports import clock, secrets, signer, types

import {{module}} as logic
from {{module}} import IssuerError


def host(reason, what, call):
    """Runs an import; its `host-error` becomes a plugin error worded
    "<what>: <the host's sentence>", retryable only for passing faults."""
    try:
        return call()
    except Err as e:
        error = e.value
        retryable = isinstance(error, types.HostError_Unavailable)
        raise IssuerError(reason, f"{what}: {error.value}", retryable)


class HostSigner:
    """The CA key the host holds: `sign` goes to the host, the key never
    comes here."""

    def __init__(self, handle, public_key):
        self.handle = handle
        self.public_key = public_key

    def sign(self, algorithm, data):
        wit_algorithm = types.SignatureAlgorithm[algorithm.upper().replace("-", "_")]
        return host(
            "SigningError",
            "Error signing certificate",
            lambda: signer.sign(self.handle, wit_algorithm, data),
        )


def load_ca(spec_json, get_reason, invalid_reason):
    """Reads and checks the CA the issuer's config names; returns it and a signer."""
    name = logic.ca_secret_name(spec_json)
    secret = host(get_reason, f"Failed to read the CA Secret {name}", lambda: secrets.get(name))
    if secret is None:
        raise IssuerError(get_reason, f"Failed to read the CA Secret {name}: it does not exist")
    tls_crt = dict(secret.data).get("tls.crt")
    what = f"Failed to load the CA key from Secret {name}"
    handle = host(get_reason, what, lambda: signer.load(name, "tls.key"))
    key_spki = host(get_reason, what, lambda: signer.public_key(handle))
    ca = logic.read_ca(tls_crt, key_spki, name, invalid_reason)
    return ca, HostSigner(handle, key_spki)


class Request:
    """The fields of a WIT `certificate-request` that `{{module}}` reads,
    with usages as WIT names."""

    def __init__(self, request):
        self.csr_pem = request.csr_pem
        self.duration_seconds = request.duration_seconds
        self.is_ca = request.is_ca
        self.usages = [u.name.lower().replace("_", "-") for u in request.usages]


def plugin_errors(function):
    """Turns an `IssuerError` into the export's `Err(plugin-error)`."""

    def wrapper(*args):
        try:
            return function(*args)
        except IssuerError as e:
            raise Err(types.PluginError(reason=e.reason, message=e.message, retryable=e.retryable))

    return wrapper


class WitWorld(wit_world.WitWorld):
    def info(self):
        return types.PluginInfo(
            name="{{name}}",
            version="0.1.0",
            issuer_types=["plugin"],
            description="Signs certificates with a CA kept in a Secret ({{name}}, Python).",
            needs=[],
        )

    @plugin_errors
    def validate(self, config):
        load_ca(config.spec_json, "ErrGetKeyPair", "ErrInvalidKeyPair")
        return types.Readiness(reason="KeyPairVerified", message="Signing CA verified")

    @plugin_errors
    def issue(self, request, state):
        ca, ca_signer = load_ca(request.issuer.spec_json, "SecretGetError", "SecretInvalidData")
        serial = os.urandom(16)
        chain, ca_pem = logic.sign_request(
            Request(request), ca, ca_signer, clock.now_unix_seconds(), serial
        )
        return types.IssueOutcome_Issued(
            types.Issued(certificate_chain_pem=chain, ca_pem=ca_pem)
        )
