//! The agent's page in a real browser: headless Chromium driven through chromedriver
//! (WebDriver, `fantoccini`) against an agent on an ephemeral localhost port with a temporary
//! database. The test starts and stops the driver, the browser and the agent itself.
//!
//! Without `chromium` and `chromedriver` on the PATH the test prints why and passes, unless
//! `AUTODIDACT_REQUIRE_BROWSER=1` (CI sets it after installing them), where that fails it.
//! `AUTODIDACT_SCREENSHOT=FILE` also writes the final screenshot to FILE (how
//! `docs/img/agent.png` is made).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{config, Server, TempDir, ADMIN, CLIENT};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// A program on the PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver on a free localhost port, killed when dropped.
struct Driver {
    // Held for its Drop: the driver process ends with the test.
    _child: common::Child,
    url: String,
}

impl Driver {
    async fn start(exe: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(exe)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver {
            _child: common::Child(child),
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await {
                if r.status().is_success() {
                    return driver;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Ends the browser started on `profile` if the test fails before closing its session
/// (ending chromedriver does not end the browser it started).
struct BrowserGuard(PathBuf);

impl Drop for BrowserGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("pkill")
            .args(["-f", "--"])
            .arg(format!("--user-data-dir={}", self.0.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// A headless Chromium session on a fresh profile in `profile`.
async fn browser(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,800",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap()
}

/// Polls the text of the first element matching `css` until `ok` holds (15 s at most).
async fn wait_text(c: &Client, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = String::from("(no such element)");
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if ok(&t) {
                    return t;
                }
                last = t;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what}: `{css}` still shows {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn script(c: &Client, js: &str) -> Value {
    c.execute(js, vec![]).await.unwrap()
}

#[tokio::test]
async fn the_page_shows_the_agent_learning_in_a_real_browser() {
    let required = std::env::var("AUTODIDACT_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let (Some(chromium), Some(chromedriver)) = (on_path("chromium"), on_path("chromedriver"))
    else {
        assert!(
            !required,
            "AUTODIDACT_REQUIRE_BROWSER=1 but chromium or chromedriver is not on the PATH \
             (Debian: apt-get install -y chromium chromium-driver)"
        );
        eprintln!(
            "skipped: chromium and chromedriver are not on the PATH (Debian: apt-get install \
             -y chromium chromium-driver; .ci/run installs them)"
        );
        return;
    };
    let dir = TempDir::new("page");
    let s = Server::start(config(dir.path())).await;
    let driver = Driver::start(&chromedriver).await;
    let profile = dir.path().join("chromium-profile");
    let _browser = BrowserGuard(profile.clone());
    let c = browser(&driver, &chromium, &profile).await;

    c.goto(&s.url("/")).await.unwrap();
    // Marks this document: still set at the end means nothing reloaded the page.
    script(&c, "window.__noReload = 42; return true;").await;

    // A wrong token: a clear error, and the page stays whole.
    fill(&c, "#token", "not-the-admin-token").await;
    click(&c, "#token-form button[type=submit]").await;
    wait_text(&c, "#error", "wrong token", |t| t.contains("refused")).await;
    assert!(c.find(Locator::Css("#intents-h")).await.is_ok());
    // A client token is not enough either.
    fill(&c, "#token", CLIENT).await;
    click(&c, "#token-form button[type=submit]").await;
    wait_text(&c, "#error", "client token", |t| t.contains("admin token")).await;

    fill(&c, "#token", ADMIN).await;
    click(&c, "#token-form button[type=submit]").await;
    wait_text(
        &c,
        "#intents tr[data-name=card_arrival] .examples",
        "intents",
        |t| t == "6",
    )
    .await;
    let error_hidden = script(&c, "return document.getElementById('error').hidden;").await;
    assert_eq!(
        error_hidden,
        json!(true),
        "the error clears once the token works"
    );

    // Add an intent with five examples through the form.
    fill(&c, "#new-name", "freeze_card").await;
    fill(
        &c,
        "#new-examples",
        "please freeze my card\nI want to freeze my card\nfreeze my card right now\n\
         how do I freeze my card\ncan you freeze my card for me",
    )
    .await;
    fill(
        &c,
        "#new-answer",
        "Freeze your card in the app under Card > Freeze.",
    )
    .await;
    click(&c, "#add-intent button[type=submit]").await;
    wait_text(
        &c,
        "#intents tr[data-name=freeze_card] .examples",
        "new intent",
        |t| t == "5",
    )
    .await;

    // A message through the API appears on the page with that intent.
    let hit = s.ask("I want to freeze my card").await;
    assert_eq!(hit["intent"], "freeze_card", "{hit}");
    let row = format!("#conversations tr[data-id=\"{}\"]", hit["id"]);
    wait_text(&c, &format!("{row} .intent"), "message on the page", |t| {
        t == "freeze_card"
    })
    .await;

    // Another message, marked wrong on the page with the right intent picked.
    let other = s.ask("my card has still not arrived").await;
    let predicted = other["intent"].as_str().unwrap().to_string();
    let right = if predicted == "lost_card" {
        "top_up"
    } else {
        "lost_card"
    };
    let examples_css = format!("#intents tr[data-name={right}] .examples");
    let before: usize = wait_text(&c, &examples_css, "examples", |_| true)
        .await
        .parse()
        .unwrap();
    let row = format!("#conversations tr[data-id=\"{}\"]", other["id"]);
    wait_text(&c, &format!("{row} .intent"), "second message", |t| {
        t == predicted
    })
    .await;
    c.find(Locator::Css(&format!("{row} select.fix")))
        .await
        .unwrap()
        .select_by_value(right)
        .await
        .unwrap();
    click(&c, &format!("{row} .wrong-button")).await;
    wait_text(&c, &format!("{row} .feedback"), "feedback shown", |t| {
        t.contains(&format!("wrong → {right}"))
    })
    .await;
    // The accuracy panel and the intent's example count follow, without a reload.
    wait_text(&c, "#stat-feedback", "feedback count", |t| t == "1").await;
    wait_text(&c, "#stat-accuracy", "accuracy", |t| t == "0.0 %").await;
    wait_text(&c, &examples_css, "example count", |t| {
        t == (before + 1).to_string()
    })
    .await;
    let (st, stats) = s.get("/v1/stats", Some(ADMIN)).await;
    assert_eq!(st, 200);
    assert_eq!(
        stats["feedback"], 1,
        "the page's feedback reached the agent"
    );
    assert!(c.find(Locator::Css("#chart-accuracy canvas")).await.is_ok());
    assert_eq!(
        script(&c, "return window.__noReload;").await,
        json!(42),
        "the page reloaded"
    );

    // Every control has a label, every button a name.
    let unlabelled = script(
        &c,
        "return [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
            .map(e => e.id || e.outerHTML.slice(0, 60))
            .concat([...document.querySelectorAll('button')]
                .filter(b => b.textContent.trim() === '').map(b => b.outerHTML.slice(0, 60)));",
    )
    .await;
    assert_eq!(unlabelled, json!([]), "controls without a label");

    script(&c, "window.scrollTo(0, 0); return true;").await;
    let shot = c.screenshot().await.unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("agent-page");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("agent.png"), &shot).unwrap();
    if let Some(path) = std::env::var_os("AUTODIDACT_SCREENSHOT") {
        std::fs::write(path, &shot).unwrap();
    }

    // Legible on a phone: nothing wider than the window.
    c.set_window_size(390, 844).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The elements sticking out past the window's right edge, outside scrolling tables.
    let wide = script(
        &c,
        "const w = document.documentElement.clientWidth;
         return [...document.querySelectorAll('body *')]
            .filter(e => !(e.parentElement && e.parentElement.closest('.scroll'))
                && e.getBoundingClientRect().right > w + 1)
            .map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' '
                 + Math.round(e.getBoundingClientRect().right));",
    )
    .await;
    let phone = c.screenshot().await.unwrap();
    std::fs::write(out.join("agent-phone.png"), &phone).unwrap();
    assert_eq!(wide, json!([]), "the page is wider than a 390 px window");

    c.close().await.unwrap();
    drop(driver);
    s.stop().await;
}
