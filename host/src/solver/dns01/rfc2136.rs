//! cert-manager's `rfc2136` DNS-01 provider: a dynamic UPDATE (RFC 2136)
//! adding or deleting the challenge's TXT record, sent to the configured
//! authoritative `nameserver` and signed with TSIG (RFC 8945).
//!
//! Like cert-manager, the zone named in the UPDATE is found by an SOA
//! lookup through the recursive nameservers (walking up from the record's
//! name), and records are written with a TTL of 60 seconds.
//!
//! The messages and their TSIG signatures are hickory-proto's (its
//! `TSigner`); only the exchange itself (one UDP datagram, or one
//! length-prefixed TCP message) is written here, because hickory-client,
//! which would do it, is not among this workspace's dependencies and the
//! exchange is a few lines.
//! hickory's TSigner supports HMAC-SHA256/384/512 only, so cert-manager's
//! `HMACMD5` and `HMACSHA1` are refused with a clear error rather than
//! hand-rolled here.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm;
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Dns01Error, DnsProvider, ProviderFuture};
use crate::api::acme::{AcmeIssuerDns01ProviderRfc2136, Rfc2136UpdateProtocol};

/// cert-manager writes DNS-01 records with this TTL.
const TTL: u32 = 60;
/// The allowed clock skew in TSIG signatures (RFC 8945 recommends 300 s).
const FUDGE: u16 = 300;
/// How long one exchange with the nameserver may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An RFC 2136 server and the key to sign updates with.
pub struct Rfc2136 {
    server: SocketAddr,
    protocol: Rfc2136UpdateProtocol,
    signer: Option<TSigner>,
    recursive: Vec<SocketAddr>,
}

/// `host[:port]` or `[v6]:port`, port 53 by default (cert-manager's
/// `nameserver`).
pub fn split_nameserver(text: &str) -> Result<(String, u16), Dns01Error> {
    let bad = || Dns01Error::Config(format!("nameserver {text:?} is not host[:port]"));
    let text = text.trim();
    if text.is_empty() {
        return Err(Dns01Error::Config("nameserver must be set".to_owned()));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().map_err(|_| bad())?,
            None if after.is_empty() => 53,
            None => return Err(bad()),
        };
        return Ok((host.to_owned(), port));
    }
    match text.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((host, _)) if host.contains(':') => Ok((text.to_owned(), 53)),
        Some((host, port)) => Ok((host.to_owned(), port.parse().map_err(|_| bad())?)),
        None => Ok((text.to_owned(), 53)),
    }
}

/// cert-manager's `tsigAlgorithm` names (case-insensitive; the RFC names
/// such as `hmac-sha256` are accepted too). Unset means HMAC-SHA256.
pub fn algorithm(name: Option<&str>) -> Result<TsigAlgorithm, Dns01Error> {
    let name = name.unwrap_or("HMACSHA256").trim().trim_end_matches('.');
    let normalized: String = name
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_uppercase();
    match normalized.as_str() {
        "HMACSHA256" => Ok(TsigAlgorithm::HmacSha256),
        "HMACSHA384" => Ok(TsigAlgorithm::HmacSha384),
        "HMACSHA512" => Ok(TsigAlgorithm::HmacSha512),
        "HMACMD5" | "HMACMD5.SIG.ALG.REG.INT" | "HMACMD5.SIGALG.REG.INT" | "HMACSHA1" => {
            Err(Dns01Error::Config(format!(
                "tsigAlgorithm {name} is not supported by certwasm; use HMACSHA256 or HMACSHA512"
            )))
        }
        _ => Err(Dns01Error::Config(format!(
            "unknown tsigAlgorithm {name:?} (HMACSHA256, HMACSHA512)"
        ))),
    }
}

/// The TSIG secret as stored in the Secret: base64 text, as `tsig-keygen`
/// prints it.
pub fn decode_secret(stored: &[u8]) -> Result<Vec<u8>, Dns01Error> {
    let text = String::from_utf8_lossy(stored);
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| Dns01Error::Config(format!("the TSIG secret is not base64: {e}")))
}

fn name(text: &str) -> Result<Name, Dns01Error> {
    let mut name = Name::from_ascii(text)
        .map_err(|e| Dns01Error::Config(format!("{text:?} is not a DNS name: {e}")))?;
    name.set_fqdn(true);
    Ok(name)
}

/// The UPDATE for `zone`: add (`add`) or delete exactly the TXT record
/// `value` at `fqdn` (RFC 2136 §2.5.1 and §2.5.4: class NONE, TTL 0).
pub fn update_message(zone: &Name, fqdn: &Name, value: &str, add: bool) -> Message {
    let mut message = Message::new();
    message
        .set_id(rand::random())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Update);
    let mut zone_section = Query::query(zone.clone(), RecordType::SOA);
    zone_section.set_query_class(DNSClass::IN);
    // The zone section of an UPDATE is the question section's place.
    message.add_query(zone_section);
    let txt = RData::TXT(TXT::new(vec![value.to_owned()]));
    let mut record = Record::from_rdata(fqdn.clone(), if add { TTL } else { 0 }, txt);
    record.set_dns_class(if add { DNSClass::IN } else { DNSClass::NONE });
    // And the update section is the authority section's.
    message.add_name_server(record);
    message
}

