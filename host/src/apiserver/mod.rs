//! The embedded Kubernetes-compatible API that `certwasm run` serves on
//! loopback: cert-manager's kinds and the built-ins the controllers use,
//! persisted in one data directory, spoken to by the real kubectl and by
//! kube-rs exactly as a cluster's API server would be. The controllers are
//! written once against the Kubernetes API; this makes a plain machine one
//! more place that API exists.

pub mod admission;
pub mod audit;
pub mod body;
pub mod bootstrap;
pub mod discovery;
pub mod handler;
pub mod jsonpath;
pub mod object;
pub mod patch;
pub mod protobuf;
pub mod resource;
pub mod route;
pub mod selector;
pub mod server;
pub mod status;
pub mod store;
pub mod table;
pub mod watch;
pub mod writes;

pub use server::{ApiConfig, ApiServer, Limits, ServerError};
