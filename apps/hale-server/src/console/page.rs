//! The console's page frame and the small pieces every page uses: the
//! shell (header, navigation, tenant picker, sign-out), links that keep the
//! chosen tenant, times, badges, pagers and the error page.
//!
//! Times are written in UTC by the server inside `<time datetime=…>`; the
//! vendored `console.js` rewrites each into the browser's time zone (and
//! runs expiry countdowns). Without JavaScript the page still reads right,
//! in UTC, and says so in its footer.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::SecondsFormat;
use hale_domain::{TenantId, Timestamp};
use maud::{DOCTYPE, Markup, html};
use serde::Serialize;

use super::session::{Flash, SignedIn};
use crate::auth::TokenTenant;
use crate::error::ApiError;
use crate::routes::AppState;
use crate::routes::acts::{may_act_on_platform, may_act_on_tenants};
use crate::routes::reads;

// === Errors ===

/// What a console request can end in besides its page.
#[derive(Debug)]
pub(crate) enum ConsoleError {
    /// No live session: go and sign in, then come back to `next`.
    SignIn {
        /// Where to return after signing in.
        next: String,
    },
    /// Not a failure: a complete answer that stands in for the handler's
    /// (the tenant picker of a page that needs a tenant).
    Answer(Box<Response>),
    /// A failure shown as a page with its status.
    Page {
        /// The HTTP status.
        status: StatusCode,
        /// What went wrong, in a sentence.
        detail: String,
    },
}

impl ConsoleError {
    /// A page for `status` saying `detail`.
    pub(crate) fn page(status: StatusCode, detail: impl Into<String>) -> Self {
        ConsoleError::Page {
            status,
            detail: detail.into(),
        }
    }
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError::page(e.status(), e.to_string())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::Answer(res) => *res,
            ConsoleError::SignIn { next } => {
                let to = format!("/console/login?next={}", encode(&next));
                see_other(&to)
            }
            ConsoleError::Page { status, detail } => {
                if status.is_server_error() {
                    tracing::warn!(status = status.as_u16(), %detail, "console request failed");
                }
                let title = status.canonical_reason().unwrap_or("Error");
                let body = html! {
                    main #main .narrow tabindex="-1" {
                        h1 { (status.as_u16()) " " (title) }
                        p .flash.bad role="alert" { (detail) }
                        p { a href="/console" { "Back to the console" } }
                    }
                };
                (status, Html(shell(title, None, body).into_string())).into_response()
            }
        }
    }
}

/// A console result.
pub(crate) type Result<T, E = ConsoleError> = std::result::Result<T, E>;

/// `303 See Other` to `to` (after a form, or to the sign-in page).
pub(crate) fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Whether `path` is a console page to return to (a path on this site
/// under `/console`, never another host).
pub(crate) fn is_console_path(path: &str) -> bool {
    (path == "/console" || path.starts_with("/console/") || path.starts_with("/console?"))
        && !path.contains("//")
        && !path.contains('\\')
        && path.chars().all(|c| c.is_ascii_graphic())
}

// === Encoding ===

/// Percent-encodes a query value (everything but RFC 3986's unreserved).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The wire name of an enum value (what the API writes).
pub(crate) fn wire<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

// === The frame of a signed-in page ===

/// The sections of the console, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Overview,
    Approvals,
    Incidents,
    Operations,
    Audit,
    Maintenance,
    Knowledge,
    Controls,
    Recovery,
}

impl Section {
    const ALL: [Section; 9] = [
        Section::Overview,
        Section::Approvals,
        Section::Incidents,
        Section::Operations,
        Section::Audit,
        Section::Maintenance,
        Section::Knowledge,
        Section::Controls,
        Section::Recovery,
    ];

    /// The section a console path belongs to.
    pub(crate) fn of(path: &str) -> Section {
        Section::ALL
            .into_iter()
            .rev()
            .find(|s| path == s.path() || path.starts_with(&format!("{}/", s.path())))
            .unwrap_or(Section::Overview)
    }

