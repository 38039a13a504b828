//! API keys and permissions: the secret format, its hash, the scopes a key can hold, and
//! the principal a request acts as.
//!
//! A key is `sk_<environment>_<secret>`; only its SHA-256 is stored. The environment in the
//! text is a hint for humans and is checked against the stored record, so a key cannot be
//! moved between environments by editing it.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::client_token::ClientToken;
use super::event::Actor;
use super::ids::{ApiKeyId, SessionId};
use super::values::{Environment, Tenancy, Timestamp};

/// A permission an API key can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Read accounts.
    #[serde(rename = "accounts:read")]
    AccountsRead,
    /// Create and change accounts.
    #[serde(rename = "accounts:write")]
    AccountsWrite,
    /// Read sessions.
    #[serde(rename = "sessions:read")]
    SessionsRead,
    /// Create, change, expire and simulate sessions; register devices.
    #[serde(rename = "sessions:write")]
    SessionsWrite,
    /// Approve, decline, mark for review.
    #[serde(rename = "sessions:decide")]
    SessionsDecide,
    /// Redact sessions and accounts.
    #[serde(rename = "sessions:redact")]
    SessionsRedact,
    /// Read documents and download their files.
    #[serde(rename = "documents:read")]
    DocumentsRead,
    /// Create and submit documents.
    #[serde(rename = "documents:write")]
    DocumentsWrite,
    /// Read verifications.
    #[serde(rename = "verifications:read")]
    VerificationsRead,
    /// Run verifications.
    #[serde(rename = "verifications:write")]
    VerificationsWrite,
    /// Read session event logs.
    #[serde(rename = "events:read")]
    EventsRead,
    /// Read webhook endpoints and their deliveries.
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    /// Create, change, delete and rotate webhook endpoints; replay and redeliver events.
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
    /// Everything.
    #[serde(rename = "*")]
    All,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 14] = [
        Permission::AccountsRead,
        Permission::AccountsWrite,
        Permission::SessionsRead,
        Permission::SessionsWrite,
        Permission::SessionsDecide,
        Permission::SessionsRedact,
        Permission::DocumentsRead,
        Permission::DocumentsWrite,
        Permission::VerificationsRead,
        Permission::VerificationsWrite,
        Permission::EventsRead,
        Permission::WebhooksRead,
        Permission::WebhooksWrite,
        Permission::All,
    ];

    /// The wire name (`sessions:decide`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Permission::AccountsRead => "accounts:read",
            Permission::AccountsWrite => "accounts:write",
            Permission::SessionsRead => "sessions:read",
            Permission::SessionsWrite => "sessions:write",
            Permission::SessionsDecide => "sessions:decide",
            Permission::SessionsRedact => "sessions:redact",
            Permission::DocumentsRead => "documents:read",
            Permission::DocumentsWrite => "documents:write",
            Permission::VerificationsRead => "verifications:read",
            Permission::VerificationsWrite => "verifications:write",
            Permission::EventsRead => "events:read",
            Permission::WebhooksRead => "webhooks:read",
            Permission::WebhooksWrite => "webhooks:write",
            Permission::All => "*",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Permission> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored API key (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public id.
    pub id: ApiKeyId,
    /// The owner.
    pub tenant: super::values::TenantId,
    /// The environment it acts in.
    pub environment: Environment,
    /// A label for humans.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Permission>,
    /// Issue time.
    pub created_at: Timestamp,
    /// It stops working at this time, if set.
    pub expires_at: Option<Timestamp>,
    /// Revoked keys never work again.
    pub revoked: bool,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Its own limit in requests per second; `None` takes the deployment's default
    /// (`IDV_RATE_LIMIT_PER_SECOND`).
    #[serde(default)]
    pub rate_limit: Option<u32>,
}

impl ApiKey {
    /// True if the key may be used at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        !self.revoked && self.expires_at.is_none_or(|at| now < at)
    }

    /// The tenancy all its requests are confined to.
    pub fn tenancy(&self) -> Tenancy {
        Tenancy {
            tenant: self.tenant.clone(),
            environment: self.environment,
        }
    }
}

