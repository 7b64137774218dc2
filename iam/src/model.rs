//! What the store keeps: users, access keys and grants, as records (JSON in the store) and as
//! the views the admin API answers (never holding a secret).

use serde::{Deserialize, Serialize};

/// What a grant allows on a bucket; each level includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// List and read objects.
    Read,
    /// Read, and write and delete objects.
    Write,
    /// Everything the bucket's owner may do, deleting the bucket included.
    Owner,
}

impl Permission {
    /// Parses `read`, `write` or `owner`.
    pub fn parse(text: &str) -> Option<Permission> {
        match text {
            "read" => Some(Permission::Read),
            "write" => Some(Permission::Write),
            "owner" => Some(Permission::Owner),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Owner => "owner",
        }
    }
}

/// An access key's state: active → revoked (and back) → deleted (for good).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Active,
    Revoked,
    Deleted,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Revoked => "revoked",
            KeyState::Deleted => "deleted",
        }
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The canonical user id: what bucket records name as their owner.
    pub id: String,
    pub name: String,
    pub admin: bool,
    /// Unix seconds.
    pub created: u64,
}

/// An access key as stored. The secret exists only sealed (AES-256-GCM under the master key,
/// the key id as associated data), and not at all once the key is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    /// The owning user's name.
    pub user: String,
    pub name: String,
    pub state: KeyState,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds after which the key is refused like a revoked one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// Base64 of nonce ‖ ciphertext ‖ tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

impl KeyRecord {
    /// Whether requests signed with this key are accepted at `now` (unix seconds).
    pub fn usable_at(&self, now: u64) -> bool {
        self.state == KeyState::Active && self.expires.is_none_or(|t| now < t)
    }
}

/// A grant of `permission` on one bucket (bound to its id: a bucket deleted and created
/// again is another bucket, which the grant does not reach).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub user: String,
    pub bucket: String,
    pub bucket_id: u64,
    pub permission: Permission,
}

/// A user as the admin API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserView {
    pub name: String,
    pub id: String,
    pub admin: bool,
    pub created: String,
    /// Ids of the user's keys that are not deleted.
    pub keys: Vec<String>,
    /// Buckets the user owns (filled in where the caller knows the buckets).
    #[serde(default)]
    pub buckets: Vec<String>,
    pub grants: Vec<GrantView>,
}

/// An access key as the admin API shows it: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyView {
    pub id: String,
    pub user: String,
    pub name: String,
    pub state: KeyState,
    pub created: String,
    pub last_used: Option<String>,
    pub expires: Option<String>,
}

/// A key just created: the only answer that ever carries its secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct NewKey {
    #[serde(flatten)]
    pub key: KeyView,
    pub secret: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A grant as the admin API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GrantView {
    pub user: String,
    pub bucket: String,
    pub permission: Permission,
}

impl From<&GrantRecord> for GrantView {
    fn from(g: &GrantRecord) -> GrantView {
        GrantView {
            user: g.user.clone(),
            bucket: g.bucket.clone(),
            permission: g.permission,
        }
    }
}

/// Unix seconds as RFC 3339 in UTC (`2026-12-04T17:46:52Z`).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let (y, m, d) = cairn_sigv4::time::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Parses an expiry: RFC 3339 in UTC (`2027-01-31T00:00:00Z`), a date (`2027-01-31`, its
/// midnight UTC), or a span from `now` (`90d`, `12h`, `30m`).
pub fn parse_expiry(text: &str, now: u64) -> Option<u64> {
    let text = text.trim();
    if let Some(span) = parse_span(text) {
        return now.checked_add(span);
    }
    let (date, time) = match text.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z')?)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    let days = cairn_sigv4::time::days_from_civil(year, month, day);
    if cairn_sigv4::time::civil_from_days(days) != (year, month, day) {
        return None;
    }
    let mut secs = u64::try_from(days).ok()? * 86_400;
    if let Some(time) = time {
        let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
        let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
        if hms.next().is_some() || h > 23 || m > 59 || s > 59 {
            return None;
        }
        secs += h * 3600 + m * 60 + s;
    }
    Some(secs)
}

fn parse_span(text: &str) -> Option<u64> {
    let unit = match text.as_bytes().last()? {
        b'd' => 86_400,
        b'h' => 3600,
        b'm' => 60,
        _ => return None,
    };
    let n: u64 = text[..text.len() - 1].parse().ok()?;
    n.checked_mul(unit)
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_406_412), "2026-12-04T17:46:52Z");
        assert_eq!(parse_expiry("2026-12-04T17:46:52Z", 0), Some(1_796_406_412));
        assert_eq!(parse_expiry("2026-12-04", 0), Some(1_796_342_400));
        assert_eq!(parse_expiry("90d", 100), Some(100 + 90 * 86_400));
        assert_eq!(parse_expiry("2h", 0), Some(7200));
        for bad in [
            "",
            "2026-02-30",
            "2026-13-01",
            "tomorrow",
            "2026-12-04T25:00:00Z",
            "5y",
        ] {
            assert_eq!(parse_expiry(bad, 0), None, "{bad}");
        }
    }

    #[test]
    fn permissions_are_ordered() {
        assert!(Permission::Read < Permission::Write && Permission::Write < Permission::Owner);
        for p in [Permission::Read, Permission::Write, Permission::Owner] {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::parse("admin"), None);
    }
}
