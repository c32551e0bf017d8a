//! certwasm: cert-manager compatible certificates, issued by sandboxed
//! WebAssembly plugins.
//!
//! The host owns everything that touches the cluster and every private key;
//! an issuer plugin only turns a certificate request into a signed chain,
//! through the `certwasm:issuer` WIT interface (see `wit/`).

pub mod api;
pub mod apiserver;
pub mod bundle;
pub mod cli;
pub mod clock;
pub mod controller;
pub mod go_duration;
pub mod metrics;
pub mod pki;
pub mod plugin;
pub mod policy;
pub mod run;
pub mod solver;
pub mod webhook;
