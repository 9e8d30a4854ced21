//! Encryption at rest (AES-256-GCM, ring). Each citizen has a random data key; it is stored wrapped
//! by a master key named by id, so master keys rotate by re-wrapping (`broker keys rotate-data`)
//! without touching values, and deleting a citizen's wrapped key makes their values unreadable
//! (crypto-erasure).
//!
//! Associated data binds every ciphertext to where it belongs: a data key to its citizen and master
//! key id, a value to its citizen, attribute and version. A ciphertext copied to another row fails
//! to decrypt.

use std::collections::BTreeMap;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::keys::Secrets;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("master key `{0}` is not configured")]
    UnknownMasterKey(String),
    #[error("cannot decrypt: the data is damaged, misplaced or its key is gone")]
    Decrypt,
    #[error("the system random source failed")]
    Random,
    #[error("invalid key material")]
    Key,
}

/// The master keys, by id, and which one wraps new data keys.
pub struct Vault {
    masters: BTreeMap<String, LessSafeKey>,
    current: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("master_key_ids", &self.masters.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .finish()
    }
}

/// A citizen's data key, unwrapped for the length of one operation.
pub struct DataKey(LessSafeKey);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// Nonce and ciphertext (with tag) of one sealed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

fn key(bytes: &[u8]) -> Result<LessSafeKey, VaultError> {
    Ok(LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| VaultError::Key)?,
    ))
}

fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| VaultError::Random)?;
    Ok(out)
}

fn seal(key: &LessSafeKey, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, VaultError> {
    let nonce = random::<NONCE_LEN>()?;
    let mut buffer = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buffer,
    )
    .map_err(|_| VaultError::Key)?;
    Ok(Sealed {
        nonce: nonce.to_vec(),
        ciphertext: buffer,
    })
}

fn open(key: &LessSafeKey, aad: &[u8], sealed: &Sealed) -> Result<Vec<u8>, VaultError> {
    let nonce: [u8; NONCE_LEN] = sealed
        .nonce
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::Decrypt)?;
    let mut buffer = sealed.ciphertext.clone();
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buffer,
        )
        .map_err(|_| VaultError::Decrypt)?;
    Ok(plain.to_vec())
}

fn data_key_aad(citizen_id: &str, master_id: &str) -> Vec<u8> {
    format!("tuo:data-key:{citizen_id}:{master_id}").into_bytes()
}

fn value_aad(citizen_id: &str, attribute: &str, version: i32) -> Vec<u8> {
    format!("tuo:value:{citizen_id}:{attribute}:{version}").into_bytes()
}

impl Vault {
    pub fn new(secrets: &Secrets) -> Result<Self, VaultError> {
        let mut masters = BTreeMap::new();
        for (kid, bytes) in &secrets.master_keys {
            masters.insert(kid.clone(), key(bytes)?);
        }
        if !masters.contains_key(&secrets.current_master_key) {
            return Err(VaultError::UnknownMasterKey(
                secrets.current_master_key.clone(),
            ));
        }
        Ok(Self {
            masters,
            current: secrets.current_master_key.clone(),
        })
    }

    pub fn current_master_key(&self) -> &str {
        &self.current
    }

    /// A fresh data key for a new citizen, returned wrapped: (master key id, nonce ‖ ciphertext).
    pub fn new_wrapped_data_key(&self, citizen_id: &str) -> Result<(String, Vec<u8>), VaultError> {
        let raw = random::<32>()?;
        self.wrap(citizen_id, &raw)
    }

    fn wrap(&self, citizen_id: &str, raw: &[u8; 32]) -> Result<(String, Vec<u8>), VaultError> {
        let master = self
            .masters
            .get(&self.current)
            .ok_or_else(|| VaultError::UnknownMasterKey(self.current.clone()))?;
        let sealed = seal(master, &data_key_aad(citizen_id, &self.current), raw)?;
        let mut stored = sealed.nonce;
        stored.extend_from_slice(&sealed.ciphertext);
        Ok((self.current.clone(), stored))
    }

    fn unwrap_raw(
        &self,
        citizen_id: &str,
        master_id: &str,
        stored: &[u8],
    ) -> Result<[u8; 32], VaultError> {
        let master = self
            .masters
            .get(master_id)
            .ok_or_else(|| VaultError::UnknownMasterKey(master_id.to_owned()))?;
        if stored.len() <= NONCE_LEN {
            return Err(VaultError::Decrypt);
        }
        let (nonce, ciphertext) = stored.split_at(NONCE_LEN);
        let sealed = Sealed {
            nonce: nonce.to_vec(),
            ciphertext: ciphertext.to_vec(),
        };
        let raw = open(master, &data_key_aad(citizen_id, master_id), &sealed)?;
        raw.try_into().map_err(|_| VaultError::Decrypt)
    }

