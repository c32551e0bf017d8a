//! What the plugin remembers between calls while a certificate is being
//! processed: the pickup ID (TPP's certificate DN, or Venafi Cloud's
//! request ID) and how many times it has asked. The host keeps it on the
//! CertificateRequest, so a restart resumes the same pickup instead of
//! requesting a second certificate. It holds no credential.

use serde::{Deserialize, Serialize};

/// The persisted state of a pending request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "connector", rename_all = "camelCase")]
pub enum State {
    #[serde(rename_all = "camelCase")]
    Tpp { pickup_id: String, polls: u32 },
    #[serde(rename_all = "camelCase")]
    Cloud { request_id: String, polls: u32 },
}

/// Why a state handed back by the host cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the saved Venafi pickup state is unreadable: {0}")]
    Unreadable(String),
}

impl State {
    /// The bytes the host persists.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising a plain enum of strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads what [`encode`](Self::encode) wrote.
    pub fn decode(bytes: &[u8]) -> Result<Self, StateError> {
        serde_json::from_slice(bytes).map_err(|e| StateError::Unreadable(e.to_string()))
    }

    /// The same pickup, one poll later.
    pub fn polled(&self) -> Self {
        match self {
            Self::Tpp { pickup_id, polls } => Self::Tpp {
                pickup_id: pickup_id.clone(),
                polls: polls.saturating_add(1),
            },
            Self::Cloud { request_id, polls } => Self::Cloud {
                request_id: request_id.clone(),
                polls: polls.saturating_add(1),
            },
        }
    }

    /// How many times the pickup has been asked for so far.
    pub fn polls(&self) -> u32 {
        match self {
            Self::Tpp { polls, .. } | Self::Cloud { polls, .. } => *polls,
        }
    }
}

/// When to ask again after `polls` answers of "still processing": every
/// second at first (most CAs behind Venafi answer within seconds, vcert
/// polls every 2 s), then backing off to a minute for a request waiting on
/// a person's approval.
pub fn poll_delay_ms(polls: u32) -> u64 {
    let doublings = polls.saturating_sub(5).min(6);
    (1_000u64 << doublings).min(60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_counts() {
        let state = State::Tpp {
            pickup_id: "\\VED\\Policy\\z\\w".into(),
            polls: 0,
        };
        let text = String::from_utf8(state.encode()).unwrap();
        assert_eq!(
            text,
            r#"{"connector":"tpp","pickupId":"\\VED\\Policy\\z\\w","polls":0}"#
        );
        assert_eq!(State::decode(text.as_bytes()).unwrap(), state);
        assert_eq!(state.polled().polled().polls(), 2);
        let cloud = State::Cloud {
            request_id: "r".into(),
            polls: 7,
        };
        assert_eq!(State::decode(&cloud.encode()).unwrap(), cloud);
        assert!(State::decode(b"{}").is_err());
    }

    #[test]
    fn polls_back_off_to_a_minute() {
        assert_eq!(poll_delay_ms(0), 1_000);
        assert_eq!(poll_delay_ms(5), 1_000);
        assert_eq!(poll_delay_ms(6), 2_000);
        assert_eq!(poll_delay_ms(10), 32_000);
        assert_eq!(poll_delay_ms(11), 60_000);
        assert_eq!(poll_delay_ms(u32::MAX), 60_000);
    }
}