    fn path(self) -> &'static str {
        match self {
            Section::Overview => "/console",
            Section::Approvals => "/console/approvals",
            Section::Incidents => "/console/incidents",
            Section::Operations => "/console/operations",
            Section::Audit => "/console/audit",
            Section::Maintenance => "/console/maintenance",
            Section::Knowledge => "/console/knowledge",
            Section::Controls => "/console/controls",
            Section::Recovery => "/console/recovery",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Section::Overview => "Overview",
            Section::Approvals => "Approvals",
            Section::Incidents => "Incidents",
            Section::Operations => "Operations",
            Section::Audit => "Audit log",
            Section::Maintenance => "Maintenance",
            Section::Knowledge => "Knowledge",
            Section::Controls => "Controls",
            Section::Recovery => "Recovery",
        }
    }
}

/// What every signed-in page knows: the session, the tenant it shows
/// (`None`: the whole platform, for a platform token), and the time.
pub(crate) struct Frame {
    pub(crate) session: SignedIn,
    pub(crate) tenant: Option<TenantId>,
    tenants: Vec<TenantId>,
    pub(crate) now: Timestamp,
    section: Section,
}

impl Frame {
    /// The frame for `section`, showing the tenant the request asks for.
    /// A tenant session always shows its own tenant (asking for another is
    /// 403, the API's rule); a platform session shows the asked tenant or
    /// the whole platform.
    pub(crate) fn new(
        state: &AppState,
        session: SignedIn,
        asked: Option<&str>,
        section: Section,
    ) -> Result<Frame> {
        let who = &session.identity;
        let tenants = reads::readable_tenants(state, who)?;
        let tenant = who.scope_for(asked)?;
        Ok(Frame {
            now: state.engine().ports().clock.now(),
            session,
            tenant,
            tenants,
            section,
        })
    }

    /// The tenant as the reads take it.
    pub(crate) fn tenant_arg(&self) -> Option<&str> {
        self.tenant.as_ref().map(TenantId::as_str)
    }

    /// Whether the session is a platform session.
    pub(crate) fn is_platform(&self) -> bool {
        self.session.identity.tenant == TokenTenant::Platform
    }

    /// `path` with the shown tenant (platform sessions carry it in the URL).
    pub(crate) fn href(&self, path: &str) -> String {
        match (&self.tenant, self.is_platform()) {
            (Some(t), true) => {
                let sep = if path.contains('?') { '&' } else { '?' };
                format!("{path}{sep}tenant={}", encode(t.as_str()))
            }
            _ => path.to_owned(),
        }
    }

    /// Whether the session may act on tenants (viewers see no forms).
    pub(crate) fn can_operate(&self) -> bool {
        may_act_on_tenants(&self.session.identity)
    }

    /// Whether the session may act on the whole platform.
    pub(crate) fn can_administer(&self) -> bool {
        may_act_on_platform(&self.session.identity)
    }

    /// The hidden CSRF field of every form.
    pub(crate) fn csrf(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.session.csrf); }
    }

    /// A page that needs a tenant, asked by a platform session that named
    /// none: pick one.
    pub(crate) fn choose_tenant(&self) -> Markup {
        let here = self.section.path();
        let title = self.section.label();
        self.render(
            title,
            None,
            html! {
                h1 { (title) }
                p { "Choose a tenant:" }
                ul .tenants {
                    @for t in &self.tenants {
                        li { a href=(format!("{here}?tenant={}", encode(t.as_str()))) { (t) } }
                    }
                }
            },
        )
    }

    /// The whole page: `body` inside the shell. `refresh` makes the part
    /// marked `data-refresh` reload itself every so many seconds.
    pub(crate) fn render(&self, title: &str, refresh: Option<u32>, body: Markup) -> Markup {
        let who = &self.session.identity;
        let header = html! {
            header .top {
                a .brand href=(self.href("/console")) { "Hale" }
                nav aria-label="Console" {
                    ul {
                        @for s in Section::ALL {
                            li {
                                a href=(self.href(s.path()))
                                  aria-current=[(s == self.section).then_some("page")] { (s.label()) }
                            }
                        }
                    }
                }
                div .who {
                    span { (who.name) " · " (who.role.as_str()) }
                    @if self.is_platform() {
                        form .picker method="get" action=(self.section.path()) {
                            label for="tenant-picker" { "Tenant" }
                            select #tenant-picker name="tenant" {
                                option value="" selected[self.tenant.is_none()] { "all (platform)" }
                                @for t in &self.tenants {
                                    option value=(t) selected[self.tenant.as_ref() == Some(t)] { (t) }
                                }
                            }
                            button type="submit" { "Show" }
                        }
                    } @else if let Some(t) = &self.tenant {
                        span { " · tenant " strong { (t) } }
                    }
                    form method="post" action="/console/logout" {
                        (self.csrf())
                        button type="submit" .link { "Sign out" }
                    }
                }
            }
        };
        let main = html! {
            main #main tabindex="-1" {
                @if let Some(f) = &self.session.flash { (flash(f)) }
                // The live part: console.js fetches the page again every
                // `data-refresh` seconds and swaps this element's content;
                // a fetched page without the attribute (an operation that
                // finished) ends the refreshing.
                div #live data-refresh=[refresh] { (body) }
            }
        };
        shell(
            title,
            refresh,
            html! {
                (header)
                (main)
                footer {
                    "Times are in " span data-tz { "UTC" } ". Signed in until " (time(self.session.expires_at)) "."
                }
            },
        )
    }
}

