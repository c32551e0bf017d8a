//! An issuer plugin built against the frozen `certwasm:issuer@0.2.0`
//! contract (`wit/0.2.0/issuer.wit`), as a plugin compiled before 0.3.0
//! would be. It calls into each 0.2.0 interface (secrets, http with
//! `send-tls`, cache, log, clock, signer) and returns readiness, pending
//! (with an event) and issued outcomes, so that the host's 0.2.0 linking is
//! exercised end to end. It cannot report an ACME account (`issuer-status`
//! is 0.3.0's), so the host must leave `status.acme` alone for it.

#[allow(missing_docs, clippy::all, missing_debug_implementations)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/0.2.0",
        world: "issuer",
    });
}

use bindings::Guest;
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
            name: "legacy-0-2".into(),
            version: "0.2.0".into(),
            issuer_types: vec!["plugin".into()],
            description: "Built against certwasm:issuer@0.2.0; for tests only.".into(),
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
        log::write(log::Level::Info, "0.2.0 plugin validated");
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
                order: None,
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
                "state={} cached={} spki={} signed={}",
                String::from_utf8_lossy(&state),
                cached.as_deref().unwrap_or("nothing"),
                spki.len(),
                !signature.is_empty()
            ),
            ca_pem: None,
        }))
    }
}

bindings::export!(Legacy with_types_in bindings);
