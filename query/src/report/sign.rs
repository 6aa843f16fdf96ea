//! Signed case files: an Ed25519 signature over a report's digest, and the key files that make
//! and check it. A secret key file is one line, `chaintrail-ed25519-secret <64 hex digits>`,
//! readable by its owner only; the public key is 64 hex digits (its file, `<key>.pub`, holds them
//! on one line). What is signed is the digest's hex text behind a fixed context string, so a
//! signature over a case file can never be replayed as a signature over anything else.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// What a secret key file starts with.
const SECRET_PREFIX: &str = "chaintrail-ed25519-secret ";

/// What the signature covers, before the digest.
const CONTEXT: &[u8] = b"chaintrail case report digest:";

/// A signature in a report: the signer's public key and the signature, in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub algorithm: String,
    pub public_key: String,
    pub signature: String,
}

/// Why a key or a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("cannot read the key file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a chaintrail secret key file (expected one line '{}<64 hex digits>', as 'query keys new' writes)", SECRET_PREFIX.trim_end())]
    NotSecret { path: String },
    #[error("'{0}' is neither a public key (64 hex digits) nor a file holding one")]
    NotPublic(String),
    #[error("cannot write the key file {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("cannot make a key: the operating system gave no random bytes ({0})")]
    Random(String),
    #[error("the file is not signed")]
    Unsigned,
    #[error("the signature is malformed: {0}")]
    Malformed(String),
    #[error("the signature does not match the digest: the file was signed by another key or edited after signing")]
    Invalid,
    #[error("signed by {found}, not by the expected signer {expected}")]
    OtherSigner { found: String, expected: String },
}

/// Signs a digest.
pub fn sign(key: &SigningKey, digest: &str) -> Signature {
    Signature {
        algorithm: "ed25519".into(),
        public_key: hex::encode(key.verifying_key().as_bytes()),
        signature: hex::encode(key.sign(&message(digest)).to_bytes()),
    }
}

/// Checks a report's signature over its digest; with `expected`, that it is that key's. Returns
/// the signer's public key (hex).
pub fn check(
    signature: Option<&Signature>,
    digest: &str,
    expected: Option<&VerifyingKey>,
) -> Result<String, SignError> {
    let signature = signature.ok_or(SignError::Unsigned)?;
    if signature.algorithm != "ed25519" {
        return Err(SignError::Malformed(format!("unknown algorithm '{}'", signature.algorithm)));
    }
    let key = public_from_hex(&signature.public_key)
        .ok_or_else(|| SignError::Malformed("the public key is not 64 hex digits of an Ed25519 key".into()))?;
    let bytes: [u8; 64] = hex::decode(&signature.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| SignError::Malformed("the signature is not 128 hex digits".into()))?;
    key.verify(&message(digest), &ed25519_dalek::Signature::from_bytes(&bytes)).map_err(|_| SignError::Invalid)?;
    if let Some(expected) = expected {
        if expected != &key {
            return Err(SignError::OtherSigner {
                found: signature.public_key.clone(),
                expected: hex::encode(expected.as_bytes()),
            });
        }
    }
    Ok(signature.public_key.clone())
}

fn message(digest: &str) -> Vec<u8> {
    [CONTEXT, digest.as_bytes()].concat()
}

/// A new key from the operating system's random source.
pub fn new_key() -> Result<SigningKey, SignError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| SignError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a new key pair: `path` (secret, owner-only) and `path.pub`; refuses to replace either.
/// Returns the public key file's path.
pub fn write_key(key: &SigningKey, path: &Path) -> Result<PathBuf, SignError> {
    let public = public_path(path);
    let secret = format!("{SECRET_PREFIX}{}\n", hex::encode(key.to_bytes()));
    let public_text = format!("{}\n", hex::encode(key.verifying_key().as_bytes()));
    create(path, &secret, 0o600)?;
    create(&public, &public_text, 0o644)?;
    Ok(public)
}

/// The public key file beside a secret key file.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

fn create(path: &Path, text: &str, mode: u32) -> Result<(), SignError> {
    let failed = |e: std::io::Error| SignError::Write { path: path.display().to_string(), reason: e.to_string() };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(failed)
}

/// Reads a secret key file.
pub fn read_secret(path: &Path) -> Result<SigningKey, SignError> {
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| SignError::Read { path: shown.clone(), reason: e.to_string() })?;
    let seed: [u8; 32] = text
        .trim()
        .strip_prefix(SECRET_PREFIX)
        .and_then(|h| hex::decode(h.trim()).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or(SignError::NotSecret { path: shown })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A public key given as 64 hex digits, or as a file holding them (a `.pub` file).
pub fn read_public(given: &str) -> Result<VerifyingKey, SignError> {
    if let Some(key) = public_from_hex(given.trim()) {
        return Ok(key);
    }
    std::fs::read_to_string(given)
        .ok()
        .and_then(|text| public_from_hex(text.trim()))
        .ok_or_else(|| SignError::NotPublic(crate::cli::cut(given, crate::error::QUOTE_MAX)))
}

fn public_from_hex(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(text).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_digest_and_key_only() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let digest = "ab".repeat(32);
        let signature = sign(&key, &digest);
        assert_eq!(check(Some(&signature), &digest, Some(&key.verifying_key())), Ok(signature.public_key.clone()));
        assert_eq!(check(Some(&signature), &"cd".repeat(32), None), Err(SignError::Invalid));
        assert!(matches!(
            check(Some(&signature), &digest, Some(&other.verifying_key())),
            Err(SignError::OtherSigner { .. })
        ));
        // A signature made by another key, with the first key's name on it.
        let forged = Signature { public_key: signature.public_key.clone(), ..sign(&other, &digest) };
        assert_eq!(check(Some(&forged), &digest, None), Err(SignError::Invalid));
        assert_eq!(check(None, &digest, None), Err(SignError::Unsigned));
    }

    #[test]
    fn key_files_round_trip_and_are_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("analyst.key");
        let key = new_key().unwrap();
        let public = write_key(&key, &path).unwrap();
        assert_eq!(read_secret(&path).unwrap().to_bytes(), key.to_bytes());
        assert_eq!(read_public(public.to_str().unwrap()).unwrap(), key.verifying_key());
        assert_eq!(read_public(&hex::encode(key.verifying_key().as_bytes())).unwrap(), key.verifying_key());
        assert!(matches!(write_key(&key, &path), Err(SignError::Write { .. })));
        assert!(matches!(read_secret(&public), Err(SignError::NotSecret { .. })));
        assert!(matches!(read_public("nope"), Err(SignError::NotPublic(_))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
