//! Who may use the HTTP endpoint. Loopback is shared by every account on the machine, so every
//! route but the sign-in ones needs a credential: the bearer token from the data dir (agents,
//! the CLI, scripts) or a session cookie. A browser gets the cookie by opening a one-time
//! sign-in URL that `annal dashboard` or the tray makes; the page itself never carries the
//! long-lived token.
//!
//! Codes and sessions are both signed with the token (HMAC-SHA256), so minting a code needs
//! read access to the token file — exactly the people who could use the token anyway — and a
//! session survives an owner restart (the token stays). A code is good for one sign-in within
//! a few minutes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, header};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use super::{ADDRESS_FILE, token};

/// How long a sign-in URL works.
const CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// How long a browser stays signed in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The credentials this server accepts.
#[derive(Debug)]
pub struct Auth {
    token: String,
    port: u16,
    /// Nonces of codes already used, with their expiry, so each works once.
    redeemed: Mutex<HashMap<String, u64>>,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn sign(token: &str, message: &str) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(token.as_bytes()) else {
        return String::new();
    };
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without returning early, so response timing does not reveal how much of a
/// guessed credential was right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A sign-in code: `<expiry>.<nonce>.<signature>`.
pub fn mint_code(token: &str) -> String {
    let expires = now() + CODE_LIFETIME.as_secs();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let signature = sign(token, &format!("annal-code-v1|{expires}|{nonce}"));
    format!("{expires}.{nonce}.{signature}")
}

/// The sign-in URL of the owner running on `data_dir` (from the address it wrote), or `None`
/// when no owner has served HTTP there.
pub fn sign_in_url(data_dir: &Path) -> std::io::Result<Option<String>> {
    let address = match std::fs::read_to_string(data_dir.join(ADDRESS_FILE)) {
        Ok(address) => address.trim().to_owned(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let code = mint_code(&token(data_dir)?);
    Ok(Some(format!("http://{address}/login?code={code}")))
}

impl Auth {
    pub fn new(token: String, port: u16) -> Self {
        Self { token, port, redeemed: Mutex::new(HashMap::new()) }
    }

    /// The cookie's name: cookies are shared by every port of a host, so owners of different
    /// data dirs on one machine each need their own.
    pub fn cookie_name(&self) -> String {
        format!("annal_session_{}", self.port)
    }

    /// Whether the request carries the bearer token or a live session cookie.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let expected = format!("Bearer {}", self.token);
        let bearer = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
        if bearer.is_some_and(|given| same_bytes(given, expected.as_bytes())) {
            return true;
        }
        let name = self.cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(key, value)| key == name && self.valid_session(value))
    }

    fn valid_session(&self, value: &str) -> bool {
        let Some((expires, signature)) = value.split_once('.') else { return false };
        let Ok(expiry) = expires.parse::<u64>() else { return false };
        let expected = sign(&self.token, &format!("annal-session-v1|{expiry}"));
        same_bytes(signature.as_bytes(), expected.as_bytes()) && expiry > now()
    }

    /// Uses up a sign-in code; `Some(Set-Cookie value)` when it was valid and unused.
    pub fn redeem(&self, code: &str) -> Option<String> {
        let mut parts = code.splitn(3, '.');
        let (expires, nonce, signature) = (parts.next()?, parts.next()?, parts.next()?);
        let expiry: u64 = expires.parse().ok()?;
        let expected = sign(&self.token, &format!("annal-code-v1|{expiry}|{nonce}"));
        if !same_bytes(signature.as_bytes(), expected.as_bytes()) || expiry <= now() {
            return None;
        }
        {
            let mut redeemed = match self.redeemed.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            let now = now();
            redeemed.retain(|_, until| *until > now);
            if redeemed.insert(nonce.to_owned(), expiry).is_some() {
                return None;
            }
        }
        let session_expiry = now() + SESSION_LIFETIME.as_secs();
        let session = format!(
            "{session_expiry}.{}",
            sign(&self.token, &format!("annal-session-v1|{session_expiry}"))
        );
        Some(format!(
            "{}={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
            self.cookie_name(),
            SESSION_LIFETIME.as_secs()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie_header(auth: &Auth, set_cookie: &str) -> HeaderMap {
        let pair = set_cookie.split(';').next().unwrap_or_default().to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, format!("other=1; {pair}").parse().expect("header"));
        assert!(pair.starts_with(&auth.cookie_name()));
        headers
    }

    #[test]
    fn a_code_signs_in_once() {
        let auth = Auth::new("secret".into(), 9200);
        let code = mint_code("secret");
        let cookie = auth.redeem(&code).expect("a fresh code works");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(auth.allows(&cookie_header(&auth, &cookie)));
        assert_eq!(auth.redeem(&code), None, "the second use is refused");
    }

    #[test]
    fn forged_expired_and_foreign_credentials_are_refused() {
        let auth = Auth::new("secret".into(), 9200);
        assert_eq!(auth.redeem(&mint_code("another token")), None);
        assert_eq!(auth.redeem("garbage"), None);
        let expired = format!("1.nonce.{}", sign("secret", "annal-code-v1|1|nonce"));
        assert_eq!(auth.redeem(&expired), None);
        let old_session = format!("1.{}", sign("secret", "annal-session-v1|1"));
        assert!(!auth.valid_session(&old_session));
        let forged = format!("{}.{}", now() + 60, "00".repeat(32));
        assert!(!auth.valid_session(&forged));
        // A session of another port's owner is not this one's.
        let other = Auth::new("secret".into(), 9201);
        let cookie = other.redeem(&mint_code("secret")).expect("code");
        assert!(!auth.allows(&cookie_header(&other, &cookie)));
        assert!(!auth.allows(&HeaderMap::new()));
    }

    #[test]
    fn the_bearer_token_is_a_credential() {
        let auth = Auth::new("secret".into(), 9200);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer secret".parse().expect("header"));
        assert!(auth.allows(&headers));
        headers.insert(header::AUTHORIZATION, "Bearer secreT".parse().expect("header"));
        assert!(!auth.allows(&headers));
    }
}