    pub fn unwrap(
        &self,
        citizen_id: &str,
        master_id: &str,
        stored: &[u8],
    ) -> Result<DataKey, VaultError> {
        Ok(DataKey(key(
            &self.unwrap_raw(citizen_id, master_id, stored)?
        )?))
    }

    /// Re-wraps a stored data key under the current master key (key rotation).
    pub fn rewrap(
        &self,
        citizen_id: &str,
        master_id: &str,
        stored: &[u8],
    ) -> Result<(String, Vec<u8>), VaultError> {
        let raw = self.unwrap_raw(citizen_id, master_id, stored)?;
        self.wrap(citizen_id, &raw)
    }
}

impl DataKey {
    pub fn seal_value(
        &self,
        citizen_id: &str,
        attribute: &str,
        version: i32,
        plaintext: &[u8],
    ) -> Result<Sealed, VaultError> {
        seal(
            &self.0,
            &value_aad(citizen_id, attribute, version),
            plaintext,
        )
    }

    pub fn open_value(
        &self,
        citizen_id: &str,
        attribute: &str,
        version: i32,
        sealed: &Sealed,
    ) -> Result<Vec<u8>, VaultError> {
        open(&self.0, &value_aad(citizen_id, attribute, version), sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault_with(keys: &[(&str, u8)], current: &str) -> Vault {
        let secrets = Secrets {
            pairwise: vec![1; 32],
            master_keys: keys
                .iter()
                .map(|(k, b)| (k.to_string(), [*b; 32]))
                .collect(),
            current_master_key: current.to_owned(),
        };
        Vault::new(&secrets).unwrap()
    }

    #[test]
    fn values_round_trip_and_are_bound_to_their_place() {
        let vault = vault_with(&[("mk1", 7)], "mk1");
        let (kid, wrapped) = vault.new_wrapped_data_key("c1").unwrap();
        let dk = vault.unwrap("c1", &kid, &wrapped).unwrap();
        let sealed = dk
            .seal_value("c1", "address", 1, b"{\"locality\":\"Ottawa\"}")
            .unwrap();
        assert!(
            !sealed.ciphertext.windows(6).any(|w| w == b"Ottawa"),
            "ciphertext hides the value"
        );
        assert_eq!(
            dk.open_value("c1", "address", 1, &sealed).unwrap(),
            b"{\"locality\":\"Ottawa\"}"
        );
        // Moved to another attribute, version or citizen: refused.
        assert_eq!(
            dk.open_value("c1", "address", 2, &sealed),
            Err(VaultError::Decrypt)
        );
        assert_eq!(
            dk.open_value("c1", "email", 1, &sealed),
            Err(VaultError::Decrypt)
        );
        assert_eq!(
            dk.open_value("c2", "address", 1, &sealed),
            Err(VaultError::Decrypt)
        );
        // Another citizen's wrapped key cannot be unwrapped as this citizen's.
        assert!(vault.unwrap("c2", &kid, &wrapped).is_err());
    }

    #[test]
    fn rewrapping_moves_a_data_key_to_the_new_master_without_changing_it() {
        let old = vault_with(&[("mk1", 7)], "mk1");
        let (kid, wrapped) = old.new_wrapped_data_key("c1").unwrap();
        let sealed = old
            .unwrap("c1", &kid, &wrapped)
            .unwrap()
            .seal_value("c1", "a", 1, b"v")
            .unwrap();
        let both = vault_with(&[("mk1", 7), ("mk2", 9)], "mk2");
        let (new_kid, rewrapped) = both.rewrap("c1", &kid, &wrapped).unwrap();
        assert_eq!(new_kid, "mk2");
        let only_new = vault_with(&[("mk2", 9)], "mk2");
        let dk = only_new.unwrap("c1", &new_kid, &rewrapped).unwrap();
        assert_eq!(dk.open_value("c1", "a", 1, &sealed).unwrap(), b"v");
        assert_eq!(
            only_new.unwrap("c1", &kid, &wrapped).unwrap_err(),
            VaultError::UnknownMasterKey("mk1".into())
        );
    }
}
