//! Chromium through chromedriver (WebDriver, driven with fantoccini): the
//! driver process, the session, and the checks every page of the console
//! must pass: no browser console error, no horizontal scrolling of the page
//! or of any table, and a screenshot kept as a test artifact.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::support::free_port;

/// The browser's time zone: times on the pages must be shown in it.
pub(crate) const TIME_ZONE: &str = "Asia/Seoul";
/// The offset of [`TIME_ZONE`], as the console writes local times.
pub(crate) const TIME_ZONE_OFFSET: &str = "+09:00";

/// chromedriver and chromium, from `HALE_TEST_CHROMEDRIVER` and
/// `HALE_TEST_CHROMIUM` (scripts/services.sh writes both) or Debian's
/// paths. `None` (after a notice) when they are missing and services are
/// not required; a failure when they are.
pub(crate) fn binaries(test: &str) -> Option<(PathBuf, PathBuf)> {
    let find = |var: &str, default: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map_or_else(|| PathBuf::from(default), PathBuf::from)
    };
    let driver = find("HALE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
    let browser = find("HALE_TEST_CHROMIUM", "/usr/bin/chromium");
    if driver.is_file() && browser.is_file() {
        return Some((driver, browser));
    }
    assert!(
        !hale_testkit::services::services_required(),
        "{test}: no chromium/chromedriver ({} / {}) but HALE_REQUIRE_SERVICES=1; \
         scripts/services.sh installs Debian's chromium and chromium-driver",
        browser.display(),
        driver.display()
    );
    #[allow(clippy::print_stderr)] // the skip notice is the point
    {
        eprintln!(
            "SKIPPED {test}: no chromium/chromedriver (apt-get install chromium chromium-driver)"
        );
    }
    None
}

/// Where screenshots go: `$HALE_TEST_ARTIFACTS/console`, or
/// `target/test-artifacts/console` of the workspace.
pub(crate) fn artifacts_dir() -> PathBuf {
    let base = std::env::var_os("HALE_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("test-artifacts"))
        })
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts")
        });
    base.join("console")
}

/// `POST /session/{id}/se/log`: chromedriver's browser log (console
/// messages, failed loads, CSP violations), emptied by each read.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// A chromedriver process and a browser session in it.
pub(crate) struct Chrome {
    pub(crate) client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    taken: u32,
}

impl Chrome {
    /// Starts chromedriver (in [`TIME_ZONE`]) and a headless Chromium.
    pub(crate) async fn start(driver: &Path, browser: &Path) -> Chrome {
        let profile = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = Command::new(driver)
            .arg(format!("--port={port}"))
            .env("TZ", TIME_ZONE)
            .env("LANG", "en_US.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", driver.display()));
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--password-store=basic",
            "--lang=en-US",
            "--hide-scrollbars",
            "--window-size=1366,900",
        ];
        let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps: Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": browser, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        }))
        .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let client = loop {
            let mut builder = ClientBuilder::new(HttpConnector::new());
            builder.capabilities(caps.clone());
            match builder.connect(&url).await {
                Ok(c) => break c,
                Err(e) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("chromedriver exited: {status}");
                    }
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "no WebDriver session within 30 s: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let shots = artifacts_dir();
        std::fs::create_dir_all(&shots).unwrap();
        Chrome {
            client,
            driver: child,
            _profile: profile,
            shots,
            taken: 0,
        }
    }

    /// Runs `script` (a function body) and returns its value.
    pub(crate) async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits (at most 30 s) until `condition`, a JavaScript expression,
    /// is true on the current page.
    pub(crate) async fn until(&self, what: &str, condition: &str) {
        let script = format!("try {{ return !!({condition}); }} catch (e) {{ return false; }}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if self.js(&script).await == Value::Bool(true) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let text = self
                    .js("return document.body ? document.body.innerText : ''")
                    .await;
                let log = self.client.issue_cmd(BrowserLog).await.ok();
                panic!(
                    "timed out waiting for {what} ({condition}) on {url:?}:\n{text}\nbrowser log: {log:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's text contains `needle`.
    pub(crate) async fn until_text(&self, needle: &str) {
        let cond = format!(
            "document.body && document.body.innerText.includes({})",
            Value::String(needle.to_owned())
        );
        self.until(&format!("text {needle:?}"), &cond).await;
    }

    /// The page's visible text.
    pub(crate) async fn text(&self) -> String {
        self.js("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Opens a path of `base`.
    pub(crate) async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Clicks the element `css` finds.
    pub(crate) async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types `text` into the element `css` finds.
    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Presses keys on whatever has the focus (keyboard-only use).
    pub(crate) async fn keys(&self, keys: &str) {
        self.client
            .active_element()
            .await
            .unwrap()
            .send_keys(keys)
            .await
            .unwrap();
    }

    /// The browser's log since the last read, failing the test on any
    /// error (level SEVERE: console errors, failed loads, CSP violations).
    pub(crate) async fn assert_no_console_errors(&self, page: &str) {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .unwrap_or_else(|e| panic!("reading the browser log: {e}"));
        let errors: Vec<&Value> = log
            .as_array()
            .map(|a| a.iter().filter(|e| e["level"] == "SEVERE").collect())
            .unwrap_or_default();
        assert!(
            errors.is_empty(),
            "{page}: browser console errors: {errors:#?}"
        );
    }

    /// Neither the page nor any table scrolls sideways.
    pub(crate) async fn assert_no_horizontal_scroll(&self, page: &str) {
        let v = self
            .js("const d = document.documentElement;
                 const wide = [...document.querySelectorAll('table')]
                   .filter(t => t.scrollWidth > t.clientWidth + 1)
                   .map(t => (t.querySelector('caption, th') || t).innerText.slice(0, 40));
                 return { page: d.scrollWidth, viewport: window.innerWidth, wide };")
            .await;
        let (page_w, view) = (v["page"].as_u64().unwrap(), v["viewport"].as_u64().unwrap());
        assert!(
            page_w <= view,
            "{page}: the page is {page_w} px wide in a {view} px window"
        );
        assert_eq!(v["wide"], json!([]), "{page}: tables wider than their box");
    }

    /// Every page's checks, then a screenshot named `name`.
    pub(crate) async fn check(&mut self, name: &str) {
        self.assert_no_console_errors(name).await;
        self.assert_no_horizontal_scroll(name).await;
        self.taken += 1;
        let png = self.client.screenshot().await.unwrap();
        let path = self.shots.join(format!("{:02}-{name}.png", self.taken));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Ends the session and the driver.
    pub(crate) async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }
}
