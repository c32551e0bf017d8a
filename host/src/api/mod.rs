//! cert-manager v1 API types (being written).
