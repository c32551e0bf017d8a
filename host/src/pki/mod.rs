//! Keys, CSRs and certificates on the host side.
//!
//! Private keys live here and nowhere else: plugins get handles to them (see
//! `crate::plugin`), the controllers store them in Secrets. Everything in
//! this module is pure (no I/O), so it is tested directly.

mod cert;
mod csr;
mod error;
mod key;
mod usage;

pub use cert::{CertificateInfo, parse_certificate_chain, public_key_matches};
pub use csr::{CsrSpec, ParsedCsr, Subject, build_csr, parse_csr};
pub use error::PkiError;
pub use key::{KeyAlgorithm, KeyEncoding, PrivateKey, SignatureAlgorithm};
pub use usage::KeyUsage;
