//! A hostile issuer plugin for the sandbox tests. What it does is chosen by
//! `spec.plugin.config.attack`; `"none"` behaves, every other value attacks
//! the host in one way. Each attack must fail its own call only.

use certwasm_plugin_sdk::bindings::Guest;
use certwasm_plugin_sdk::bindings::certwasm::issuer::issuer_status::{self, AcmeAccount};
use certwasm_plugin_sdk::bindings::certwasm::issuer::types::*;
use certwasm_plugin_sdk::bindings::certwasm::issuer::{cache, http, secrets, signer};

struct Hostile;

fn attack(config: &IssuerConfig) -> String {
    serde_json::from_str::<serde_json::Value>(&config.spec_json)
        .ok()
        .and_then(|spec| {
            spec.pointer("/plugin/config/attack")?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "none".to_owned())
}

/// What a failure says: a host error's own sentence, or the plugin's.
trait Said {
    fn said(self) -> String;
}

impl Said for String {
    fn said(self) -> String {
        self
    }
}

impl Said for &str {
    fn said(self) -> String {
        self.to_owned()
    }
}

impl Said for HostError {
    fn said(self) -> String {
        self.message().to_owned()
    }
}

fn fail(message: impl Said) -> PluginError {
    PluginError {
        reason: "Hostile".into(),
        message: message.said(),
        retryable: false,
    }
}

fn issued(text: String) -> Result<IssueOutcome, PluginError> {
    Ok(IssueOutcome::Issued(Issued {
        certificate_chain_pem: text,
        ca_pem: None,
    }))
}

/// An account report, for the tests of when the host honours one.
fn report(uri: &str) {
    issuer_status::report_acme_account(&AcmeAccount {
        uri: uri.into(),
        email: "hostile@example.com".into(),
    });
}

fn http_request(url: &str) -> HttpRequest {
    HttpRequest {
        method: HttpMethod::Get,
        url: url.into(),
        headers: Vec::new(),
        body: Vec::new(),
        ca_bundle_pem: None,
        timeout_ms: Some(2000),
    }
}

fn get(url: &str) -> Result<HttpResponse, String> {
    http::send(&http_request(url)).map_err(Said::said)
}

/// Recursion that lives on the wasm call stack (its frames hold no
/// addressable locals), so it exhausts the engine's stack limit.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    1 + recurse(depth + 1)
}

/// Recursion whose frames hold an array, which Rust keeps on the shadow
/// stack in linear memory: it runs off the bottom of that stack.
#[inline(never)]
fn recurse_in_memory(depth: u64, pad: &mut [u8; 256]) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    pad[(depth % 256) as usize] = depth as u8;
    let mut next = *pad;
    std::hint::black_box(&mut next);
    1 + recurse_in_memory(depth + 1, &mut next)
}