/// Without the key: it is a secret.
impl std::fmt::Debug for Rfc2136 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rfc2136")
            .field("server", &self.server)
            .field("protocol", &self.protocol)
            .field("signed", &self.signer.is_some())
            .field("recursive", &self.recursive)
            .finish()
    }
}

impl Rfc2136 {
    /// A provider from the solver's config and the TSIG secret (as stored),
    /// looking zones up through `recursive`.
    pub async fn new(
        config: &AcmeIssuerDns01ProviderRfc2136,
        secret: Option<&[u8]>,
        recursive: Vec<SocketAddr>,
    ) -> Result<Rfc2136, Dns01Error> {
        let (host, port) = split_nameserver(&config.nameserver)?;
        let server = tokio::net::lookup_host((host.as_str(), port))
            .await
            .ok()
            .and_then(|mut found| found.next())
            .ok_or_else(|| {
                Dns01Error::Config(format!("cannot resolve nameserver {}", config.nameserver))
            })?;
        let signer = match (secret, config.tsig_key_name.as_deref()) {
            (Some(secret), Some(key_name)) if !key_name.is_empty() => Some(
                TSigner::new(
                    decode_secret(secret)?,
                    algorithm(config.tsig_algorithm.as_deref())?,
                    name(key_name)?,
                    FUDGE,
                )
                .map_err(|e| Dns01Error::Config(e.to_string()))?,
            ),
            (Some(_), _) => {
                return Err(Dns01Error::Config(
                    "tsigKeyName is required with tsigSecretSecretRef".to_owned(),
                ));
            }
            (None, _) => None,
        };
        Ok(Rfc2136 {
            server,
            protocol: config.protocol.unwrap_or(Rfc2136UpdateProtocol::Udp),
            signer,
            recursive,
        })
    }

    /// The zone holding `fqdn`: the closest enclosing name with an SOA.
    async fn zone(&self, fqdn: &Name) -> Result<Name, Dns01Error> {
        let resolver =
            crate::solver::self_check::resolver(&self.recursive).map_err(|e| Dns01Error::Zone {
                fqdn: fqdn.to_string(),
                reason: e.to_string(),
            })?;
        let mut candidate = fqdn.clone();
        while !candidate.is_root() {
            if let Ok(found) = resolver.lookup(candidate.clone(), RecordType::SOA).await
                && found
                    .record_iter()
                    .any(|r| r.record_type() == RecordType::SOA && r.name() == &candidate)
            {
                return Ok(candidate);
            }
            candidate = candidate.base_name();
        }
        Err(Dns01Error::Zone {
            fqdn: fqdn.to_string(),
            reason: "no SOA record above it".to_owned(),
        })
    }

    async fn update(&self, fqdn: &str, value: &str, add: bool) -> Result<(), Dns01Error> {
        let failed = |reason: String| Dns01Error::Update {
            fqdn: fqdn.to_owned(),
            server: self.server.to_string(),
            reason,
        };
        let record_name = name(fqdn)?;
        let zone = self.zone(&record_name).await?;
        let mut message = update_message(&zone, &record_name, value, add);
        let mut verifier = match &self.signer {
            Some(signer) => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                message
                    .finalize(signer, u32::try_from(now).unwrap_or(u32::MAX))
                    .map_err(|e| failed(e.to_string()))?
            }
            None => None,
        };
        let request = message.to_vec().map_err(|e| failed(e.to_string()))?;
        let answer = tokio::time::timeout(TIMEOUT, self.exchange(&request, message.id()))
            .await
            .map_err(|_| failed("no answer".to_owned()))?
            .map_err(|e| failed(e.to_string()))?;
        let response = Message::from_vec(&answer).map_err(|e| failed(e.to_string()))?;
        if response.response_code() != ResponseCode::NoError {
            return Err(failed(format!("{}", response.response_code())));
        }
        if let Some(verify) = verifier.as_mut() {
            verify(&answer).map_err(|e| failed(format!("answer's TSIG: {e}")))?;
        }
        Ok(())
    }

    /// Sends one message and returns the answer with the same id.
    async fn exchange(&self, request: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
        match self.protocol {
            Rfc2136UpdateProtocol::Udp => {
                let local: SocketAddr = if self.server.is_ipv4() {
                    "0.0.0.0:0".parse().unwrap_or(self.server)
                } else {
                    "[::]:0".parse().unwrap_or(self.server)
                };
                let socket = tokio::net::UdpSocket::bind(local).await?;
                socket.connect(self.server).await?;
                socket.send(request).await?;
                let mut buffer = vec![0_u8; 65_535];
                loop {
                    let length = socket.recv(&mut buffer).await?;
                    if length >= 2 && u16::from_be_bytes([buffer[0], buffer[1]]) == id {
                        return Ok(buffer[..length].to_vec());
                    }
                }
            }
            Rfc2136UpdateProtocol::Tcp => {
                let mut stream = tokio::net::TcpStream::connect(self.server).await?;
                let length = u16::try_from(request.len())
                    .map_err(|_| std::io::Error::other("message too long"))?;
                stream.write_all(&length.to_be_bytes()).await?;
                stream.write_all(request).await?;
                let length = stream.read_u16().await?;
                let mut answer = vec![0_u8; usize::from(length)];
                stream.read_exact(&mut answer).await?;
                Ok(answer)
            }
        }
    }
}

