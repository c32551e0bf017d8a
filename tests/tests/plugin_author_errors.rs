//! What a plugin author sees when something is wrong: the plugin named as
//! its `info()` names it, an import the host does not provide named, and
//! what the plugin printed in the host's log.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certwasm::plugin::bindings::types::{
    CertificateRequest, IssueOutcome, IssuerConfig, IssuerKind,
};
use certwasm::plugin::{
    CallEffects, CallLimits, IssueCall, IssueError, OUTPUT_TARGET, Plugin, PluginCallError,
    PluginEngine, PluginError,
};
use tracing_subscriber::util::SubscriberInitExt;

const HOSTILE: &[u8] = include_bytes!(env!("CERTWASM_HOSTILE_PLUGIN"));

/// A component whose only import is `wasi:http/outgoing-handler@0.2.3`
/// (an instance exporting `handle: func()`), as a JavaScript toolchain
/// adds unless told not to. Hand-encoded: the component binary format's
/// preamble, a type section with that instance type, and one import.
const IMPORTS_WASI_HTTP: &str = "0061736d0d0001000713014202014000010004000668616e646c6501000a250100\
     20776173693a687474702f6f7574676f696e672d68616e646c657240302e322e330500";

fn issue(plugin: &Plugin, attack: &str) -> Result<IssueOutcome, PluginCallError> {
    let spec = serde_json::json!({"plugin": {"name": "hostile", "config": {"attack": attack}}});
    let issuer = IssuerConfig {
        kind: IssuerKind::Issuer,
        name: "hostile".into(),
        namespace: "authors".into(),
        spec_json: spec.to_string(),
    };
    let request = CertificateRequest {
        name: format!("{attack}-1"),
        namespace: "authors".into(),
        csr_pem: String::new(),
        duration_seconds: None,
        is_ca: false,
        usages: Vec::new(),
        issuer,
        request_key: None,
        annotations: Vec::new(),
    };
    let call = IssueCall {
        request,
        request_key: None,
        state: None,
        presented_challenges: Vec::new(),
    };
    let limits = CallLimits {
        deadline: Duration::from_secs(5),
        ..CallLimits::default()
    };
    plugin
        .issue(call, &CallEffects::default(), &limits)
        .map_err(|error| match error {
            IssueError::Call(error) => error,
            IssueError::Plugin(failure) => {
                panic!("the attack answers with an outcome, not {failure:?}")
            }
        })
}

#[test]
fn errors_name_the_plugin_as_it_names_itself() {
    let engine = PluginEngine::new(None).unwrap();
    // Loaded from a file called `plugin.wasm`: the host's name is the stem.
    let (plugin, _) = Plugin::load(&engine, "plugin", HOSTILE).unwrap();
    assert_eq!(plugin.name(), "plugin");
    assert_eq!(plugin.label(), "hostile");
    let err = issue(&plugin, "panic").unwrap_err();
    assert!(
        err.to_string().starts_with("plugin hostile: crashed"),
        "{err}"
    );
}

#[test]
fn an_import_the_host_lacks_is_named() {
    let engine = PluginEngine::new(None).unwrap();
    let bytes: Vec<u8> = (0..IMPORTS_WASI_HTTP.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&IMPORTS_WASI_HTTP[i..i + 2], 16).unwrap())
        .collect();
    let err = Plugin::load(&engine, "js-plugin", &bytes).unwrap_err();
    let PluginError::UnprovidedImport { name, import, .. } = &err else {
        panic!("expected the missing import to be named, got: {err}");
    };
    assert_eq!(name, "js-plugin");
    assert_eq!(import, "wasi:http/outgoing-handler@0.2.3");
    let message = err.to_string();
    assert!(
        message.contains(
            "it imports `wasi:http/outgoing-handler@0.2.3`, which this host does not provide"
        ),
        "{message}"
    );
    assert!(message.contains("certwasm:issuer/http"), "{message}");
    assert!(!message.contains("does not match any"), "{message}");
}

/// A `MakeWriter` that appends to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn what_a_plugin_prints_reaches_the_log_under_its_name() {
    let engine = PluginEngine::new(None).unwrap();
    let (plugin, _) = Plugin::load(&engine, "plugin", HOSTILE).unwrap();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(format!("warn,{OUTPUT_TARGET}=info"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = subscriber.set_default();
    let outcome = issue(&plugin, "print").unwrap();
    drop(guard);
    assert!(matches!(outcome, IssueOutcome::Issued(_)));
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = |stream: &str, text: &str| {
        log.lines().any(|line| {
            line.contains(OUTPUT_TARGET)
                && line.contains("plugin=\"hostile\"")
                && line.contains(&format!("stream=\"{stream}\""))
                && line.contains("subject=\"CertificateRequest authors/print-1\"")
                && line.contains(text)
        })
    };
    assert!(line("stdout", "hello from stdout"), "{log}");
    assert!(line("stderr", "hello from stderr"), "{log}");
}
