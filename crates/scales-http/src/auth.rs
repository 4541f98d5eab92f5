//! Optional authentication of the status routes: a bearer token, HTTP basic credentials, or
//! both (either one lets a request in).
//!
//! Secrets are kept only as their SHA-256 digests, and a presented credential is hashed the
//! same way and compared with `subtle`'s constant-time equality: the time a comparison takes
//! depends on neither where the presented credential differs from the secret nor the
//! secret's length (hashing takes time by the length of what the client sent, which the
//! client knows anyway). A basic-auth user name and password are compared each on its own,
//! and both always.
//!
//! Depends on no other module of the crate.

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// A secret, as its SHA-256 digest.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret([u8; 32]);

impl Secret {
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }

    /// Whether `presented` is the secret, in time independent of where they differ.
    pub(crate) fn matches(&self, presented: &[u8]) -> Choice {
        let presented: [u8; 32] = Sha256::digest(presented).into();
        self.0.ct_eq(&presented)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What a request must present, when anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) bearer: Option<Secret>,
    /// User name and password.
    pub(crate) basic: Option<(Secret, Secret)>,
}

impl Credentials {
    /// Whether the routes are open to anyone.
    pub(crate) fn is_open(&self) -> bool {
        self.bearer.is_none() && self.basic.is_none()
    }

    /// Whether the request's `Authorization` headers carry an accepted credential.
    pub(crate) fn allow(&self, headers: &HeaderMap) -> bool {
        if self.is_open() {
            return true;
        }
        let mut allowed = Choice::from(0);
        for value in headers.get_all(AUTHORIZATION) {
            allowed |= self.accepts(value.as_bytes());
        }
        bool::from(allowed)
    }

    /// Whether one `Authorization` header value is an accepted credential.
    fn accepts(&self, value: &[u8]) -> Choice {
        let Some((scheme, rest)) = split_scheme(value) else {
            return Choice::from(0);
        };
        if scheme.eq_ignore_ascii_case(b"bearer") {
            return match &self.bearer {
                Some(token) => token.matches(rest),
                None => Choice::from(0),
            };
        }
        if scheme.eq_ignore_ascii_case(b"basic") {
            let Some((user, password)) = &self.basic else {
                return Choice::from(0);
            };
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) else {
                return Choice::from(0);
            };
            // RFC 7617: the user name ends at the first colon (and cannot hold one).
            let at = decoded.iter().position(|&b| b == b':');
            let Some(at) = at else {
                return Choice::from(0);
            };
            return user.matches(&decoded[..at]) & password.matches(&decoded[at + 1..]);
        }
        Choice::from(0)
    }

    /// The `WWW-Authenticate` challenges of a `401`: one per accepted scheme, realm `scales`.
    pub(crate) fn challenges(&self) -> Vec<HeaderValue> {
        let mut out = Vec::new();
        if self.basic.is_some() {
            out.push(HeaderValue::from_static(
                "Basic realm=\"scales\", charset=\"UTF-8\"",
            ));
        }
        if self.bearer.is_some() {
            out.push(HeaderValue::from_static("Bearer realm=\"scales\""));
        }
        out
    }
}

/// `Scheme credentials` → the scheme and the credentials (spaces between them skipped).
fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    let start = rest.iter().position(|&b| b != b' ')?;
    Some((scheme, &rest[start..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn basic(user: &str, password: &str) -> String {
        let raw = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn secrets_match_only_themselves_whatever_the_length_or_where_they_differ() {
        let secret = Secret::new(b"correct horse battery staple");
        assert!(bool::from(secret.matches(b"correct horse battery staple")));
        for wrong in [
            &b""[..],
            b"c",
            b"correct horse battery stapl",
            b"correct horse battery staple ",
            b"Correct horse battery staple",
            b"correct horse battery staplE",
            b"xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ] {
            assert!(!bool::from(secret.matches(wrong)), "{wrong:?}");
        }
        // The comparison is over fixed-size digests: the secret's length shows nowhere.
        assert_eq!(secret.0.len(), 32);
        assert!(!format!("{secret:?}").contains("horse"));
        let empty = Secret::new(b"");
        assert!(bool::from(empty.matches(b"")));
        assert!(!bool::from(empty.matches(b"x")));
    }

    #[test]
    fn bearer_tokens() {
        let creds = Credentials {
            bearer: Some(Secret::new(b"s3cret-token")),
            basic: None,
        };
        assert!(creds.allow(&headers(&["Bearer s3cret-token"])));
        assert!(creds.allow(&headers(&["bearer   s3cret-token"])));
        for wrong in [
            "Bearer s3cret-tokeN",
            "Bearer s3cret-token ",
            "Bearer",
            "Bearer ",
            "s3cret-token",
            "Token s3cret-token",
            &basic("s3cret-token", "s3cret-token"),
        ] {
            assert!(!creds.allow(&headers(&[wrong])), "{wrong}");
        }
        assert!(!creds.allow(&HeaderMap::new()));
        assert!(creds.allow(&headers(&["Bearer wrong", "Bearer s3cret-token"])));
        assert_eq!(creds.challenges(), ["Bearer realm=\"scales\""]);
    }

    #[test]
    fn basic_credentials() {
        let creds = Credentials {
            bearer: None,
            basic: Some((Secret::new(b"ops"), Secret::new(b"pa:ss w\xc3\xb6rd"))),
        };
        assert!(creds.allow(&headers(&[&basic("ops", "pa:ss wörd")])));
        for wrong in [
            basic("ops", "pa:ss word"),
            basic("ops", ""),
            basic("Ops", "pa:ss wörd"),
            basic("", "pa:ss wörd"),
            // The same bytes as the right credential would be `ops:pa:ss wörd`.
            basic("ops:pa", "ss"),
            "Basic".to_owned(),
            "Basic !!!not-base64".to_owned(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("no colon")
            ),
            "Bearer pa:ss wörd".to_owned(),
        ] {
            let mut map = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&wrong) {
                map.append(AUTHORIZATION, value);
            }
            assert!(!creds.allow(&map), "{wrong}");
        }
        assert_eq!(
            creds.challenges(),
            ["Basic realm=\"scales\", charset=\"UTF-8\""]
        );
    }

    #[test]
    fn either_when_both_are_set_and_anything_when_none() {
        let creds = Credentials {
            bearer: Some(Secret::new(b"t")),
            basic: Some((Secret::new(b"u"), Secret::new(b"p"))),
        };
        assert!(creds.allow(&headers(&["Bearer t"])));
        assert!(creds.allow(&headers(&[&basic("u", "p")])));
        assert!(!creds.allow(&headers(&["Bearer p"])));
        assert_eq!(creds.challenges().len(), 2);
        let open = Credentials::default();
        assert!(open.is_open());
        assert!(open.allow(&HeaderMap::new()));
    }
}
