//! PKCS#12 encoding for `keystore.p12` and `truststore.p12`, with the
//! encryption profiles cert-manager offers (`spec.keystores.pkcs12.profile`).
//! The PFX structures, PBE ciphers and MAC come from the `p12-keystore`
//! crate; this file picks the algorithms and iteration counts of each
//! profile and lays out the bags as cert-manager does (the key and its
//! chain under one local key id, the CA as a further certificate; the
//! trust store holds only the CA, marked trusted for Java).

use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey,
    PrivateKeyChain,
};
use sha1::{Digest, Sha1};

use super::KeystoreError;

/// The encryption profiles of cert-manager's `keystores.pkcs12.profile`, as
/// the encoder knows them (the API's type converts into this one, so the
/// PKI layer does not depend on the API's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pkcs12Profile {
    /// RC2, readable by old Java and Windows (the default).
    LegacyRc2,
    /// 3DES.
    LegacyDes,
    /// AES-256-CBC with PBKDF2 (OpenSSL 3's default).
    Modern2023,
    /// cert-manager's newest profile, which this encoder does not make.
    Modern2026,
}

/// cert-manager's PKCS#12 library uses 2048 iterations for the key
/// derivation and the MAC in every profile.
const ITERATIONS: u32 = 2048;

/// The alias (friendly name) of the CA in the trust store.
const CA_ALIAS: &str = "ca";

/// The algorithms one profile writes.
fn algorithms(
    profile: Option<Pkcs12Profile>,
) -> Result<(EncryptionAlgorithm, MacAlgorithm), KeystoreError> {
    match profile.unwrap_or(Pkcs12Profile::LegacyRc2) {
        // RC2-40 is what old Java and Windows read; cert-manager encrypts
        // the key bag with 3DES in this profile, p12-keystore uses one
        // algorithm for all bags (see the crate docs), so both are RC2 here.
        Pkcs12Profile::LegacyRc2 => Ok((
            EncryptionAlgorithm::PbeWithShaAnd40BitRc4Cbc,
            MacAlgorithm::HmacSha1,
        )),
        Pkcs12Profile::LegacyDes => Ok((
            EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
            MacAlgorithm::HmacSha1,
        )),
        Pkcs12Profile::Modern2023 => Ok((
            EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
            MacAlgorithm::HmacSha256,
        )),
        Pkcs12Profile::Modern2026 => Err(KeystoreError::UnsupportedProfile("Modern2026")),
    }
}

fn p12_err(what: &str) -> impl Fn(p12_keystore::error::Error) -> KeystoreError + '_ {
    move |e| KeystoreError::Input(format!("{what}: {e}"))
}

fn certificate(der: &[u8]) -> Result<Certificate, KeystoreError> {
    Certificate::from_der(der).map_err(p12_err("certificate"))
}

fn write(
    store: &KeyStore,
    password: &str,
    profile: Option<Pkcs12Profile>,
) -> Result<Vec<u8>, KeystoreError> {
    let (encryption, mac) = algorithms(profile)?;
    store
        .writer(password)
        .encryption_algorithm(encryption)
        .encryption_iterations(ITERATIONS)
        .mac_algorithm(mac)
        .mac_iterations(ITERATIONS)
        .write()
        .map_err(|e| KeystoreError::Encode(e.to_string()))
}

/// Encodes `keystore.p12`: the PKCS#8 key with the chain (leaf first) and
/// the CA appended when it is not already the chain's last certificate.
pub fn encode_keystore(
    private_key_pkcs8: &[u8],
    chain: &[Vec<u8>],
    ca: Option<&[u8]>,
    password: &str,
    profile: Option<Pkcs12Profile>,
) -> Result<Vec<u8>, KeystoreError> {
    let leaf = chain
        .first()
        .ok_or_else(|| KeystoreError::Input("the certificate chain is empty".to_owned()))?;
    let mut certs = chain
        .iter()
        .map(|c| certificate(c))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(ca) = ca.filter(|ca| chain.last().is_none_or(|last| last.as_slice() != *ca)) {
        certs.push(certificate(ca)?);
    }
    let key = PrivateKey::from_der(private_key_pkcs8).map_err(p12_err("private key"))?;
    // The local key id ties the key bag to the leaf certificate's bag; Go's
    // PKCS#12 encoder (cert-manager's) uses the leaf's SHA-1 as well.
    let local_key_id = Sha1::digest(leaf).to_vec();
    let mut store = KeyStore::new();
    store.add_entry(
        "certificate",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id, key, certs)),
    );
    write(&store, password, profile)
}

/// Encodes `truststore.p12`: the CA alone, as a trusted certificate.
pub fn encode_truststore(
    ca: &[u8],
    password: &str,
    profile: Option<Pkcs12Profile>,
) -> Result<Vec<u8>, KeystoreError> {
    let mut store = KeyStore::new();
    store.add_entry(CA_ALIAS, KeyStoreEntry::Certificate(certificate(ca)?));
    write(&store, password, profile)
}
