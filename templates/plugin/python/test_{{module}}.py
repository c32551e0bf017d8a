"""Native unit tests of `{{module}}` (`python -m unittest`): a CA and a CSR
made by the openssl command, the CA key used through `openssl dgst -sign`
in place of the host's signer, and the result checked by `openssl verify`."""

import calendar
import os
import subprocess
import tempfile
import time
import unittest
from types import SimpleNamespace

from asn1crypto import pem

import {{module}} as logic

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def openssl(*args, input=None, cwd=None):
    done = subprocess.run(["openssl", *args], input=input, cwd=cwd, capture_output=True)
    if done.returncode != 0:
        raise AssertionError(f"openssl {args} failed: {done.stderr.decode()}")
    return done.stdout


class OpensslSigner:
    """Stands in for the host's `signer`: the key stays in a file."""

    def __init__(self, key_path):
        self.key_path = key_path
        self.public_key = openssl("pkey", "-in", key_path, "-pubout", "-outform", "DER")

    def sign(self, algorithm, data):
        assert algorithm == "ecdsa-p256-sha256", algorithm
        return openssl("dgst", "-sha256", "-sign", self.key_path, input=data)


class IssuerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.ca_crt = cls.make_cert("ca", "basicConstraints=critical,CA:TRUE")
        cls.signer = OpensslSigner(cls.path("ca.key"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir, name)

    @classmethod
    def make_cert(cls, name, constraints):
        openssl("req", "-x509", *EC, "-keyout", f"{name}.key", "-out", f"{name}.crt",
                "-subj", f"/CN={name}", "-days", "30", "-addext", constraints, cwd=cls.dir)
        with open(cls.path(f"{name}.crt"), "rb") as f:
            return f.read()

    def csr(self, subject="/CN=example.com", sans="DNS:example.com,DNS:www.example.com,IP:127.0.0.1"):
        openssl("req", "-new", *EC, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", subject,
                "-addext", f"subjectAltName={sans}", cwd=self.dir)
        with open(self.path("leaf.csr")) as f:
            return f.read()

    def request(self, **fields):
        values = dict(csr_pem=self.csr(), duration_seconds=None, is_ca=False, usages=[])
        values.update(fields)
        return SimpleNamespace(**values)

    def sign(self, request):
        ca = logic.read_ca(self.ca_crt, self.signer.public_key, "ca", "SecretInvalidData")
        chain, ca_pem = logic.sign_request(request, ca, self.signer, int(time.time()), b"\xab" * 16)
        self.assertEqual(pem.unarmor(ca_pem.encode())[2], pem.unarmor(self.ca_crt)[2])
        with open(self.path("leaf.crt"), "w") as f:
            f.write(chain)
        verified = openssl("verify", "-CAfile", self.path("ca.crt"), self.path("leaf.crt")).decode()
        self.assertIn(": OK", verified)
        return openssl("x509", "-noout", "-text", "-dates", "-in", self.path("leaf.crt")).decode()

    def test_signs_with_the_ca_as_cert_manager_does(self):
        text = self.sign(self.request())
        self.assertIn("DNS:example.com, DNS:www.example.com, IP Address:127.0.0.1", text)
        self.assertIn("Subject: CN = example.com", text)
        self.assertIn("Issuer: CN = ca", text)
        self.assertIn("Digital Signature, Key Encipherment", text)
        self.assertIn("CA:FALSE", text)
        self.assertIn("Serial Number:\n            2b:ab:ab", text)  # positive: top bit cleared
        # 90 days asked by default, but the CA ends in 30: capped at its notAfter.
        ca_end = openssl("x509", "-noout", "-enddate", "-in", self.path("ca.crt")).decode()
        self.assertIn(ca_end.strip(), text)

    def test_duration_is_ca_and_extended_usages(self):
        text = self.sign(self.request(duration_seconds=3600, is_ca=True,
                                      usages=["server-auth", "client-auth"]))
        self.assertIn("CA:TRUE", text)
        self.assertIn("Certificate Sign, CRL Sign", text)
        self.assertIn("TLS Web Server Authentication, TLS Web Client Authentication", text)
        self.assertNotIn("Digital Signature", text)
        dates = dict(line.split("=", 1) for line in text.splitlines() if line.startswith("not"))
        start, end = (calendar.timegm(time.strptime(dates[k], "%b %d %H:%M:%S %Y GMT"))
                      for k in ("notBefore", "notAfter"))
        self.assertEqual(end - start, 3600)

    def test_empty_subject_makes_the_alt_names_critical(self):
        text = self.sign(self.request(csr_pem=self.csr(subject="/", sans="DNS:only.example.com")))
        self.assertRegex(text, r"Subject Alternative Name: critical\s+DNS:only\.example\.com")

    def test_refuses_what_is_not_a_ca_or_not_its_key(self):
        leaf_crt = self.make_cert("leaf", "basicConstraints=critical,CA:FALSE")
        leaf_key = OpensslSigner(self.path("leaf.key")).public_key
        with self.assertRaises(logic.IssuerError) as caught:
            logic.read_ca(leaf_crt, leaf_key, "leaf", "ErrInvalidKeyPair")
        self.assertEqual(caught.exception.reason, "ErrInvalidKeyPair")
        self.assertEqual(caught.exception.message,
                         "Invalid CA in Secret leaf: tls.crt is not a CA certificate")
        self.assertFalse(caught.exception.retryable)
        with self.assertRaises(logic.IssuerError) as caught:
            logic.read_ca(self.ca_crt, leaf_key, "ca", "ErrInvalidKeyPair")
        self.assertEqual(caught.exception.message,
                         "Invalid CA in Secret ca: tls.key is not the key of tls.crt")
        with self.assertRaises(logic.IssuerError) as caught:
            logic.read_ca(b"not PEM", leaf_key, "ca", "ErrInvalidKeyPair")
        self.assertTrue(caught.exception.message.startswith("Invalid CA in Secret ca: tls.crt: "))

    def test_reads_the_secret_name_from_the_config(self):
        spec = '{"plugin": {"name": "{{name}}", "config": {"caSecretRef": {"name": "my-ca"}}}}'
        self.assertEqual(logic.ca_secret_name(spec), "my-ca")
        with self.assertRaises(logic.IssuerError) as caught:
            logic.ca_secret_name('{"plugin": {"name": "{{name}}"}}')
        self.assertEqual(caught.exception.reason, "InvalidConfig")
        self.assertFalse(caught.exception.retryable)


if __name__ == "__main__":
    unittest.main()
