//! A record of which API verbs the controllers call on which resources,
//! kept when `CERTWASM_AUDIT_FILE` names a file. The Helm chart's RBAC must
//! grant exactly these: its checker compares the ClusterRole with what the
//! end-to-end tests recorded here, so a controller that starts calling a
//! new verb fails the chart check instead of failing in a cluster with
//! `forbidden`.
//!
//! Each line is `verb group resource subresource`, as kube-apiserver's RBAC
//! names them (`core` for the core group, `-` for no subresource). Only
//! requests whose user agent is the controllers' ([`CONTROLLER_USER_AGENT`])
//! are recorded: kubectl and test clients talk to the same server.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use axum::http::Method;

use super::route::Route;

/// The environment variable naming the audit file.
pub const AUDIT_FILE_ENV: &str = "CERTWASM_AUDIT_FILE";

/// The user agent the controllers' Kubernetes client sends, so that API
/// servers (this one and a cluster's audit log) can tell their requests
/// from others'.
pub const CONTROLLER_USER_AGENT: &str = concat!("certwasm-controller/", env!("CARGO_PKG_VERSION"));

/// Why the audit file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be opened for appending.
    #[error("cannot open the audit file {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
}

/// The RBAC verb of a request, as kube-apiserver derives it.
pub fn verb(method: &Method, named: bool, watch: bool) -> Option<&'static str> {
    Some(match (method, named) {
        (&Method::GET, _) if watch => "watch",
        (&Method::GET, true) => "get",
        (&Method::GET, false) => "list",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => return None,
    })
}

/// The audit line of a request, or `None` when it is not one the
/// controllers' RBAC must cover (discovery, other clients).
pub fn line(route: &Route, method: &Method, watch: bool, user_agent: &str) -> Option<String> {
    if !user_agent.starts_with("certwasm-controller/") {
        return None;
    }
    let Route::Object(target) = route else {
        return None;
    };
    let verb = verb(method, target.name.is_some(), watch)?;
    let group = match target.resource.group.as_str() {
        "" => "core",
        group => group,
    };
    let subresource = target.subresource.as_deref().unwrap_or("-");
    Some(format!(
        "{verb} {group} {} {subresource}",
        target.resource.plural
    ))
}

struct Recorder {
    file: File,
    seen: HashSet<String>,
}

impl Recorder {
    fn open(path: &Path) -> Result<Recorder, AuditError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| AuditError::Open {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Recorder {
            file,
            seen: HashSet::new(),
        })
    }
}

fn recorder() -> Option<&'static Mutex<Recorder>> {
    static RECORDER: OnceLock<Option<Mutex<Recorder>>> = OnceLock::new();
    RECORDER
        .get_or_init(|| {
            let path = std::env::var_os(AUDIT_FILE_ENV)?;
            match Recorder::open(Path::new(&path)) {
                Ok(recorder) => Some(Mutex::new(recorder)),
                Err(err) => {
                    tracing::warn!(%err, "API audit disabled");
                    None
                }
            }
        })
        .as_ref()
}

/// Appends the request's line to the audit file, once per process, when
/// `CERTWASM_AUDIT_FILE` is set. Each line is one `write` to a file opened
/// for appending, so processes sharing the file do not interleave.
pub fn record(route: &Route, method: &Method, watch: bool, user_agent: &str) {
    let Some(recorder) = recorder() else {
        return;
    };
    let Some(line) = line(route, method, watch, user_agent) else {
        return;
    };
    let Ok(mut recorder) = recorder.lock() else {
        return;
    };
    if recorder.seen.insert(line.clone())
        && let Err(err) = recorder.file.write_all(format!("{line}\n").as_bytes())
    {
        tracing::warn!(%err, "cannot append to the API audit file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resource::Registry;
    use crate::apiserver::route;

    fn route(path: &str) -> Route {
        let registry = Registry::standard();
        route::parse(&registry, path).expect("a route")
    }

    #[test]
    fn lines_name_verbs_as_rbac_does() {
        let ua = CONTROLLER_USER_AGENT;
        let secrets = route("/api/v1/namespaces/ns/secrets");
        assert_eq!(
            line(&secrets, &Method::GET, false, ua).as_deref(),
            Some("list core secrets -")
        );
        assert_eq!(
            line(&secrets, &Method::GET, true, ua).as_deref(),
            Some("watch core secrets -")
        );
        assert_eq!(
            line(&secrets, &Method::POST, false, ua).as_deref(),
            Some("create core secrets -")
        );
        let status = route("/apis/cert-manager.io/v1/namespaces/ns/certificates/c/status");
        assert_eq!(
            line(&status, &Method::PATCH, false, ua).as_deref(),
            Some("patch cert-manager.io certificates status")
        );
        assert_eq!(
            line(&status, &Method::PUT, false, ua).as_deref(),
            Some("update cert-manager.io certificates status")
        );
        let one = route("/apis/acme.cert-manager.io/v1/namespaces/ns/orders/o");
        assert_eq!(
            line(&one, &Method::DELETE, false, ua).as_deref(),
            Some("delete acme.cert-manager.io orders -")
        );
        assert_eq!(
            line(&one, &Method::GET, false, ua).as_deref(),
            Some("get acme.cert-manager.io orders -")
        );
    }

    #[test]
    fn other_clients_and_discovery_are_not_recorded() {
        let secrets = route("/api/v1/namespaces/ns/secrets");
        assert_eq!(line(&secrets, &Method::GET, false, "kubectl/v1.37.0"), None);
        assert_eq!(line(&secrets, &Method::GET, false, "unknown"), None);
        assert_eq!(
            line(&route("/apis"), &Method::GET, false, CONTROLLER_USER_AGENT),
            None
        );
    }
}