impl Guest for Hostile {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            issuer_types: vec!["plugin".into()],
            description: "Misbehaves on request; for sandbox tests only.".into(),
            needs: Vec::new(),
        }
    }

    fn validate(config: IssuerConfig) -> Result<Readiness, PluginError> {
        match attack(&config).as_str() {
            "loop" => loop {
                std::hint::black_box(0u64);
            },
            // Two reports: the last one wins.
            "report-account" => {
                report("https://acme.test/my-account/first");
                report("https://acme.test/my-account/2");
                Ok(Readiness {
                    reason: "ACMEAccountRegistered".into(),
                    message: "reported".into(),
                })
            }
            // A report from a validation that fails is dropped.
            "report-then-fail" => {
                report("https://acme.test/my-account/3");
                Err(fail("failed after reporting"))
            }
            _ => Ok(Readiness {
                reason: "IsReady".into(),
                message: "hostile plugin at your service".into(),
            }),
        }
    }

    fn issue(
        request: CertificateRequest,
        _state: Option<Vec<u8>>,
    ) -> Result<IssueOutcome, PluginError> {
        match attack(&request.issuer).as_str() {
            "none" => issued("ok".into()),
            "loop" => loop {
                std::hint::black_box(0u64);
            },
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = vec![0u8; 1 << 20];
                    chunk[0] = 1;
                    hoard.push(std::hint::black_box(chunk));
                }
            }
            "panic" => panic!("hostile plugin panicked on purpose"),
            "print" => {
                println!("hello from stdout");
                eprintln!("hello from stderr");
                issued("ok".into())
            }
            "recursion" => issued(recurse(0).to_string()),
            "shadow-stack" => {
                let mut pad = [0u8; 256];
                issued(recurse_in_memory(0, &mut pad).to_string())
            }
            "huge-result" => issued("A".repeat(8 << 20)),
            "http-not-allowed" => get("https://not-allowed.example/")
                .map(|_| {
                    IssueOutcome::Pending(Pending {
                        state: Vec::new(),
                        retry_after_ms: 0,
                        waiting_for: "got through".into(),
                        events: Vec::new(),
                    })
                })
                .map_err(fail),
            "http-loopback-by-name" => get("http://allowed.test/")
                .map_err(fail)
                .and_then(|r| issued(r.status.to_string())),
            "http-metadata-by-name" => get("http://metadata.test/latest/meta-data/")
                .map_err(fail)
                .and_then(|r| issued(r.status.to_string())),
            "secret-unreferenced" => match secrets::get("someone-elses-secret") {
                Ok(found) => issued(format!("read it: {}", found.is_some())),
                Err(err) => Err(fail(err)),
            },
            "secret-private-key" => {
                // The referenced Secret is readable, minus its private key;
                // the key is usable only through a handle.
                let secret = secrets::get("referenced")
                    .map_err(fail)?
                    .ok_or_else(|| fail("missing"))?;
                let fields: Vec<String> = secret.data.iter().map(|(k, _)| k.clone()).collect();
                let handle = signer::load("referenced", "tls.key").map_err(fail)?;
                let spki = signer::public_key(&handle).map_err(fail)?;
                issued(format!("fields={} spki={}", fields.join(","), spki.len()))
            }
            "forged-handle" => match signer::sign(
                "secret:someone-elses-secret/tls.key",
                SignatureAlgorithm::EcdsaP256Sha256,
                b"data",
            ) {
                Ok(_) => issued("signed with a key it was never given".into()),
                Err(err) => Err(fail(err)),
            },
            "ambient" => {
                // What the sandbox grants by way of WASI: nothing.
                let env = std::env::vars().count();
                let args = std::env::args().count();
                let fs = std::fs::read_to_string("/etc/passwd").is_ok();
                let dir = std::fs::read_dir(".").is_ok();
                let net = std::net::TcpStream::connect("127.0.0.1:22").is_ok();
                issued(format!("env={env} args={args} fs={fs} dir={dir} net={net}"))
            }
            "tls-unreferenced-secret" => {
                // A client certificate from a Secret the issuer never named.
                let tls = TlsOptions {
                    client_certificate: Some(ClientCertificate {
                        certificate_secret: "referenced".into(),
                        certificate_field: "tls.crt".into(),
                        key_secret: "someone-elses-secret".into(),
                        key_field: "tls.key".into(),
                    }),
                    server_name: None,
                };
                http::send_tls(&http_request("https://allowed.test/"), &tls)
                    .map_err(fail)
                    .and_then(|r| issued(r.status.to_string()))
            }
            "tls-over-http" => {
                // TLS options on a plain http URL must fail, not be ignored.
                let tls = TlsOptions {
                    client_certificate: None,
                    server_name: Some("vault.internal".into()),
                };
                http::send_tls(&http_request("http://allowed.test/"), &tls)
                    .map_err(fail)
                    .and_then(|r| issued(r.status.to_string()))
            }
            // Outside validate a report is ignored, and the call goes on.
            "report-account" => {
                report("https://acme.test/my-account/4");
                issued("reported".into())
            }
            "cache" => {
                // What an issuer finds in the cache, and then leaves there:
                // each issuer must only ever find its own value.
                let found = cache::get("who").map(|v| String::from_utf8_lossy(&v).into_owned());
                cache::set("who", request.issuer.name.as_bytes(), 60).map_err(fail)?;
                issued(format!("found={}", found.as_deref().unwrap_or("nothing")))
            }
            other => Err(fail(format!("unknown attack {other:?}"))),
        }
    }
}

certwasm_plugin_sdk::export!(Hostile);
