//! The ACME account (RFC 8555 7.3): found by its key, registered when
//! missing (agreeing to the terms of service, with an external account
//! binding when the issuer has one), its contact kept equal to the
//! issuer's email, as cert-manager's ACME issuer setup does.

use serde::Deserialize;

use crate::client::{self, AcmeError, Client, Directory};
use crate::jose;

/// An external account binding key (`spec.acme.externalAccountBinding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalAccountKey {
    /// `keyID`, as the CA issued it.
    pub key_id: String,
    /// The decoded MAC key.
    pub mac_key: Vec<u8>,
    /// `keyAlgorithm` (empty: HS256).
    pub algorithm: String,
}

/// What the account should look like.
#[derive(Debug, Clone, Default)]
pub struct AccountSettings<'a> {
    /// The issuer's email; empty for none.
    pub email: &'a str,
    pub external_account: Option<&'a ExternalAccountKey>,
}

/// The account as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account URL, which later requests are signed with (`kid`).
    pub url: String,
    /// `valid`, `deactivated` or `revoked`.
    pub status: String,
    /// Whether this call registered it (otherwise it existed).
    pub created: bool,
}

#[derive(Debug, Deserialize)]
struct AccountObject {
    #[serde(default)]
    status: String,
    #[serde(default)]
    contact: Vec<String>,
}

/// cert-manager's contact list for an email: `mailto:` plus the address in
/// lower case, or nothing.
fn contact(email: &str) -> Vec<String> {
    if email.is_empty() {
        Vec::new()
    } else {
        vec![format!("mailto:{}", email.to_lowercase())]
    }
}

/// Finds the account of the client's key (`onlyReturnExisting`), or
/// registers it; then brings its contact up to date. On success the client
/// signs with the account URL from then on.
pub fn find_or_register(
    client: &mut Client<'_>,
    directory: &Directory,
    settings: &AccountSettings<'_>,
) -> Result<Account, AcmeError> {
    let lookup = client.post_with_jwk(
        &directory.new_account,
        &serde_json::json!({"onlyReturnExisting": true}),
    );
    let (response, created) = match lookup {
        Ok(response) => (response, false),
        Err(error) if error.problem().is_some_and(|p| p.is("accountDoesNotExist")) => {
            let mut payload = serde_json::json!({"termsOfServiceAgreed": true});
            let wanted = contact(settings.email);
            if !wanted.is_empty() {
                payload["contact"] = serde_json::json!(wanted);
            }
            if let Some(eab) = settings.external_account {
                payload["externalAccountBinding"] = jose::external_account_binding(
                    client.jwk(),
                    &eab.key_id,
                    &eab.mac_key,
                    &eab.algorithm,
                    &directory.new_account,
                )?;
            }
            (
                client.post_with_jwk(&directory.new_account, &payload)?,
                true,
            )
        }
        Err(error) => return Err(error),
    };
    let url = response
        .header("location")
        .ok_or_else(|| AcmeError::Protocol("newAccount returned no Location header".into()))?
        .to_owned();
    let account: AccountObject = client::json(&response, "account")?;
    client.set_account_url(&url);
    if account.status != "valid" && !account.status.is_empty() {
        return Err(AcmeError::Protocol(format!(
            "the ACME account {url} is {}",
            account.status
        )));
    }
    let wanted = contact(settings.email);
    // Compared without case, as cert-manager registers it lower-cased.
    let same = account.contact.len() == wanted.len()
        && account
            .contact
            .iter()
            .zip(&wanted)
            .all(|(a, b)| a.eq_ignore_ascii_case(b));
    if !same {
        client.post(&url, &serde_json::json!({"contact": wanted}))?;
    }
    Ok(Account {
        url,
        status: "valid".into(),
        created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_is_a_lower_cased_mailto_or_nothing() {
        assert_eq!(contact("Ops@Example.com"), vec!["mailto:ops@example.com"]);
        assert!(contact("").is_empty());
    }
}