/// A new secret: `sk_<environment>_` and 40 base-62 characters (~238 bits). Fails only if
/// the operating system refuses randomness, in which case no key must be minted.
pub fn new_secret(environment: Environment) -> Result<String, getrandom::Error> {
    Ok(format!(
        "sk_{}_{}",
        environment.as_str(),
        random_base62(40)?
    ))
}

/// `n` characters drawn uniformly from `0-9A-Za-z` by the OS random source (the body of
/// API keys and client tokens).
pub fn random_base62(n: usize) -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        getrandom::fill(&mut buf)?;
        // Rejection sampling keeps every character uniformly likely.
        for b in buf.into_iter().filter(|b| *b < 248) {
            if out.len() < n {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}

/// The environment a presented key claims in its text, if it has the right shape.
pub fn claimed_environment(secret: &str) -> Option<Environment> {
    let rest = secret.strip_prefix("sk_")?;
    let (env, body) = rest.split_once('_')?;
    if body.is_empty() || body.len() > 200 {
        return None;
    }
    Environment::parse(env)
}

/// Hex SHA-256 of a presented key: the only form in which keys are stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Who a request acts as: a usable key's (or client token's) tenancy and permissions.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key's id; for a client token, the key that issued it (its rate limit applies).
    pub key_id: ApiKeyId,
    /// Tenant and environment.
    pub tenancy: Tenancy,
    /// Permissions.
    pub scopes: Vec<Permission>,
    /// Set when the request carries a client token rather than a key: the token, which
    /// names the one session it may act on.
    pub client: Option<ClientToken>,
}

impl Principal {
    /// True if the key holds `p` (or `*`).
    pub fn can(&self, p: Permission) -> bool {
        self.scopes.iter().any(|s| *s == p || *s == Permission::All)
    }

    /// True for a client token (the applicant's side).
    pub fn is_client(&self) -> bool {
        self.client.is_some()
    }

    /// True if the request may touch something of session `session` (`None`: of no
    /// session): always for a key, only its own session for a client token.
    pub fn reaches(&self, session: Option<SessionId>) -> bool {
        match &self.client {
            None => true,
            Some(token) => session == Some(token.session_id),
        }
    }

    /// Who the events of this request name.
    pub fn actor(&self) -> Actor {
        match &self.client {
            None => Actor::api_key(self.key_id.to_string()),
            Some(token) => Actor::client_token(token.id.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_the_documented_shape_and_hash_stably() {
        let a = new_secret(Environment::Staging).expect("random");
        let b = new_secret(Environment::Staging).expect("random");
        assert_ne!(a, b);
        assert!(a.starts_with("sk_staging_"));
        assert_eq!(a.len(), "sk_staging_".len() + 40);
        assert_eq!(claimed_environment(&a), Some(Environment::Staging));
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_eq!(hash_secret(&a).len(), 64);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn malformed_keys_claim_nothing() {
        for bad in [
            "",
            "sk_",
            "sk_staging_",
            "sk_dev_abc",
            "pk_staging_abc",
            "staging_abc",
        ] {
            assert_eq!(claimed_environment(bad), None, "{bad}");
        }
    }

    #[test]
    fn star_grants_everything() {
        let p = Principal {
            key_id: ApiKeyId::new(time::OffsetDateTime::now_utc()),
            tenancy: Tenancy {
                tenant: super::super::values::TenantId::parse("t").expect("tenant"),
                environment: Environment::Staging,
            },
            scopes: vec![Permission::All],
            client: None,
        };
        assert!(Permission::ALL.iter().all(|x| p.can(*x)));
        let q = Principal {
            scopes: vec![Permission::SessionsRead],
            ..p
        };
        assert!(q.can(Permission::SessionsRead) && !q.can(Permission::SessionsDecide));
    }

    #[test]
    fn expiry_and_revocation() {
        let now = Timestamp::now();
        let mut key = ApiKey {
            id: ApiKeyId::new(now.datetime()),
            tenant: super::super::values::TenantId::parse("t").expect("tenant"),
            environment: Environment::Production,
            name: "ci".into(),
            scopes: vec![],
            created_at: now,
            expires_at: None,
            revoked: false,
            revoked_at: None,
            rate_limit: None,
        };
        assert!(key.is_usable(now));
        key.expires_at = Some(now);
        assert!(!key.is_usable(now));
        key.expires_at = None;
        key.revoked = true;
        assert!(!key.is_usable(now));
    }
}
