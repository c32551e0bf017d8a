//! An issuer plugin built against the frozen `certwasm:issuer@0.3.0`
//! contract (`wit/0.3.0/issuer.wit`), as a plugin compiled before 0.4.0
//! would be. It calls into each 0.3.0 interface (secrets, http with
//! `send-tls`, cache, log, clock, signer, issuer-status) and returns
//! readiness, pending (with an event and an ACME-style order, which 0.4.0
//! moved to the `orders` interface) and issued outcomes, so that the host's
//! conversions between 0.3.0 and 0.4.0 are exercised end to end. It serves
//! the issuer type `acme`, so the host gives it what 0.3.0 gave that type:
//! order mirroring and the presented challenges in the request.

#[allow(missing_docs, clippy::all, missing_debug_implementations)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/0.3.0",
        world: "issuer",
    });
}

use bindings::Guest;
use bindings::certwasm::issuer::issuer_status::{self, AcmeAccount};
use bindings::certwasm::issuer::types::*;
use bindings::certwasm::issuer::{cache, clock, http, log, secrets, signer};

struct Legacy;

fn fail(message: String) -> PluginError {
    PluginError {
        reason: "LegacyFailed".into(),
        message,
        retryable: false,
    }
}

impl Guest for Legacy {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "legacy-0-3".into(),
            version: "0.3.0".into(),
            issuer_types: vec!["acme".into()],
            description: "Built against certwasm:issuer@0.3.0; for tests only.".into(),
        }
    }

    fn validate(_config: IssuerConfig) -> Result<Readiness, PluginError> {
        let secret = secrets::get("referenced")
            .map_err(fail)?
            .ok_or_else(|| fail("no Secret".into()))?;
        let fields: Vec<&str> = secret.data.iter().map(|(k, _)| k.as_str()).collect();
        let response = http::send_tls(
            &HttpRequest {
                method: "GET".into(),
                url: "https://allowed.test/".into(),
                headers: Vec::new(),
                body: Vec::new(),
                ca_bundle_pem: None,
                timeout_ms: Some(2000),
            },
            &TlsOptions {
                client_certificate: None,
                server_name: Some("vault.internal".into()),
            },
        )
        .map_err(fail)?;
        // Found again by `issue`: the cache is kept per issuer across calls.
        cache::set("validated", b"yes", 60).map_err(fail)?;
        log::write(log::Level::Info, "0.3.0 plugin validated");
        issuer_status::report_acme_account(&AcmeAccount {
            uri: "https://acme.test/my-account/3".into(),
            email: "legacy@example.com".into(),
        });
        Ok(Readiness {
            reason: "LegacyReady".into(),
            message: format!(
                "fields={} https={} clock={}",
                fields.join(","),
                response.status,
                clock::now_unix_seconds() > 0
            ),
        })
    }

    fn issue(
        request: CertificateRequest,
        state: Option<Vec<u8>>,
    ) -> Result<IssueOutcome, PluginError> {
        let Some(state) = state else {
            return Ok(IssueOutcome::Pending(Pending {
                state: b"second".to_vec(),
                retry_after_ms: 5,
                waiting_for: "a second call".into(),
                events: vec![Event {
                    type_: EventType::Normal,
                    reason: "LegacyPending".into(),
                    message: format!("usages {:?}", request.usages),
                }],
                order: Some(Order {
                    url: "https://acme.test/order/3".into(),
                    state: "pending".into(),
                    reason: String::new(),
                    finalize_url: "https://acme.test/order/3/finalize".into(),
                    certificate_url: None,
                    challenges: vec![Challenge {
                        url: "https://acme.test/chall/3".into(),
                        authorization_url: "https://acme.test/authz/3".into(),
                        challenge_type: "dns-01".into(),
                        dns_name: "example.com".into(),
                        wildcard: true,
                        token: "token-3".into(),
                        key: "txt-value".into(),
                        state: "processing".into(),
                        reason: String::new(),
                        solver_json: "{}".into(),
                    }],
                }),
            }));
        };
        let cached = cache::get("validated").map(|v| String::from_utf8_lossy(&v).into_owned());
        cache::remove("validated");
        let key = signer::load("referenced", "tls.key").map_err(fail)?;
        let spki = signer::public_key(&key).map_err(fail)?;
        let signature = signer::sign(
            &key,
            SignatureAlgorithm::EcdsaP256Sha256,
            request.csr_pem.as_bytes(),
        )
        .map_err(fail)?;
        Ok(IssueOutcome::Issued(Issued {
            certificate_chain_pem: format!(
                "state={} presented={} kind={} cached={} spki={} signed={}",
                String::from_utf8_lossy(&state),
                request.presented_challenges.join(","),
                request.issuer.kind,
                cached.as_deref().unwrap_or("nothing"),
                spki.len(),
                !signature.is_empty()
            ),
            ca_pem: None,
        }))
    }
}

bindings::export!(Legacy with_types_in bindings);
