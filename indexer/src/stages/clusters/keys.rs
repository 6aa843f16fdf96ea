//! One key, several scripts: a public key's P2PK, P2PKH and P2WPKH scripts have one owner. Given
//! one of them, which scripts are its siblings.

use bitcoin::hashes::{hash160, Hash};

use crate::storage::schema::KeyHash;

/// What a script says about its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyScript {
    /// P2PK: the key itself, so its hash is known.
    P2pk { hash: KeyHash, compressed: bool },
    /// P2PKH or P2WPKH: the key's hash.
    Hashed { hash: KeyHash, witness: bool },
}

impl KeyScript {
    /// Reads a P2PK, P2PKH or P2WPKH script; `None` for any other.
    pub fn of(script: &[u8]) -> Option<KeyScript> {
        match script {
            [0x21, key @ .., 0xac] if key.len() == 33 => {
                Some(KeyScript::P2pk { hash: key_hash(key), compressed: true })
            }
            [0x41, key @ .., 0xac] if key.len() == 65 => {
                Some(KeyScript::P2pk { hash: key_hash(key), compressed: false })
            }
            [0x76, 0xa9, 0x14, hash @ .., 0x88, 0xac] if hash.len() == 20 => {
                Some(KeyScript::Hashed { hash: KeyHash(hash.try_into().ok()?), witness: false })
            }
            [0x00, 0x14, hash @ ..] if hash.len() == 20 => {
                Some(KeyScript::Hashed { hash: KeyHash(hash.try_into().ok()?), witness: true })
            }
            _ => None,
        }
    }

    pub fn hash(&self) -> KeyHash {
        match self {
            KeyScript::P2pk { hash, .. } | KeyScript::Hashed { hash, .. } => *hash,
        }
    }

    /// The key's other hash-based scripts: P2PKH and P2WPKH for a key, the other of the two for
    /// a hash. (An uncompressed key has no P2WPKH script.) P2PK siblings cannot be built from a
    /// hash: they are found in `p2pk_keys`.
    pub fn hashed_siblings(&self) -> Vec<Vec<u8>> {
        match self {
            KeyScript::P2pk { hash, compressed: true } => vec![p2pkh(hash), p2wpkh(hash)],
            KeyScript::P2pk { hash, compressed: false } => vec![p2pkh(hash)],
            KeyScript::Hashed { hash, witness: false } => vec![p2wpkh(hash)],
            KeyScript::Hashed { hash, witness: true } => vec![p2pkh(hash)],
        }
    }
}

fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash(hash160::Hash::hash(key).to_byte_array())
}

fn p2pkh(hash: &KeyHash) -> Vec<u8> {
    [&[0x76, 0xa9, 0x14][..], &hash.0, &[0x88, 0xac]].concat()
}

fn p2wpkh(hash: &KeyHash) -> Vec<u8> {
    [&[0x00, 0x14][..], &hash.0].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keys_scripts_name_each_other() {
        let key = [&[0x02][..], &[7; 32]].concat();
        let p2pk = [&[0x21][..], &key, &[0xac]].concat();
        let found = KeyScript::of(&p2pk).unwrap();
        let hash = key_hash(&key);
        assert_eq!(found, KeyScript::P2pk { hash, compressed: true });
        let [pkh, wpkh] = <[Vec<u8>; 2]>::try_from(found.hashed_siblings()).unwrap();
        assert_eq!(KeyScript::of(&pkh), Some(KeyScript::Hashed { hash, witness: false }));
        assert_eq!(KeyScript::of(&wpkh), Some(KeyScript::Hashed { hash, witness: true }));
        assert_eq!(KeyScript::of(&pkh).unwrap().hashed_siblings(), vec![wpkh.clone()]);
        assert_eq!(KeyScript::of(&wpkh).unwrap().hashed_siblings(), vec![pkh]);
        let uncompressed = [&[0x41, 0x04][..], &[9; 64], &[0xac]].concat();
        assert_eq!(KeyScript::of(&uncompressed).unwrap().hashed_siblings().len(), 1);
        assert_eq!(KeyScript::of(&[0x51, 0x20]), None);
    }

    #[test]
    fn hal_finneys_key_hashes_to_his_address() {
        // The key block 170 paid 10 BTC to, as P2PK; explorers show it as 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3.
        let key = hex::decode(
            "04ae1a62fe09c5f51b13905f07f06b99a2f7159b2225f374cd378d71302fa28414e7aab37397f554a7df5f142c21c1b7303b8a0626f1baded5c72a704f7e6cd84c",
        )
        .unwrap();
        let p2pk = [&[0x41][..], &key, &[0xac]].concat();
        let pkh = &KeyScript::of(&p2pk).unwrap().hashed_siblings()[0];
        let address = bitcoin::Address::from_script(bitcoin::Script::from_bytes(pkh), bitcoin::Network::Bitcoin);
        assert_eq!(address.unwrap().to_string(), "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3");
    }
}
