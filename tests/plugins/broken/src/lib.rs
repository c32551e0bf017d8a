//! A self-signing issuer plugin with deliberate faults, for the tests of
//! `certwasm plugin conformance`: each fault must fail its own row of the
//! battery and no other.
//!
//! The faults are chosen by `spec.plugin.config.faults` (a list of names);
//! without it the plugin has the default set [`DEFAULT_FAULTS`]:
//!
//! - `drop-ip-uri-sans`: IP and URI SANs of the CSR are left out;
//! - `ignore-duration`: the requested duration is ignored (90 days always);
//! - `trap-on-malformed-csr`: a CSR that does not parse panics (a trap);
//! - `refuse-ca-unworded`: `isCA` requests are refused with an error whose
//!   reason is not CamelCase and whose message has no `": "`.
//!
//! Others, off by default: `pend-once` (answers pending once, then issues
//! from its state: correct behaviour), `pend-forever`, `egress` (contacts
//! a host the issuer config does not name), `hog-memory` (grows past any
//! reasonable memory cap), `halve-duration` (issues for half the requested
//! duration and says so in a warning: acceptable, with a warning).

use certwasm_plugin_sdk::bindings::Guest;
use certwasm_plugin_sdk::bindings::certwasm::issuer::{clock, http, log};
use certwasm_plugin_sdk::host::HostKey;
use certwasm_plugin_sdk::types::{
    CertificateRequest, HttpMethod, HttpRequest, IssueOutcome, Issued, IssuerConfig, Need, Pending,
    PluginError, PluginInfo, Readiness,
};
use certwasm_plugin_sdk::x509::{self, CertificateParams, Csr, IssuedBy};
use certwasm_plugin_sdk::{ResultExt, failed};

/// The faults the plugin has when its config names none.
const DEFAULT_FAULTS: [&str; 4] = [
    "drop-ip-uri-sans",
    "ignore-duration",
    "trap-on-malformed-csr",
    "refuse-ca-unworded",
];

fn faults(config: &IssuerConfig) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(&config.spec_json)
        .ok()
        .and_then(|spec| {
            spec.pointer("/plugin/config/faults")?
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
        })
        .unwrap_or_else(|| DEFAULT_FAULTS.iter().map(|f| (*f).to_owned()).collect())
}

/// A DER length.
fn length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    length(&mut out, contents.len());
    out.extend_from_slice(contents);
    out
}

/// Splits DER into its top-level elements (tag, whole element).
fn elements(mut der: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while der.len() >= 2 {
        let tag = der[0];
        let (len, header) = if der[1] < 0x80 {
            (der[1] as usize, 2)
        } else {
            let n = (der[1] & 0x7f) as usize;
            let len = der[2..2 + n]
                .iter()
                .fold(0usize, |a, b| a << 8 | *b as usize);
            (len, 2 + n)
        };
        out.push((tag, &der[..header + len]));
        der = &der[header + len..];
    }
    out
}

/// The contents of a DER element.
fn contents(element: &[u8]) -> &[u8] {
    let header = if element[1] < 0x80 {
        2
    } else {
        2 + (element[1] & 0x7f) as usize
    };
    &element[header..]
}

/// The CSR again, with only its DNS and email SANs: a request info the
/// SDK's reader accepts (it does not read the signature).
fn without_ip_and_uri_sans(csr: &Csr<'_>) -> Vec<u8> {
    const EXTENSION_REQUEST: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e];
    const SUBJECT_ALT_NAME: [u8; 3] = [0x55, 0x1d, 0x11];
    let kept: Vec<u8> = csr
        .subject_alt_names_der()
        .map(|names| {
            elements(contents(names))
                .into_iter()
                // [1] rfc822Name, [2] dNSName; not [6] URI, [7] iPAddress
                .filter(|(tag, _)| matches!(tag, 0x81 | 0x82))
                .flat_map(|(_, element)| element.to_vec())
                .collect()
        })
        .unwrap_or_default();
    let san = tlv(
        0x30,
        &[tlv(0x06, &SUBJECT_ALT_NAME), tlv(0x04, &tlv(0x30, &kept))].concat(),
    );
    let attribute = tlv(
        0x30,
        &[tlv(0x06, &EXTENSION_REQUEST), tlv(0x31, &tlv(0x30, &san))].concat(),
    );
    let info = tlv(
        0x30,
        &[
            tlv(0x02, &[0]),
            csr.subject_der().to_vec(),
            csr.public_key_der().to_vec(),
            tlv(0xa0, &attribute),
        ]
        .concat(),
    );
    tlv(0x30, &info)
}

