//! Sealing signing secrets for the table: AES-256-GCM under the service's webhook key, with
//! the endpoint id as associated data, so a table dump reveals no secret and a sealed
//! secret copied onto another endpoint does not open.
//!
//! The key comes from `IDV_WEBHOOK_KEY` (on AWS a Secrets Manager secret encrypted with the
//! template's KMS key, named by `IDV_WEBHOOK_KEY_ARN`; see `store::secrets`) or, locally,
//! from the file `IDV_WEBHOOK_KEY_FILE` (written once by `infra/local.sh`, mode 600). The
//! material is hashed with SHA-256 into the 256-bit AES key, so any high-entropy text of at
//! least 32 bytes serves.

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use sha2::{Digest, Sha256};

use crate::config::ConfigError;
use crate::domain::ids::WebhookEndpointId;
use crate::domain::webhook::SealedSecret;

/// The format tag of sealed secrets (a later key or algorithm gets a new one).
const TAG: &str = "v1.";

/// Why a sealed secret does not open.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Not a sealed secret, the wrong key, or sealed for another endpoint.
    #[error("the sealed secret does not open")]
    Unopenable,
    /// The OS random number generator failed.
    #[error("no randomness")]
    Random,
}

/// The key that seals signing secrets.
pub struct SealingKey(LessSafeKey);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// A key from at least 32 bytes of secret material.
    pub fn from_material(material: &[u8]) -> Result<SealingKey, ConfigError> {
        if material.len() < 32 {
            return Err(ConfigError::Invalid("IDV_WEBHOOK_KEY (at least 32 bytes)"));
        }
        let digest = Sha256::digest(material);
        let key = UnboundKey::new(&AES_256_GCM, &digest)
            .map_err(|_| ConfigError::Invalid("IDV_WEBHOOK_KEY"))?;
        Ok(SealingKey(LessSafeKey::new(key)))
    }

    /// The key of this process: `IDV_WEBHOOK_KEY` (or its Secrets Manager ARN, loaded by
    /// `store::secrets::load`), else the file `IDV_WEBHOOK_KEY_FILE`.
    pub fn from_env() -> Result<SealingKey, ConfigError> {
        if let Some(v) = crate::store::secrets::get(crate::store::secrets::WEBHOOK_KEY) {
            return SealingKey::from_material(v.trim().as_bytes());
        }
        let path = std::env::var("IDV_WEBHOOK_KEY_FILE")
            .ok()
            .filter(|p| !p.is_empty())
            .ok_or(ConfigError::Missing(
                "IDV_WEBHOOK_KEY or IDV_WEBHOOK_KEY_FILE",
            ))?;
        let text = std::fs::read_to_string(path)
            .map_err(|_| ConfigError::Unreadable("IDV_WEBHOOK_KEY_FILE"))?;
        SealingKey::from_material(text.trim().as_bytes())
    }

    /// Seals `secret` for `endpoint` (a fresh random nonce each time).
    pub fn seal(
        &self,
        endpoint: WebhookEndpointId,
        secret: &[u8],
    ) -> Result<SealedSecret, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut data = secret.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(endpoint.to_string().as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::Unopenable)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(SealedSecret(format!(
            "{TAG}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )))
    }

    /// Opens a secret sealed for `endpoint`.
    pub fn open(
        &self,
        endpoint: WebhookEndpointId,
        sealed: &SealedSecret,
    ) -> Result<Vec<u8>, SealError> {
        let b64 = sealed.0.strip_prefix(TAG).ok_or(SealError::Unopenable)?;
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .map_err(|_| SealError::Unopenable)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::Unopenable);
        }
        let (nonce, data) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Unopenable)?;
        let mut data = data.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(endpoint.to_string().as_bytes()), &mut data)
            .map_err(|_| SealError::Unopenable)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::values::Timestamp;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_endpoint() {
        let key = SealingKey::from_material(&[7u8; 32]).expect("key");
        let other = SealingKey::from_material(&[8u8; 32]).expect("key");
        let now = Timestamp::now().datetime();
        let (a, b) = (WebhookEndpointId::new(now), WebhookEndpointId::new(now));
        let secret = [42u8; 32];
        let sealed = key.seal(a, &secret).expect("seal");
        assert_eq!(key.open(a, &sealed).expect("opens"), secret.to_vec());
        assert!(key.open(b, &sealed).is_err(), "bound to its endpoint");
        assert!(other.open(a, &sealed).is_err(), "bound to its key");
        // Not an encoding: the stored text does not contain the secret in any plain form.
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(!sealed.0.contains(&b64[..20]) && !sealed.0.contains(&hex::encode(secret)));
        assert_ne!(key.seal(a, &secret).expect("seal"), sealed, "fresh nonce");
        assert!(SealingKey::from_material(b"short").is_err());
        let mut tampered = sealed.0.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = SealedSecret(String::from_utf8(tampered).expect("ascii"));
        assert!(key.open(a, &tampered).is_err());
    }
}
