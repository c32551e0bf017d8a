//! Which of the issuer's `solvers` answers an authorization, and with which
//! challenge: cert-manager's solver picker, as a pure function.
//!
//! For each solver whose type (http01 / dns01) the authorization offers, in
//! the issuer's order: a solver without a selector is taken only if nothing
//! is selected yet; a solver with a selector must match on every part it
//! sets (all `matchLabels`, one of `dnsNames` exactly, one of `dnsZones` as
//! a suffix at a label boundary). Among matching solvers, a `dnsNames` match
//! beats none; then the longer `dnsZones` match (in labels); then more
//! matching labels; ties keep the earlier solver.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `spec.acme.solvers[].selector`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub dns_names: Vec<String>,
    #[serde(default)]
    pub dns_zones: Vec<String>,
}

/// One entry of `spec.acme.solvers`: what selection looks at, and the raw
/// JSON, which the host gets back (`challenge.solver-json`) to present the
/// challenge with.
#[derive(Debug, Clone, PartialEq)]
pub struct Solver {
    pub selector: Option<Selector>,
    pub http01: bool,
    pub dns01: bool,
    pub raw: serde_json::Value,
}

impl<'de> Deserialize<'de> for Solver {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = serde_json::Value::deserialize(deserializer)?;
        let present = |field: &str| raw.get(field).is_some_and(|v| !v.is_null());
        let selector = match raw.get("selector") {
            None | Some(serde_json::Value::Null) => None,
            Some(selector) => {
                Some(Selector::deserialize(selector.clone()).map_err(serde::de::Error::custom)?)
            }
        };
        Ok(Self {
            selector,
            http01: present("http01"),
            dns01: present("dns01"),
            raw,
        })
    }
}

/// The solver chosen for an authorization and the challenge it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// Index into the issuer's solvers.
    pub solver: usize,
    /// Index into the authorization's challenges.
    pub challenge: usize,
}

/// Picks the solver for the authorization of `domain` (with its `*.`
/// prefix when the authorization is for a wildcard), whose offered
/// challenge types are `challenge_types`; `labels` are the request's
/// labels. None when no solver fits.
pub fn pick(
    solvers: &[Solver],
    domain: &str,
    challenge_types: &[&str],
    labels: &BTreeMap<String, String>,
) -> Option<Choice> {
    let mut selected: Option<(Choice, Counts)> = None;
    for (index, solver) in solvers.iter().enumerate() {
        let Some(challenge) = challenge_types.iter().position(|kind| {
            (*kind == "http-01" && solver.http01) || (*kind == "dns-01" && solver.dns01)
        }) else {
            continue;
        };
        let choice = Choice {
            solver: index,
            challenge,
        };
        let Some(selector) = &solver.selector else {
            if selected.is_none() {
                selected = Some((choice, Counts::default()));
            }
            continue;
        };
        let Some(counts) = Counts::of(selector, domain, labels) else {
            continue;
        };
        let better = match &selected {
            None => true,
            Some((_, best)) => counts.beats(best),
        };
        if better {
            selected = Some((choice, counts));
        }
    }
    selected.map(|(choice, _)| choice)
}

/// How specifically a selector matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    labels: usize,
    dns_names: bool,
    dns_zone_labels: usize,
}

impl Counts {
    /// The match counts, or none when the selector does not match.
    fn of(selector: &Selector, domain: &str, labels: &BTreeMap<String, String>) -> Option<Self> {
        let labels_match = selector
            .match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v));
        if !labels_match {
            return None;
        }
        let dns_names = if selector.dns_names.is_empty() {
            false
        } else if selector.dns_names.iter().any(|name| name == domain) {
            true
        } else {
            return None;
        };
        let dns_zone_labels = if selector.dns_zones.is_empty() {
            0
        } else {
            match selector
                .dns_zones
                .iter()
                .filter_map(|zone| zone_match(zone, domain))
                .max()
            {
                Some(n) if n > 0 => n,
                _ => return None,
            }
        };
        Some(Self {
            labels: selector.match_labels.len(),
            dns_names,
            dns_zone_labels,
        })
    }

    /// cert-manager's precedence: dnsNames, then dnsZones, then labels;
    /// equal is not better (the earlier solver stays).
    fn beats(&self, best: &Self) -> bool {
        if self.dns_names != best.dns_names {
            return self.dns_names;
        }
        if self.dns_zone_labels != best.dns_zone_labels {
            return self.dns_zone_labels > best.dns_zone_labels;
        }
        self.labels > best.labels
    }
}

