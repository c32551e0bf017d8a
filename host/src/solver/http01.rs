//! The HTTP-01 responder: answers `GET /.well-known/acme-challenge/<token>`
//! with the key authorization of every challenge being presented.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;

/// The tokens being presented and their key authorizations; cheap to
/// clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Responder {
    tokens: Arc<RwLock<HashMap<String, String>>>,
}

impl Responder {
    /// Starts answering for `token`.
    pub fn present(&self, token: &str, key_authorization: &str) {
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_owned(), key_authorization.to_owned());
    }

    /// Stops answering for `token`.
    pub fn clean_up(&self, token: &str) {
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }

    /// The key authorization served for `token`.
    pub fn answer(&self, token: &str) -> Option<String> {
        self.tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    /// Binds `address` and serves in the background; returns the bound
    /// address (useful with port 0).
    pub async fn serve(&self, address: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let bound = listener.local_addr()?;
        let app = Router::new()
            .route("/.well-known/acme-challenge/{token}", get(answer))
            .with_state(self.clone());
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, "HTTP-01 solver stopped");
            }
        });
        Ok(bound)
    }
}

async fn answer(
    State(responder): State<Responder>,
    Path(token): Path<String>,
) -> (StatusCode, String) {
    match responder.answer(&token) {
        Some(key) => (StatusCode::OK, key),
        None => (StatusCode::NOT_FOUND, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_tokens_are_answered_until_cleaned_up() {
        let responder = Responder::default();
        responder.present("tok", "tok.thumb");
        assert_eq!(responder.answer("tok").as_deref(), Some("tok.thumb"));
        responder.clean_up("tok");
        assert_eq!(responder.answer("tok"), None);
    }
}