impl DnsProvider for Rfc2136 {
    fn present<'a>(&'a self, fqdn: &'a str, value: &'a str) -> ProviderFuture<'a> {
        Box::pin(self.update(fqdn, value, true))
    }

    fn clean_up<'a>(&'a self, fqdn: &'a str, value: &'a str) -> ProviderFuture<'a> {
        Box::pin(self.update(fqdn, value, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_take_an_optional_port() {
        assert_eq!(
            split_nameserver("127.0.0.1:5353").unwrap(),
            ("127.0.0.1".to_owned(), 5353)
        );
        assert_eq!(
            split_nameserver("ns.example.com").unwrap(),
            ("ns.example.com".to_owned(), 53)
        );
        assert_eq!(
            split_nameserver("[2001:db8::1]:5353").unwrap(),
            ("2001:db8::1".to_owned(), 5353)
        );
        assert_eq!(
            split_nameserver("2001:db8::1").unwrap(),
            ("2001:db8::1".to_owned(), 53)
        );
        assert!(split_nameserver("").is_err());
        assert!(split_nameserver("host:port").is_err());
    }

    #[test]
    fn algorithms_use_cert_managers_names_and_sha256_by_default() {
        assert_eq!(algorithm(None).unwrap(), TsigAlgorithm::HmacSha256);
        assert_eq!(
            algorithm(Some("hmacsha512")).unwrap(),
            TsigAlgorithm::HmacSha512
        );
        assert_eq!(
            algorithm(Some("hmac-sha256.")).unwrap(),
            TsigAlgorithm::HmacSha256
        );
        let md5 = algorithm(Some("HMACMD5")).unwrap_err().to_string();
        assert!(md5.contains("not supported"), "{md5}");
        assert!(algorithm(Some("rot13")).is_err());
    }

    #[test]
    fn secrets_are_base64_text() {
        assert_eq!(decode_secret(b"AAEC\n").unwrap(), vec![0, 1, 2]);
        assert!(decode_secret(b"not base64!").is_err());
    }

    #[test]
    fn an_update_adds_with_ttl_60_and_deletes_the_exact_record() {
        let zone = name("example.com").unwrap();
        let fqdn = name("_acme-challenge.example.com.").unwrap();
        let add = update_message(&zone, &fqdn, "v1", true);
        assert_eq!(add.op_code(), OpCode::Update);
        assert_eq!(add.queries()[0].name(), &zone);
        assert_eq!(add.queries()[0].query_type(), RecordType::SOA);
        let record = &add.name_servers()[0];
        assert_eq!(record.ttl(), 60);
        assert_eq!(record.dns_class(), DNSClass::IN);
        assert_eq!(record.data().as_txt().unwrap().to_string(), "v1");

        let delete = update_message(&zone, &fqdn, "v1", false);
        let record = &delete.name_servers()[0];
        assert_eq!(record.ttl(), 0);
        assert_eq!(record.dns_class(), DNSClass::NONE);
        // The encoded message round-trips.
        let bytes = delete.to_vec().unwrap();
        let parsed = Message::from_vec(&bytes).unwrap();
        assert_eq!(parsed.name_servers()[0].dns_class(), DNSClass::NONE);
    }

    #[test]
    fn a_signed_update_carries_a_tsig_record() {
        let zone = name("example.com").unwrap();
        let fqdn = name("_acme-challenge.example.com.").unwrap();
        let mut message = update_message(&zone, &fqdn, "v1", true);
        let signer = TSigner::new(
            vec![7; 32],
            TsigAlgorithm::HmacSha256,
            name("certwasm-key").unwrap(),
            FUDGE,
        )
        .unwrap();
        let verifier = message.finalize(&signer, 1_700_000_000).unwrap();
        assert!(verifier.is_some());
        let parsed = Message::from_vec(&message.to_vec().unwrap()).unwrap();
        assert!(
            parsed
                .signature()
                .iter()
                .any(|r| r.record_type() == RecordType::TSIG)
        );
    }
}