/// The number of labels of `zone` when `domain` is in it (equal, or ends
/// with `.zone`, case-insensitively); none otherwise.
fn zone_match(zone: &str, domain: &str) -> Option<usize> {
    let zone: Vec<&str> = zone.trim_end_matches('.').split('.').collect();
    let domain: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    if zone.len() > domain.len() || zone == [""] {
        return None;
    }
    let suffix = &domain[domain.len() - zone.len()..];
    zone.iter()
        .zip(suffix)
        .all(|(a, b)| a.eq_ignore_ascii_case(b))
        .then_some(zone.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solvers(json: serde_json::Value) -> Vec<Solver> {
        serde_json::from_value(json).unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const BOTH: &[&str] = &["http-01", "dns-01", "tls-alpn-01"];

    #[test]
    fn empty_selector_matches_all_and_the_first_wins() {
        let s = solvers(serde_json::json!([{"http01": {}}, {"dns01": {}}]));
        assert_eq!(
            pick(&s, "a.example.com", BOTH, &labels(&[])),
            Some(Choice {
                solver: 0,
                challenge: 0
            })
        );
        // A wildcard authorization offers dns-01 only.
        assert_eq!(
            pick(&s, "*.example.com", &["dns-01"], &labels(&[])),
            Some(Choice {
                solver: 1,
                challenge: 0
            })
        );
        assert_eq!(
            pick(&s, "a.example.com", &["tls-alpn-01"], &labels(&[])),
            None
        );
        assert_eq!(pick(&[], "a.example.com", BOTH, &labels(&[])), None);
    }

    #[test]
    fn dns_names_beat_dns_zones_which_beat_labels_and_empty() {
        let s = solvers(serde_json::json!([
            {"http01": {"ingress": {"class": "catch-all"}}},
            {"dns01": {"webhook": {}}, "selector": {"matchLabels": {"team": "a"}}},
            {"dns01": {"route53": {}}, "selector": {"dnsZones": ["example.com"]}},
            {"dns01": {"cloudflare": {}}, "selector": {"dnsZones": ["sub.example.com", "other.org"]}},
            {"http01": {"ingress": {"class": "exact"}}, "selector": {"dnsNames": ["www.sub.example.com"]}},
        ]));
        let team = labels(&[("team", "a")]);
        let pick_for = |domain| pick(&s, domain, BOTH, &team).map(|c| c.solver);
        assert_eq!(pick_for("www.sub.example.com"), Some(4));
        assert_eq!(pick_for("api.SUB.example.com."), Some(3));
        assert_eq!(pick_for("api.example.com"), Some(2));
        // Zone matching is by whole labels, not string suffix.
        assert_eq!(pick_for("notexample.com"), Some(1));
        assert_eq!(
            pick(&s, "unrelated.net", BOTH, &labels(&[])).map(|c| c.solver),
            Some(0)
        );
        // The chosen challenge is the one of the solver's type.
        assert_eq!(
            pick(&s, "api.example.com", BOTH, &team).map(|c| c.challenge),
            Some(1)
        );
    }

    #[test]
    fn dns_names_compare_zones_then_labels_and_ties_keep_the_first() {
        let s = solvers(serde_json::json!([
            {"http01": {}, "selector": {"dnsNames": ["a.example.com"]}},
            {"dns01": {}, "selector": {"dnsNames": ["a.example.com"], "dnsZones": ["example.com"]}},
            {"http01": {}, "selector": {"dnsNames": ["a.example.com"], "dnsZones": ["example.com"], "matchLabels": {"x": "1"}}},
            {"http01": {}, "selector": {"dnsNames": ["a.example.com"], "dnsZones": ["example.com"], "matchLabels": {"y": "2"}}},
        ]));
        let x = labels(&[("x", "1"), ("y", "2")]);
        assert_eq!(
            pick(&s, "a.example.com", BOTH, &x).map(|c| c.solver),
            Some(2)
        );
        assert_eq!(
            pick(&s, "a.example.com", BOTH, &labels(&[])).map(|c| c.solver),
            Some(1)
        );
        // A wildcard is looked up with its prefix in dnsNames.
        let w = solvers(serde_json::json!([
            {"dns01": {"a": {}}, "selector": {"dnsNames": ["example.com"]}},
            {"dns01": {"b": {}}, "selector": {"dnsNames": ["*.example.com"]}},
        ]));
        assert_eq!(
            pick(&w, "*.example.com", BOTH, &x).map(|c| c.solver),
            Some(1)
        );
    }

    #[test]
    fn unmatched_selectors_are_skipped_and_raw_json_is_kept() {
        let s = solvers(serde_json::json!([
            {"http01": {"ingress": {}}, "selector": {"matchLabels": {"team": "b"}}},
            {"http01": {"ingress": {}}, "selector": {"dnsZones": ["example.org"]}},
        ]));
        assert_eq!(
            pick(&s, "a.example.com", BOTH, &labels(&[("team", "a")])),
            None
        );
        assert_eq!(s[1].raw["selector"]["dnsZones"][0], "example.org");
        assert!(s[0].http01 && !s[0].dns01);
    }
}
