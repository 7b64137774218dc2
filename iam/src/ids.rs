//! Access key ids, secrets and user ids, from the OS CSPRNG; and the names users and keys
//! may have.

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::IamError;

/// Characters in an access key id (AWS's are 20).
pub const KEY_ID_LEN: usize = 20;
/// Characters in a generated secret (AWS's are 40): 240 bits.
pub const SECRET_LEN: usize = 40;
/// Upper-case base32: what follows the prefix of a key id.
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Base64's alphabet, as AWS's secrets use.
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_text(alphabet: &[u8], len: usize) -> Result<Zeroizing<String>, IamError> {
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| IamError::Random)?;
    // Both alphabets have 32 or 64 characters, which divide 256: no modulo bias.
    Ok(Zeroizing::new(
        bytes
            .iter()
            .map(|b| alphabet[*b as usize % alphabet.len()] as char)
            .collect(),
    ))
}

/// Checks a key id prefix: 1 to 10 upper-case letters and digits.
pub fn check_prefix(prefix: &str) -> Result<(), IamError> {
    if (1..=10).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(IamError::Invalid(format!(
            "access key id prefix {prefix:?} is invalid: use 1 to 10 upper-case letters and digits"
        )))
    }
}

/// A new key id: the prefix, then random base32 up to 20 characters.
pub(crate) fn new_key_id(prefix: &str) -> Result<String, IamError> {
    let tail = random_text(ID_ALPHABET, KEY_ID_LEN - prefix.len())?;
    Ok(format!("{prefix}{}", tail.as_str()))
}

/// A new secret.
pub(crate) fn new_secret() -> Result<Zeroizing<String>, IamError> {
    random_text(SECRET_ALPHABET, SECRET_LEN)
}

/// A new canonical user id: 64 hex digits, like AWS's.
pub(crate) fn new_user_id() -> Result<String, IamError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| IamError::Random)?;
    Ok(hex::encode(bytes))
}

/// Checks a user name: 1 to 64 of letters, digits and `_+=,.@-` (AWS's IAM user names).
pub(crate) fn check_user_name(name: &str) -> Result<(), IamError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IamError::Invalid(format!(
            "user name {name:?} is invalid: use 1 to 64 letters, digits and _+=,.@-"
        )))
    }
}

/// Checks a key's name: 1 to 64 printable characters.
pub(crate) fn check_key_name(name: &str) -> Result<(), IamError> {
    if (1..=64).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(IamError::Invalid(format!(
            "key name {name:?} is invalid: use 1 to 64 printable characters"
        )))
    }
}

/// Checks an imported (pre-existing) key: an id of 3 to 128 letters and digits, a secret of
/// at least 8 printable characters without spaces.
pub(crate) fn check_imported(id: &str, secret: &str) -> Result<(), IamError> {
    if !((3..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return Err(IamError::Invalid(format!(
            "access key id {id:?} is invalid: use 3 to 128 letters and digits"
        )));
    }
    if secret.len() < 8 || secret.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(IamError::Invalid(format!(
            "the secret of access key {id} is invalid: use at least 8 printable characters without spaces"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_secrets_have_their_shape() {
        let id = new_key_id("CAIRN").unwrap();
        assert_eq!(id.len(), KEY_ID_LEN);
        assert!(id.starts_with("CAIRN"));
        assert!(id.bytes().all(|b| ID_ALPHABET.contains(&b)));
        let secret = new_secret().unwrap();
        assert_eq!(secret.len(), SECRET_LEN);
        assert_ne!(secret.as_str(), new_secret().unwrap().as_str());
        assert_eq!(new_user_id().unwrap().len(), 64);
        assert!(check_prefix("AKIA").is_ok());
        assert!(check_prefix("akia").is_err() && check_prefix("").is_err());
        assert!(check_user_name("alice@example.com").is_ok());
        assert!(check_user_name("a b").is_err());
    }
}
