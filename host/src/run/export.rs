//! `certwasm run --export-dir DIR`: keep every `kubernetes.io/tls` Secret on
//! disk as `DIR/<namespace>/<name>/{tls.crt,tls.key,ca.crt}`, for servers on
//! a plain machine that read certificates from files. Each file is replaced
//! atomically (temp file + rename, 0600), so a reader never sees half a key
//! or a certificate that does not match its key for longer than one rename.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

use crate::apiserver::bootstrap::{BootstrapError, write_atomic};
use crate::apiserver::object;
use crate::apiserver::store::Store;
use crate::apiserver::watch::ChangeKind;

/// Secrets live under this store key prefix.
const SECRETS_PREFIX: &str = "core/secrets/";

/// The files one TLS Secret becomes: `(file name, contents)`; `None` for
/// Secrets of other types.
pub fn files_for(secret: &Value) -> Option<Vec<(&'static str, Vec<u8>)>> {
    if secret.get("type").and_then(Value::as_str) != Some("kubernetes.io/tls") {
        return None;
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let files = ["tls.crt", "tls.key", "ca.crt"]
        .into_iter()
        .filter_map(|key| {
            let data = secret.get("data")?.get(key)?.as_str()?;
            Some((key, engine.decode(data).ok()?))
        })
        .collect();
    Some(files)
}

fn secret_dir(root: &Path, secret: &Value) -> PathBuf {
    root.join(object::namespace(secret))
        .join(object::name(secret))
}

/// Writes one Secret's files.
pub fn export(root: &Path, secret: &Value) -> Result<(), BootstrapError> {
    let Some(files) = files_for(secret) else {
        return Ok(());
    };
    let dir = secret_dir(root, secret);
    // Key first: a reader that sees a new certificate finds its key.
    let mut files = files;
    files.sort_by_key(|(name, _)| *name != "tls.key");
    for (name, contents) in files {
        write_atomic(&dir.join(name), &contents, 0o600)?;
    }
    Ok(())
}

/// Exports every TLS Secret now, then follows changes until the store's
/// watch ends; deleted Secrets have their directory removed.
pub async fn follow(store: Store, root: PathBuf) {
    let listed = match store.list(SECRETS_PREFIX, None, None, |_| true) {
        Ok(listed) => listed,
        Err(err) => {
            tracing::error!(error = %err, "export: cannot list Secrets");
            return;
        }
    };
    for secret in &listed.items {
        if let Err(err) = export(&root, secret) {
            tracing::error!(error = %err, "export failed");
        }
    }
    let mut subscription = match store.watch().subscribe(SECRETS_PREFIX, listed.revision) {
        Ok(subscription) => subscription,
        Err(err) => {
            tracing::error!(error = %err, "export: cannot watch Secrets");
            return;
        }
    };
    loop {
        match subscription.next().await {
            Ok(Some(change)) => apply_change(&root, &change),
            Ok(None) => return,
            Err(err) => {
                // Fell behind the history: export everything again.
                tracing::warn!(error = %err, "export fell behind; exporting every Secret again");
                return Box::pin(follow(store, root)).await;
            }
        }
    }
}

fn apply_change(root: &Path, change: &crate::apiserver::watch::Change) {
    if !change.key.starts_with(SECRETS_PREFIX) {
        return;
    }
    let object = change.object();
    let result = match change.kind {
        ChangeKind::Deleted => {
            if files_for(&object).is_some() {
                let _ = std::fs::remove_dir_all(secret_dir(root, &object));
            }
            Ok(())
        }
        _ => export(root, &object),
    };
    if let Err(err) = result {
        tracing::error!(error = %err, "export failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tls_secrets_become_0600_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = json!({"type": "kubernetes.io/tls",
            "metadata": {"name": "web-tls", "namespace": "default"},
            "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5", "ca.crt": "Y2E="}});
        export(dir.path(), &secret).expect("exported");
        let key = dir.path().join("default/web-tls/tls.key");
        assert_eq!(std::fs::read(&key).expect("key"), b"key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(files_for(&json!({"type": "Opaque"})).is_none());
    }
}
