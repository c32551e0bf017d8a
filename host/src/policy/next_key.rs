//! The name of a Certificate's temporary next-private-key Secret.
//!
//! cert-manager creates it with `generateName`, so a process killed
//! between creating it and recording its name in the Certificate's status
//! leaves a private key behind and makes another on restart. The name here
//! has generateName's shape (`<name>-` cut to 58 characters, then five
//! characters of its alphabet) but is fixed by the Certificate's uid and
//! the revision being issued: the create after a restart meets the Secret
//! it made before (409) and adopts it.

use sha2::{Digest, Sha256};

/// The characters apimachinery's `generateName` suffix is drawn from (no
/// vowels, no easily confused digits).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// apimachinery's `maxGeneratedNameLength`: 63 minus the suffix.
const MAX_PREFIX: usize = 58;

/// The next-private-key Secret's name for revision `revision` of the
/// Certificate `name` with uid `uid`.
pub fn next_key_secret_name(name: &str, uid: &str, revision: i32) -> String {
    let mut prefix = format!("{name}-");
    if prefix.len() > MAX_PREFIX {
        // Names are DNS labels (ASCII), so any byte index is a boundary.
        prefix.truncate(MAX_PREFIX);
    }
    let digest = Sha256::new()
        .chain_update(uid.as_bytes())
        .chain_update([0])
        .chain_update(revision.to_be_bytes())
        .finalize();
    let suffix: String = digest
        .iter()
        .take(5)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    prefix + &suffix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_names_shape_fixed_by_uid_and_revision() {
        let name = next_key_secret_name("web", "uid-1", 2);
        assert_eq!(name.len(), "web-".len() + 5);
        assert!(name.starts_with("web-"));
        assert!(name[4..].bytes().all(|b| ALPHABET.contains(&b)), "{name}");
        assert_eq!(name, next_key_secret_name("web", "uid-1", 2));
        assert_ne!(name, next_key_secret_name("web", "uid-1", 3));
        assert_ne!(name, next_key_secret_name("web", "uid-2", 2));
    }

    #[test]
    fn long_names_are_cut_as_generate_name_cuts_them() {
        let long = "a".repeat(200);
        let name = next_key_secret_name(&long, "uid", 1);
        assert_eq!(name.len(), MAX_PREFIX + 5);
        assert!(name.starts_with(&"a".repeat(MAX_PREFIX)));
    }
}
