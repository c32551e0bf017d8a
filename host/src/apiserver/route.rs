//! Parsing request paths into what they address, as kube-apiserver lays
//! them out: `/api/v1/...` for core, `/apis/{group}/{version}/...` for the
//! rest, `namespaces/{ns}/` before namespaced resources, and an optional
//! `/status` subresource.

use std::sync::Arc;

use super::resource::{Registry, ResourceType};

/// What a request path names.
#[derive(Debug, Clone)]
pub enum Route {
    /// `/version`.
    Version,
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`: the resource list.
    Resources {
        /// Group (`""` for core).
        group: String,
        /// Version.
        version: String,
    },
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`: the index of group-version documents.
    OpenApiV3Index,
    /// `/openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}`.
    OpenApiV3 {
        /// Group (`""` for core).
        group: String,
        /// Version.
        version: String,
    },
    /// A resource collection or object.
    Object(Target),
}

/// A resource path: the type, the namespace, maybe a name and subresource.
#[derive(Debug, Clone)]
pub struct Target {
    /// The type.
    pub resource: Arc<ResourceType>,
    /// The namespace; `None` for all namespaces or a cluster-scoped type.
    pub namespace: Option<String>,
    /// The object's name, for single-object paths.
    pub name: Option<String>,
    /// `status` when the path ends in `/status`.
    pub subresource: Option<String>,
}

/// Parses `path`; `None` when it names nothing this server serves.
pub fn parse(registry: &Registry, path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => Some(Route::Version),
        ["healthz" | "livez" | "readyz", ..] => Some(Route::Health),
        ["api"] => Some(Route::CoreVersions),
        ["apis"] => Some(Route::Groups),
        ["apis", group] => Some(Route::Group((*group).to_owned())),
        ["api", "v1"] => Some(Route::Resources {
            group: String::new(),
            version: "v1".to_owned(),
        }),
        ["apis", group, version] => Some(Route::Resources {
            group: (*group).to_owned(),
            version: (*version).to_owned(),
        }),
        ["openapi", "v2"] => Some(Route::OpenApiV2),
        ["openapi", "v3"] => Some(Route::OpenApiV3Index),
        ["openapi", "v3", "api", "v1"] => Some(Route::OpenApiV3 {
            group: String::new(),
            version: "v1".to_owned(),
        }),
        ["openapi", "v3", "apis", group, version] => Some(Route::OpenApiV3 {
            group: (*group).to_owned(),
            version: (*version).to_owned(),
        }),
        ["api", "v1", rest @ ..] => object_route(registry, "", "v1", rest),
        ["apis", group, version, rest @ ..] => object_route(registry, group, version, rest),
        _ => None,
    }
}

fn object_route(registry: &Registry, group: &str, version: &str, rest: &[&str]) -> Option<Route> {
    let target = |plural: &str, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        let resource = registry.lookup(group, version, plural)?;
        if namespace.is_some() && !resource.namespaced {
            return None;
        }
        if let Some(sub) = sub
            && !(sub == "status" && resource.has_status)
        {
            return None;
        }
        Some(Route::Object(Target {
            resource,
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
            subresource: sub.map(str::to_owned),
        }))
    };
    let namespaced_plural = |plural: &str| {
        registry
            .lookup(group, version, plural)
            .is_some_and(|r| r.namespaced)
    };
    match rest {
        [plural] => target(plural, None, None, None),
        ["namespaces", ns, plural] if namespaced_plural(plural) => {
            target(plural, Some(ns), None, None)
        }
        ["namespaces", ns, plural, name] if namespaced_plural(plural) => {
            target(plural, Some(ns), Some(name), None)
        }
        ["namespaces", ns, plural, name, sub] if namespaced_plural(plural) => {
            target(plural, Some(ns), Some(name), Some(sub))
        }
        [plural, name] => target(plural, None, Some(name), None),
        [plural, name, sub] => target(plural, None, Some(name), Some(sub)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(path: &str) -> Target {
        match parse(&Registry::standard(), path) {
            Some(Route::Object(target)) => target,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn resource_paths_parse_as_kube_apiserver_lays_them_out() {
        let t = object("/apis/cert-manager.io/v1/namespaces/default/certificates/web/status");
        assert_eq!(t.resource.kind, "Certificate");
        assert_eq!(t.namespace.as_deref(), Some("default"));
        assert_eq!(t.name.as_deref(), Some("web"));
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = object("/api/v1/namespaces/kube-system");
        assert_eq!(t.resource.kind, "Namespace");
        assert_eq!(t.name.as_deref(), Some("kube-system"));
        let t = object("/api/v1/namespaces/default/secrets");
        assert_eq!(t.resource.kind, "Secret");
        assert!(t.name.is_none());
        let t = object("/apis/cert-manager.io/v1/certificates");
        assert!(t.namespace.is_none());
        let t = object("/apis/cert-manager.io/v1/clusterissuers/ca");
        assert_eq!(t.name.as_deref(), Some("ca"));
        assert!(
            parse(
                &Registry::standard(),
                "/apis/cert-manager.io/v1/namespaces/a/clusterissuers"
            )
            .is_none()
        );
        assert!(
            parse(
                &Registry::standard(),
                "/api/v1/namespaces/a/secrets/s/status"
            )
            .is_none()
        );
    }
}