fn flash(f: &Flash) -> Markup {
    html! {
        @if f.ok {
            p .flash.good role="status" { (f.text) }
        } @else {
            p .flash.bad role="alert" { (f.text) }
        }
    }
}

/// The document around `body`.
pub(crate) fn shell(title: &str, refresh: Option<u32>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Hale" }
                link rel="icon" href="/console/static/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/console/static/console.css";
                script src="/console/static/console.js" defer {}
                @if let Some(secs) = refresh {
                    // Without JavaScript the whole page reloads instead.
                    noscript { meta http-equiv="refresh" content=(secs.max(5)); }
                }
            }
            body {
                a .skip href="#main" { "Skip to content" }
                (body)
            }
        }
    }
}

// === Pieces ===

/// A timestamp: UTC text the script turns into the viewer's zone.
pub(crate) fn time(t: Timestamp) -> Markup {
    let dt = t.to_datetime();
    html! {
        time datetime=(dt.to_rfc3339_opts(SecondsFormat::Millis, true)) {
            (dt.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        }
    }
}

/// The Hale timestamp (`2026-11-23T17:18:33.000000Z`) that starts `s`, if
/// one does, with its length.
fn timestamp_at(s: &str) -> Option<(Timestamp, usize)> {
    let b = s.as_bytes();
    (20..=30.min(b.len())).find_map(|len| {
        let candidate = s.get(..len)?;
        (b[len - 1] == b'Z' && crate::tz::is_timestamp(candidate))
            .then(|| Timestamp::parse_rfc3339(candidate).ok().map(|t| (t, len)))
            .flatten()
    })
}

/// A sentence from the engine (an issue, a reason) with every timestamp in
/// it shown as a [`time`], so it reads in the viewer's zone too.
pub(crate) fn prose(s: &str) -> Markup {
    let mut parts: Vec<Result<&str, Timestamp>> = Vec::new();
    let mut rest = s;
    let mut plain = 0;
    while plain < rest.len() {
        let at_word_start = plain == 0 || !rest.as_bytes()[plain - 1].is_ascii_alphanumeric();
        match rest
            .get(plain..)
            .filter(|_| at_word_start)
            .and_then(timestamp_at)
        {
            Some((t, len)) => {
                parts.push(Ok(&rest[..plain]));
                parts.push(Err(t));
                rest = &rest[plain + len..];
                plain = 0;
            }
            None => {
                plain += rest[plain..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    parts.push(Ok(rest));
    html! {
        @for p in &parts {
            @match p {
                Ok(text) => { (text) }
                Err(t) => { (time(*t)) }
            }
        }
    }
}

/// An optional timestamp, or a dash.
pub(crate) fn time_opt(t: Option<Timestamp>) -> Markup {
    match t {
        Some(t) => time(t),
        None => html! { "—" },
    }
}

/// How long until `until`, counting down in the browser.
pub(crate) fn countdown(until: Timestamp, now: Timestamp) -> Markup {
    let dt = until.to_datetime();
    let text = if until > now {
        format!("in {}", span(until.saturating_duration_since(now)))
    } else {
        "expired".to_owned()
    };
    html! {
        time datetime=(dt.to_rfc3339_opts(SecondsFormat::Millis, true)) data-countdown { (text) }
    }
}

/// A duration the way people say it: `2h 5m`, `45s`.
pub(crate) fn span(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60) {
        (0, 0, 0, sec) => format!("{sec}s"),
        (0, 0, m, sec) => format!("{m}m {sec}s"),
        (0, h, m, _) => format!("{h}h {m}m"),
        (days, h, _, _) => format!("{days}d {h}h"),
    }
}

/// A word in a coloured pill; `tone` is one of good, bad, warn, info.
pub(crate) fn badge(text: &str, tone: &str) -> Markup {
    html! { span class=(format!("badge {tone}")) { (text) } }
}

/// "Older" and "Newer" links of a list page.
pub(crate) fn pager(base: &str, offset: u64, limit: u32, next: Option<u64>) -> Markup {
    let sep = if base.contains('?') { '&' } else { '?' };
    html! {
        nav .pager aria-label="Pages" {
            @if offset > 0 {
                a href=(format!("{base}{sep}offset={}", offset.saturating_sub(u64::from(limit)))) rel="prev" { "← Newer" }
            }
            @if let Some(n) = next {
                a href=(format!("{base}{sep}offset={n}")) rel="next" { "Older →" }
            }
        }
    }
}

/// An HTML 200 answer.
pub(crate) fn ok(markup: Markup) -> Response {
    Html(markup.into_string()).into_response()
}

/// A definition list row, for detail pages.
pub(crate) fn row(label: &str, value: Markup) -> Markup {
    html! { dt { (label) } dd { (value) } }
}

/// Text that may be absent.
pub(crate) fn text_opt(v: Option<&str>) -> Markup {
    match v {
        Some(s) if !s.is_empty() => prose(s),
        _ => html! { "—" },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_return_targets() {
        for good in [
            "/console",
            "/console/approvals/apr-1?tenant=a",
            "/console?tenant=a",
        ] {
            assert!(is_console_path(good), "{good}");
        }
        for bad in [
            "https://evil.example/console",
            "//evil.example/console",
            "/console//evil",
            "/console/\\evil",
            "/consolex",
            "/v1/status",
            "/console/a b",
            "",
        ] {
            assert!(!is_console_path(bad), "{bad}");
        }
    }

    #[test]
    fn timestamps_inside_engine_sentences_become_times() {
        let m = prose("dormant since 2026-12-06T19:42:13.916183Z (manual): ünïcode").into_string();
        assert_eq!(
            m,
            "dormant since <time datetime=\"2026-12-06T19:42:13.916Z\">2026-12-06 19:42:13 UTC</time> (manual): ünïcode"
        );
        assert_eq!(prose("no time here").into_string(), "no time here");
        assert_eq!(
            prose("x2026-12-06T19:42:13Z").into_string(),
            "x2026-12-06T19:42:13Z"
        );
        assert_eq!(prose("<b>").into_string(), "&lt;b&gt;");
    }

    #[test]
    fn a_path_names_its_section() {
        assert_eq!(Section::of("/console"), Section::Overview);
        assert_eq!(Section::of("/console/approvals/apr-1"), Section::Approvals);
        assert_eq!(Section::of("/console/recovery"), Section::Recovery);
        assert_eq!(Section::of("/console/auditx"), Section::Overview);
    }

    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode("/console?x=1&y"), "%2Fconsole%3Fx%3D1%26y");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn spans_read_like_people_say_them() {
        assert_eq!(span(Duration::from_secs(45)), "45s");
        assert_eq!(span(Duration::from_secs(125)), "2m 5s");
        assert_eq!(span(Duration::from_secs(2 * 3600 + 300)), "2h 5m");
        assert_eq!(span(Duration::from_secs(3 * 86_400 + 7200)), "3d 2h");
    }

    #[test]
    fn times_are_utc_text_with_a_machine_readable_instant() {
        let t = Timestamp::parse_rfc3339("2026-11-23T17:18:33.123456Z").unwrap();
        assert_eq!(
            time(t).into_string(),
            r#"<time datetime="2026-11-23T17:18:33.123Z">2026-11-23 17:18:33 UTC</time>"#
        );
    }
}