fn issue(request: &CertificateRequest, faults: &[String]) -> Result<Issued, PluginError> {
    let has = |fault: &str| faults.iter().any(|f| f == fault);
    if request.is_ca && has("refuse-ca-unworded") {
        return Err(failed("not_supported", "CA certificates are not supported"));
    }
    let der =
        x509::decode_csr_pem(&request.csr_pem).or_fail("ErrorParsing", "Error decoding the CSR")?;
    let csr = if has("trap-on-malformed-csr") {
        #[allow(clippy::unwrap_used)] // the fault this plugin exists to have
        Csr::from_der(&der).unwrap()
    } else {
        Csr::from_der(&der).or_fail("ErrorParsing", "Error parsing the CSR")?
    };
    let rebuilt;
    let csr = if has("drop-ip-uri-sans") {
        rebuilt = without_ip_and_uri_sans(&csr);
        Csr::from_der(&rebuilt).or_fail("ErrorParsing", "Error rebuilding the CSR")?
    } else {
        csr
    };
    let mut params = CertificateParams::for_request(request);
    if has("ignore-duration") {
        params.duration_seconds = None;
    }
    if has("halve-duration") {
        params.duration_seconds = params.duration_seconds.map(|d| d / 2);
        log::write(
            log::Level::Warn,
            "Issuing for half the requested duration: the upstream CA's policy caps lifetimes",
        );
    }
    let handle = request
        .request_key
        .clone()
        .ok_or_else(|| failed("MissingKey", "Error signing: no request key was lent"))?;
    let key = HostKey::new(handle).or_fail("ErrorPublicKey", "Error loading the key")?;
    let serial = x509::random_serial().or_retry("ErrorSigning", "Error signing certificate")?;
    let certificate = x509::sign_csr(
        &csr,
        &params,
        IssuedBy::SelfSigned,
        &key,
        clock::now_unix_seconds(),
        serial,
    )
    .or_fail("ErrorSigning", "Error signing certificate")?;
    let pem = x509::pem::encode("CERTIFICATE", &certificate);
    Ok(Issued {
        ca_pem: Some(pem.clone()),
        certificate_chain_pem: pem,
    })
}

struct Broken;

impl Guest for Broken {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "broken".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            issuer_types: vec!["plugin".into()],
            description:
                "A self-signing issuer with deliberate faults; for conformance tests only.".into(),
            needs: vec![Need::RequestKey],
        }
    }

    fn validate(_config: IssuerConfig) -> Result<Readiness, PluginError> {
        Ok(Readiness {
            reason: "IsReady".into(),
            message: String::new(),
        })
    }

    fn issue(
        request: CertificateRequest,
        state: Option<Vec<u8>>,
    ) -> Result<IssueOutcome, PluginError> {
        let faults = faults(&request.issuer);
        let has = |fault: &str| faults.iter().any(|f| f == fault);
        if has("hog-memory") {
            let hog = vec![1u8; 256 << 20];
            std::hint::black_box(&hog);
        }
        if has("egress") {
            // Whatever the answer (the host refuses it), the attempt is the fault.
            let _ = http::send(&HttpRequest {
                method: HttpMethod::Get,
                url: "http://unnamed.example/".into(),
                headers: Vec::new(),
                body: Vec::new(),
                ca_bundle_pem: None,
                timeout_ms: Some(1000),
            });
        }
        let resumed = state.as_deref() == Some(b"submitted");
        if has("pend-forever") || (has("pend-once") && !resumed) {
            return Ok(IssueOutcome::Pending(Pending {
                state: b"submitted".to_vec(),
                retry_after_ms: 10,
                waiting_for: "the request to be approved upstream".into(),
                events: Vec::new(),
            }));
        }
        issue(&request, &faults).map(IssueOutcome::Issued)
    }
}

certwasm_plugin_sdk::export!(Broken);
