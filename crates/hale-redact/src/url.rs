//! Connection URLs with their credentials hidden.
//!
//! Driver URLs are often not well-formed: a password pasted into a URL
//! may hold an unescaped `@`, `:`, `/` or `?`. A parser that stops at the
//! first `@` (or rejects the URL) would print the rest of the password as
//! the host. So the user-info here runs to the **last** `@` of the URL
//! before its fragment, and only what comes after it is treated as host,
//! path and query. A URL that also has an `@` in its path or query loses
//! more than its password to the mask, which is the safe way to be wrong.

use crate::MASK;

/// Query parameter names (lower case) that hold secrets, matched whole.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "sslpassword",
    "secret",
    "token",
    "auth",
    "access_token",
    "api_key",
    "apikey",
];

/// Whether a query parameter's name says it holds a secret: one of
/// [`SECRET_PARAMS`], or any name containing `password`, `secret` or
/// `token`.
fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMS.contains(&name.as_str())
        || ["password", "secret", "token"]
            .iter()
            .any(|w| name.contains(w))
}

/// Schemes whose lone user-info (`redis://abc@host`) is a password: Redis
/// reads a user-info without `:` as the password of the default user.
fn lone_userinfo_is_secret(scheme: &str) -> bool {
    matches!(
        scheme.to_ascii_lowercase().as_str(),
        "redis" | "rediss" | "redis+unix" | "unix"
    )
}

/// `url` with its password and secret query parameters replaced by `***`.
///
/// Handles `scheme://user:password@host/...`, passwords containing `@`,
/// `:`, `/` or `?`, `?password=` and similar parameters, and Redis's
/// password-only user-info (`redis://:pw@host`, `redis://pw@host`). Text
/// without `://` is treated as a libpq key/value string (`host=db
/// password=secret`) and its secret values are hidden the same way.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_key_values(url);
    };
    // The fragment (`#insecure` on a Redis URL) never holds credentials
    // but may follow a password containing '#'; only a fragment after the
    // last '@' is treated as one.
    let (body, fragment) = match rest.rfind('@') {
        Some(at) => match rest[at..].find('#') {
            Some(h) => rest.split_at(at + h),
            None => (rest, ""),
        },
        None => match rest.find('#') {
            Some(h) => rest.split_at(h),
            None => (rest, ""),
        },
    };
    let (userinfo, after) = match body.rfind('@') {
        Some(at) => (Some(&body[..at]), &body[at + 1..]),
        None => (None, body),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    out.push_str("://");
    // A user name never holds '@', '/', '?' or '='; when the part before
    // the first ':' does, the last '@' was in the path or query and the
    // "user-info" swallowed them, so none of it is shown. If it swallowed
    // the start of the query, the text up to the next '&' is the rest of a
    // query value and is hidden too.
    let plain_user = |u: &str| !u.contains(['@', '/', '?', '=', '#']);
    if let Some(u) = userinfo
        && !plain_user(u.split_once(':').map_or(u, |(user, _)| user))
        && u.contains('?')
    {
        let later = after.split_once('&').map_or("", |(_, rest)| rest);
        out.push_str(MASK);
        out.push('@');
        out.push_str(MASK);
        if !later.is_empty() {
            out.push('&');
            out.push_str(&redact_query(later));
        }
        out.push_str(fragment);
        return out;
    }
    if let Some(userinfo) = userinfo {
        match userinfo.split_once(':') {
            Some((user, _password)) if plain_user(user) => {
                out.push_str(user);
                out.push(':');
                out.push_str(MASK);
            }
            None if plain_user(userinfo) && !lone_userinfo_is_secret(scheme) => {
                out.push_str(userinfo);
            }
            _ => out.push_str(MASK),
        }
        out.push('@');
    }
    match after.split_once('?') {
        Some((host_path, query)) => {
            out.push_str(host_path);
            out.push('?');
            out.push_str(&redact_query(query));
        }
        None => out.push_str(after),
    }
    out.push_str(fragment);
    out
}

/// `a=1&password=x` with secret values masked.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_param(name) => format!("{name}={MASK}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `host=db password='x y' user=u` with secret values masked (libpq's
/// key/value form; a quoted value may hold spaces).
fn redact_key_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        // Copy whitespace through.
        let ws = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..ws]);
        rest = &rest[ws..];
        if rest.is_empty() {
            break;
        }
        let end = value_end(rest);
        let (word, tail) = rest.split_at(end);
        match word.split_once('=') {
            Some((name, _)) if is_secret_param(name.trim()) => {
                out.push_str(name);
                out.push('=');
                out.push_str(MASK);
            }
            _ => out.push_str(word),
        }
        rest = tail;
    }
    out
}

/// The end of one `key=value` word: the next unquoted whitespace.
fn value_end(s: &str) -> usize {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\'' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return i,
            _ => {}
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_credential_is_hidden() {
        let cases = [
            (
                "postgres://hale_app:s3cret@db:5432/hale",
                "postgres://hale_app:***@db:5432/hale",
            ),
            // '@', ':', '/' and '?' inside the password.
            (
                "postgres://hale_app:p@ss@db/hale",
                "postgres://hale_app:***@db/hale",
            ),
            ("postgres://u:a:b/c?d@db/x", "postgres://u:***@db/x"),
            // An '@' in a query password: nothing before it is shown.
            (
                "postgres://hale_app@db/hale?password=x@y&sslmode=require",
                "postgres://***@***&sslmode=require",
            ),
            // Secrets in the query, with and without user-info.
            (
                "postgres://hale_app@db/hale?sslmode=verify-full&password=s3cret&application_name=x",
                "postgres://hale_app@db/hale?sslmode=verify-full&password=***&application_name=x",
            ),
            (
                "postgres://db/hale?PASSWORD=a&sslpassword=b&user=u",
                "postgres://db/hale?PASSWORD=***&sslpassword=***&user=u",
            ),
            // Redis: password-only user-info, both spellings; TLS and a
            // fragment.
            ("redis://:pw@h:1", "redis://:***@h:1"),
            ("redis://token@h:1", "redis://***@h:1"),
            (
                "rediss://hale:p%40ss#x@redis:6380/2#insecure",
                "rediss://hale:***@redis:6380/2#insecure",
            ),
            // Nothing secret: unchanged.
            (
                "postgres://postgres@127.0.0.1/x",
                "postgres://postgres@127.0.0.1/x",
            ),
            ("redis://127.0.0.1:6390", "redis://127.0.0.1:6390"),
            ("not a url", "not a url"),
            // libpq key/value strings.
            (
                "host=db user=u password=s3cret dbname=hale",
                "host=db user=u password=*** dbname=hale",
            ),
            (
                "host=db password='a b c' sslmode=require",
                "host=db password=*** sslmode=require",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact_url(input), want, "{input}");
        }
    }

    proptest::proptest! {
        /// Whatever the password holds, it never survives redaction.
        #[test]
        fn prop_no_password_survives(pw in "[!-~]{8,24}") {
            proptest::prop_assume!(!pw.contains('#'));
            let in_query = pw.replace('&', "");
            for (url, secret) in [
                (format!("postgres://hale_app:{pw}@db:5432/hale"), &pw),
                (format!("postgres://hale_app@db/hale?password={in_query}"), &in_query),
                (format!("postgres://db/hale?sslmode=require&password={in_query}"), &in_query),
                (format!("rediss://:{pw}@redis:6380"), &pw),
            ] {
                let shown = redact_url(&url);
                proptest::prop_assert!(!shown.contains(secret.as_str()), "{url} -> {shown}");
            }
        }
    }
}
