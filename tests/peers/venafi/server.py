#!/usr/bin/env python3
"""A local Venafi server for tests: the TPP WebSDK and Venafi Cloud endpoints
that cert-manager's Venafi issuer uses (through vcert), with vcert's
request and response shapes, signing with a CA it makes at start.

Python 3 standard library plus the `openssl` CLI. See README.md in this
folder for what is implemented, from which reference, and the controls.

    server.py --state-dir DIR [--processing-polls N] ...

writes DIR/ready.json once listening:
    {"api": "https://127.0.0.1:PORT/", "control": "http://127.0.0.1:PORT/",
     "ca": "DIR/root.pem", "pid": PID}
"""

import argparse
import base64
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit, parse_qs


def openssl(*args, stdin=None):
    """Runs openssl; raises with its stderr on failure."""
    done = subprocess.run(
        ["openssl", *args], input=stdin, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace").strip())
    return done.stdout


EXTENSIONS = """
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[issuing]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[serving]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


class Pki:
    """A root, an issuing CA below it that signs requests, and a serving
    certificate for the HTTPS listener (signed by the root)."""

    def __init__(self, directory):
        self.dir = directory
        self.ext = os.path.join(directory, "extensions.cnf")
        with open(self.ext, "w", encoding="utf-8") as f:
            f.write(EXTENSIONS)
        self.root = self._path("root")
        self.issuing = self._path("issuing")
        self.serving = self._path("serving")
        self._make_key("root")
        openssl(
            "req", "-x509", "-new", "-key", self.root + ".key", "-out", self.root + ".pem",
            "-subj", "/O=Local Venafi/CN=Local Venafi Test Root CA", "-days", "3650",
            "-config", self.ext, "-extensions", "root",
        )
        self._make_signed("issuing", "/O=Local Venafi/CN=Local Venafi Issuing CA", "root", "issuing")
        self._make_signed("serving", "/CN=localhost", "root", "serving")
        self.root_pem = self._read("root")
        self.issuing_pem = self._read("issuing")

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _read(self, name):
        with open(self._path(name) + ".pem", encoding="utf-8") as f:
            return f.read()

    def _make_key(self, name):
        openssl(
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", self._path(name) + ".key",
        )

    def _make_signed(self, name, subject, issuer, section):
        self._make_key(name)
        csr = openssl("req", "-new", "-key", self._path(name) + ".key", "-subj", subject)
        openssl(
            "x509", "-req", "-CA", self._path(issuer) + ".pem", "-CAkey",
            self._path(issuer) + ".key", "-set_serial", str(secrets.randbits(63)),
            "-days", "3650", "-extfile", self.ext, "-extensions", section,
            "-out", self._path(name) + ".pem", stdin=csr,
        )

    def sign(self, csr_pem, days):
        """Signs a PEM CSR with the issuing CA; returns the leaf PEM. Names
        and other extensions of the request are copied."""
        with tempfile.NamedTemporaryFile("w", suffix=".csr", dir=self.dir, delete=False) as f:
            f.write(csr_pem)
            path = f.name
        try:
            openssl("req", "-in", path, "-noout", "-verify")
            return openssl(
                "x509", "-req", "-in", path, "-CA", self.issuing + ".pem", "-CAkey",
                self.issuing + ".key", "-set_serial", str(secrets.randbits(63)),
                "-days", str(max(1, days)), "-extfile", self.ext, "-extensions", "leaf",
                "-copy_extensions", "copy",
            ).decode()
        finally:
            os.unlink(path)

    def chain(self, leaf_pem, include_chain=True, root_first=False):
        """The chain Venafi returns: leaf, issuing CA, root (or reversed)."""
        blocks = [leaf_pem, self.issuing_pem, self.root_pem] if include_chain else [leaf_pem]
        if root_first:
            blocks.reverse()
        return "".join(b if b.endswith("\n") else b + "\n" for b in blocks)


def cloud_days(period):
    """Days of an ISO 8601 validity period (`P90D`, `PT24H`), default 90."""
    if not period:
        return 90
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?)?", period)
    if not match:
        return 90
    days = int(match.group(1) or 0)
    hours = int(match.group(2) or 0)
    return max(1, days + (hours + 23) // 24)


class State:
    """Everything the server knows, behind one lock."""

    def __init__(self, args, pki):
        self.lock = threading.Lock()
        self.pki = pki
        self.username = args.username
        self.password = args.password
        self.static_token = args.access_token
        self.api_key = args.api_key
        self.token_lifetime = args.token_lifetime
        self.processing_polls = args.processing_polls
        self.zones = set(z for z in args.zones.split(",") if z)
        self.cloud_zones = set(z for z in args.cloud_zones.split(",") if z)
        self.refused = set()
        self.tokens = {}  # token -> expiry (unix seconds)
        self.expired = set()
        self.api_key_revoked = False
        self.fail = None  # {"count", "route", "status", "message"}
        self.cloud_outcome = None  # {"status", "message"}
        self.pickups = {}  # TPP DN -> {"remaining", "chain", "retrieves", "requests", ...}
        self.cloud_requests = {}  # id -> {...}
        self.cloud_certificates = {}  # id -> chain
        self.counts = {}
        self.statuses = {}
        self.busy = {}
        self.applications = {}  # app name -> id
        self.templates = {}  # (app, alias) -> id
        for zone in self.cloud_zones:
            app, _, alias = zone.rpartition("\\")
            self.applications.setdefault(app, str(uuid.uuid4()))
            self.templates[(app, alias)] = str(uuid.uuid4())

    def note(self, route, status, seconds):
        with self.lock:
            self.counts[route] = self.counts.get(route, 0) + 1
            answered = f"{route} {status}"
            self.statuses[answered] = self.statuses.get(answered, 0) + 1
            self.busy[route] = self.busy.get(route, 0.0) + seconds

    def stats(self):
        with self.lock:
            return {
                "requests": dict(self.counts),
                "statuses": dict(self.statuses),
                "busy_seconds": dict(self.busy),
                "pickups": {
                    dn: {"requests": p["requests"], "retrieves": p["retrieves"]}
                    for dn, p in self.pickups.items()
                },
                "cloud_requests": {
                    rid: {"polls": r["polls"]} for rid, r in self.cloud_requests.items()
                },
                "tokens_issued": len(self.tokens),
            }

    def take_fault(self, route):
        """The 500 to answer instead of `route`, if one is armed."""
        with self.lock:
            fail = self.fail
            if not fail or fail["count"] <= 0 or fail.get("route", "") not in route:
                return None
            fail["count"] -= 1
            return dict(fail)

    def configure(self, changes):
        with self.lock:
            if "processing_polls" in changes:
                self.processing_polls = int(changes["processing_polls"])
            if "fail" in changes:
                fail = changes["fail"] or None
                if fail:
                    fail = {
                        "count": int(fail.get("count", 1)),
                        "route": fail.get("route", ""),
                        "status": int(fail.get("status", 500)),
                        "message": fail.get("message", "Internal server error"),
                    }
                self.fail = fail
            for zone in changes.get("refuse_zones", []):
                self.refused.add(zone)
            for zone in changes.get("allow_zones", []):
                self.refused.discard(zone)
            if changes.get("expire_tokens"):
                self.expired.update(self.tokens)
                if self.static_token:
                    self.expired.add(self.static_token)
            if "revoke_api_key" in changes:
                self.api_key_revoked = bool(changes["revoke_api_key"])
            if "cloud_outcome" in changes:
                self.cloud_outcome = changes["cloud_outcome"] or None

    def reset_stats(self):
        with self.lock:
            self.counts.clear()
            self.statuses.clear()
            self.busy.clear()


def policy_dn(zone):
    if zone.startswith("\\VED\\Policy"):
        return zone
    return "\\VED\\Policy" + (zone if zone.startswith("\\") else "\\" + zone)


class Api(BaseHTTPRequestHandler):
    """The TPP WebSDK (`/vedsdk`, `/vedauth`) and Venafi Cloud
    (`/v1`, `/outagedetection/v1`) on one HTTPS listener."""

    protocol_version = "HTTP/1.1"
    state = None  # set on the class by main()

    def log_message(self, format, *args):  # noqa: A002 - the base class names it
        if os.environ.get("VENAFI_SERVER_LOG"):
            sys.stderr.write("venafi: " + (format % args) + "\n")

    def _send(self, status, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        started = time.monotonic()
        url = urlsplit(self.path)
        path = url.path
        route, handler, params = self._route(method, path)
        body = self._body() if method == "POST" else {}
        try:
            fault = self.state.take_fault(route) if handler else None
            if fault:
                status, answer = fault["status"], self._fault_body(path, fault["message"])
            elif handler is None:
                status, answer = self._not_found(path)
            elif body is None:
                status, answer = 400, self._fault_body(path, "The request body is not valid JSON")
            else:
                status, answer = handler(body, parse_qs(url.query), *params)
        except Exception as error:  # a bug here must still answer
            status, answer = 500, self._fault_body(path, f"server error: {error}")
        if isinstance(answer, tuple):
            self._send(status, answer[0], content_type=answer[1])
        elif status == 401 and path.startswith("/ved"):
            self._send(status, answer, headers=[("WWW-Authenticate", 'Bearer error="invalid_token"')])
        else:
            self._send(status, answer)
        self.state.note(route, status, time.monotonic() - started)

    def _route(self, method, path):
        routes = [
            ("GET", r"/vedsdk/?", self.tpp_ping),
            ("POST", r"/vedauth/authorize/oauth", self.tpp_oauth),
            ("GET", r"/vedauth/authorize/verify", self.tpp_verify),
            ("POST", r"/vedsdk/certificates/checkpolicy", self.tpp_check_policy),
            ("POST", r"/vedsdk/certificates/request", self.tpp_request),
            ("POST", r"/vedsdk/certificates/retrieve", self.tpp_retrieve),
            ("GET", r"/v1/useraccounts", self.cloud_account),
            ("GET", r"/outagedetection/v1/applications/name/([^/]+)", self.cloud_application),
            (
                "GET",
                r"/outagedetection/v1/applications/([^/]+)/certificateissuingtemplates/([^/]+)",
                self.cloud_template,
            ),
            ("POST", r"/outagedetection/v1/certificaterequests", self.cloud_request),
            ("GET", r"/outagedetection/v1/certificaterequests/([^/]+)", self.cloud_status),
            ("GET", r"/outagedetection/v1/certificates/([^/]+)/contents", self.cloud_contents),
        ]
        for want, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and want == method:
                name = re.sub(r"\([^)]*\)", "{}", pattern).replace("/?", "/")
                return f"{method} {name}", handler, [unquote(g) for g in match.groups()]
        return f"{method} (unknown)", None, []

    @staticmethod
    def _fault_body(path, message):
        if path.startswith("/ved"):
            return {"Error": message}
        return {"errors": [{"code": 10000, "message": message, "args": []}]}

    def _not_found(self, path):
        if path.startswith("/ved"):
            return 404, {"Error": f"The requested resource {path} was not found"}
        return 404, {"errors": [{"code": 10404, "message": f"Resource {path} not found", "args": []}]}

    # --- TPP ---------------------------------------------------------------

    def _bearer(self):
        """None when the bearer token is good, else the 401 to answer."""
        header = self.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else ""
        state = self.state
        with state.lock:
            if token and token in state.expired:
                why = "The access token has expired"
            elif token and (token in state.tokens or token == state.static_token):
                expiry = state.tokens.get(token)
                if expiry is None or expiry > time.time():
                    return None
                why = "The access token has expired"
            else:
                why = "The access token is not valid"
        return 401, {"error": "invalid_token", "error_description": why}

    def tpp_ping(self, _body, _query):
        return 200, {"Message": "Local Venafi WebSDK"}

    def tpp_oauth(self, body, _query):
        state = self.state
        if body.get("client_id") != "cert-manager.io":
            return 400, {"error": "invalid_client", "error_description": "Unknown client_id"}
        if "certificate:manage" not in str(body.get("scope", "")).replace(";", " ").split():
            return 400, {"error": "invalid_scope", "error_description": "certificate:manage is required"}
        if not state.username or (body.get("username"), body.get("password")) != (
            state.username,
            state.password,
        ):
            return 400, {
                "error": "invalid_grant",
                "error_description": "Username/password combination not valid",
            }
        token = secrets.token_urlsafe(18)
        now = int(time.time())
        with state.lock:
            state.tokens[token] = now + state.token_lifetime
        return 200, {
            "access_token": token,
            "refresh_token": secrets.token_urlsafe(18),
            "expires": now + state.token_lifetime,
            "expires_in": state.token_lifetime,
            "refresh_until": now + 10 * state.token_lifetime,
            "scope": "certificate:manage",
            "identity": "local:{" + str(uuid.uuid5(uuid.NAMESPACE_URL, state.username)) + "}",
            "token_type": "Bearer",
        }

    def tpp_verify(self, _body, _query):
        refused = self._bearer()
        if refused:
            return refused
        now = int(time.time())
        return 200, {
            "access_issued_on_unix_time": now,
            "application": "cert-manager.io",
            "expires_unix_time": now + self.state.token_lifetime,
            "scope": "certificate:manage",
            "valid_for": self.state.token_lifetime,
        }

    def _zone_known(self, dn):
        state = self.state
        with state.lock:
            known = {policy_dn(z) for z in state.zones}
            refused = {policy_dn(z) for z in state.refused}
        return dn in known and dn not in refused

    def tpp_check_policy(self, body, _query):
        refused = self._bearer()
        if refused:
            return refused
        dn = str(body.get("PolicyDN", ""))
        if not self._zone_known(dn):
            return 400, {"Error": f"PolicyDN: {dn} does not exist"}
        return 200, {
            "Error": None,
            "Policy": {
                "CertificateAuthority": {"Locked": False, "Value": "\\VED\\Policy\\CA Templates\\Local"},
                "CsrGeneration": {"Locked": False, "Value": "UserProvided"},
                "KeyGeneration": {"Locked": False, "Value": "Central"},
                "ManagementType": {"Locked": False, "Value": "Enrollment"},
                "PrivateKeyReuseAllowed": True,
                "SubjAltNameDnsAllowed": True,
                "SubjAltNameIpAllowed": True,
                "SubjAltNameUriAllowed": True,
                "SubjAltNameEmailAllowed": True,
                "SubjAltNameUpnAllowed": False,
                "UniqueSubjectEnforced": False,
                "WhitelistedDomains": [],
                "WildcardsAllowed": True,
            },
        }

    def tpp_request(self, body, _query):
        refused = self._bearer()
        if refused:
            return refused
        state = self.state
        dn_policy = str(body.get("PolicyDN", ""))
        if not self._zone_known(dn_policy):
            return 400, {"Error": f"PolicyDN: {dn_policy} does not exist"}
        csr = body.get("PKCS10")
        if not csr:
            return 400, {"Error": "PKCS10 is required when CSR generation is user provided"}
        name = str(body.get("ObjectName") or body.get("Subject") or "")
        if not name:
            return 400, {"Error": "ObjectName or Subject is required"}
        try:
            leaf = state.pki.sign(csr, 90)
        except RuntimeError as error:
            return 400, {"Error": f"The PKCS10 request is not valid: {error}"}
        dn = dn_policy + "\\" + name
        with state.lock:
            previous = state.pickups.get(dn, {})
            state.pickups[dn] = {
                "remaining": state.processing_polls,
                "leaf": leaf,
                "requests": previous.get("requests", 0) + 1,
                "retrieves": previous.get("retrieves", 0),
                "custom_fields": body.get("CustomFields", []),
            }
        return 200, {"CertificateDN": dn, "Guid": "{" + str(uuid.uuid4()) + "}"}

    def tpp_retrieve(self, body, _query):
        refused = self._bearer()
        if refused:
            return refused
        state = self.state
        dn = str(body.get("CertificateDN", ""))
        with state.lock:
            pickup = state.pickups.get(dn)
            if pickup is None:
                return 400, {"Error": f"Failed to lookup {dn}: Certificate does not exist."}
            pickup["retrieves"] += 1
            if pickup["remaining"] > 0:
                pickup["remaining"] -= 1
                return 202, {"Stage": 500, "Status": "Post CSR"}
            leaf = pickup["leaf"]
        chain = state.pki.chain(
            leaf,
            include_chain=bool(body.get("IncludeChain")),
            root_first=bool(body.get("RootFirstOrder")),
        )
        # Format "base64": the PEM text, base64-encoded, as TPP sends it.
        return 200, {
            "CertificateData": base64.b64encode(chain.encode()).decode(),
            "Filename": dn.rsplit("\\", 1)[-1] + ".cer",
            "Format": "Base64",
        }

    # --- Venafi Cloud ------------------------------------------------------

    def _api_key(self):
        state = self.state
        key = self.headers.get("tppl-api-key", "")
        if state.api_key and key == state.api_key and not state.api_key_revoked:
            return None
        return 401, {"errors": [{"code": 10501, "message": "Invalid or expired API key", "args": []}]}

    def cloud_account(self, _body, _query):
        refused = self._api_key()
        if refused:
            return refused
        return 200, {
            "user": {"username": "certwasm@example.com", "id": str(uuid.uuid4()), "companyId": "local"},
            "company": {"id": "local", "name": "Local Venafi"},
            "apiKey": {"username": "certwasm@example.com", "apiTypes": ["OUTAGEDETECTION"]},
        }

    def _zone_refused(self, app, alias):
        with self.state.lock:
            return f"{app}\\{alias}" in self.state.refused

    def cloud_application(self, _body, _query, app):
        refused = self._api_key()
        if refused:
            return refused
        state = self.state
        app_id = state.applications.get(app)
        if app_id is None:
            return 404, {
                "errors": [{"code": 10051, "message": f"Unable to find application with name {app}", "args": [app]}]
            }
        aliases = {
            alias: tid for (a, alias), tid in state.templates.items()
            if a == app and not self._zone_refused(a, alias)
        }
        return 200, {
            "id": app_id,
            "name": app,
            "companyId": "local",
            "certificateIssuingTemplateAliasIdMap": aliases,
        }

    def cloud_template(self, _body, _query, app, alias):
        refused = self._api_key()
        if refused:
            return refused
        template_id = self.state.templates.get((app, alias))
        if template_id is None or self._zone_refused(app, alias):
            return 404, {
                "errors": [{
                    "code": 10051,
                    "message": f"Unable to find certificate issuing template with alias {alias} in application {app}",
                    "args": [alias, app],
                }]
            }
        return 200, {
            "id": template_id,
            "companyId": "local",
            "certificateAuthority": "BUILTIN",
            "name": alias,
            "keyReuse": True,
            "subjectCNRegexes": [".*"],
            "sanDnsNameRegexes": [".*"],
        }

    def cloud_request(self, body, _query):
        refused = self._api_key()
        if refused:
            return refused
        state = self.state
        app_id = body.get("applicationId")
        template_id = body.get("certificateIssuingTemplateId")
        apps = {v: k for k, v in state.applications.items()}
        template = next(
            ((a, alias) for (a, alias), tid in state.templates.items() if tid == template_id),
            None,
        )
        if app_id not in apps:
            return 400, {"errors": [{"code": 10302, "message": f"Invalid application id {app_id}", "args": []}]}
        if template is None or template[0] != apps[app_id] or self._zone_refused(*template):
            return 400, {
                "errors": [{"code": 10303, "message": f"Invalid certificate issuing template id {template_id}", "args": []}]
            }
        csr = body.get("certificateSigningRequest")
        if not csr:
            return 400, {"errors": [{"code": 10100, "message": "certificateSigningRequest is required", "args": []}]}
        try:
            leaf = state.pki.sign(csr, cloud_days(body.get("validityPeriod")))
        except RuntimeError as error:
            return 400, {"errors": [{"code": 10101, "message": f"Invalid CSR: {error}", "args": []}]}
        request_id = str(uuid.uuid4())
        with state.lock:
            state.cloud_requests[request_id] = {
                "remaining": state.processing_polls,
                "leaf": leaf,
                "polls": 0,
                "applicationId": app_id,
                "certificateIssuingTemplateId": template_id,
                "outcome": dict(state.cloud_outcome) if state.cloud_outcome else None,
            }
        return 201, {
            "certificateRequests": [{
                "id": request_id,
                "applicationId": app_id,
                "certificateIssuingTemplateId": template_id,
                "status": "REQUESTED",
                "certificateIds": [],
                "creationDate": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime()),
            }]
        }

    def cloud_status(self, _body, _query, request_id):
        refused = self._api_key()
        if refused:
            return refused
        state = self.state
        with state.lock:
            request = state.cloud_requests.get(request_id)
            if request is None:
                return 404, {
                    "errors": [{"code": 10727, "message": f"Certificate request {request_id} not found", "args": []}]
                }
            request["polls"] += 1
            answer = {
                "id": request_id,
                "applicationId": request["applicationId"],
                "certificateIssuingTemplateId": request["certificateIssuingTemplateId"],
                "certificateIds": [],
            }
            if request["remaining"] > 0:
                request["remaining"] -= 1
                answer["status"] = "PENDING"
            elif request["outcome"]:
                answer["status"] = request["outcome"].get("status", "FAILED")
                answer["errorInformation"] = {
                    "type": "CERTIFICATE_REQUEST_ERROR",
                    "code": 10731,
                    "message": request["outcome"].get("message", "Certificate request failed"),
                    "args": [],
                }
            else:
                certificate_id = request.setdefault("certificateId", str(uuid.uuid4()))
                state.cloud_certificates[certificate_id] = request["leaf"]
                answer["status"] = "ISSUED"
                answer["certificateIds"] = [certificate_id]
        return 200, answer

    def cloud_contents(self, _body, query, certificate_id):
        refused = self._api_key()
        if refused:
            return refused
        leaf = self.state.cloud_certificates.get(certificate_id)
        if leaf is None:
            return 404, {"errors": [{"code": 10728, "message": f"Certificate {certificate_id} not found", "args": []}]}
        order = (query.get("chainOrder") or ["EE_FIRST"])[0]
        if (query.get("format") or ["PEM"])[0] != "PEM":
            return 400, {"errors": [{"code": 10100, "message": "Only format=PEM is served here", "args": []}]}
        chain = self.state.pki.chain(
            leaf, include_chain=order != "EE_ONLY", root_first=order == "ROOT_FIRST"
        )
        return 200, (chain.encode(), "text/plain")


class Control(BaseHTTPRequestHandler):
    """Plain HTTP on loopback: GET /stats, POST /config, POST /reset."""

    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/stats":
            self._send(200, self.state.stats())
        else:
            self._send(404, {"error": "unknown"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/config":
            self.state.configure(body)
            self._send(200, {"ok": True})
        elif self.path == "/reset":
            self.state.reset_stats()
            self._send(200, {"ok": True})
        elif self.path == "/shutdown":
            self._send(200, {"ok": True})
            threading.Thread(target=shutdown, daemon=True).start()
        else:
            self._send(404, {"error": "unknown"})


SERVERS = []
STOPPED = threading.Event()


def shutdown():
    for server in SERVERS:
        server.shutdown()
    STOPPED.set()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--port", type=int, default=0, help="HTTPS API port (0: any free)")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--zones", default="devops\\certwasm", help="TPP policy folders, comma-separated")
    parser.add_argument("--cloud-zones", default="certwasm\\Default", help="Cloud application\\template, comma-separated")
    parser.add_argument("--username", default="certwasm")
    parser.add_argument("--password", default="")
    parser.add_argument("--access-token", default="")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--token-lifetime", type=int, default=3600)
    parser.add_argument("--processing-polls", type=int, default=0)
    parser.add_argument("--max-seconds", type=int, default=3600, help="stop by itself after this long")
    args = parser.parse_args()

    os.makedirs(args.state_dir, exist_ok=True)
    pki = Pki(args.state_dir)
    state = State(args, pki)
    Api.state = state
    Control.state = state

    api = ThreadingHTTPServer(("127.0.0.1", args.port), Api)
    api.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.serving + ".pem", pki.serving + ".key")
    api.socket = context.wrap_socket(api.socket, server_side=True)
    control = ThreadingHTTPServer(("127.0.0.1", args.control_port), Control)
    control.daemon_threads = True
    SERVERS.extend([api, control])
    for server in SERVERS:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    timer = threading.Timer(args.max_seconds, shutdown)
    timer.daemon = True
    timer.start()

    ready = {
        "api": f"https://127.0.0.1:{api.server_address[1]}/",
        "control": f"http://127.0.0.1:{control.server_address[1]}/",
        "ca": pki.root + ".pem",
        "pid": os.getpid(),
    }
    path = os.path.join(args.state_dir, "ready.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(ready, f)
    os.replace(path + ".tmp", path)
    try:
        STOPPED.wait()
    except KeyboardInterrupt:
        shutdown()


if __name__ == "__main__":
    main()
