//! The agent's web page at `/`: plain HTML, CSS and JavaScript embedded in the binary at
//! compile time (no build step, no CDN, works with no network), with uPlot 1.6.32 (MIT,
//! `agent/web/vendor/`) for the charts. The page reads and writes only through the JSON API,
//! with the admin token the operator types in (kept in the tab's session storage).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

static ASSETS: [Asset; 5] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../web/index.html"),
    },
    Asset {
        path: "/assets/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../web/app.js"),
    },
    Asset {
        path: "/assets/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../web/app.css"),
    },
    Asset {
        path: "/assets/uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../web/vendor/uPlot.iife.min.js"),
    },
    Asset {
        path: "/assets/uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../web/vendor/uPlot.min.css"),
    },
];

/// Everything from this origin only, no inline script or style, no framing: the page holds
/// an admin token, so injected script must have nowhere to run.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; \
     base-uri 'none'";

fn respond(asset: &'static Asset) -> Response {
    let mut response = ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // A new binary may serve new files under the same names: always revalidate.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The page's routes (no state, no token: the files hold no data).
pub(crate) fn routes<T: Clone + Send + Sync + 'static>() -> Router<T> {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        router.route(asset.path, get(move || async move { respond(asset) }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_embedded_assets() {
        let index = ASSETS[0].body;
        for asset in &ASSETS[1..] {
            assert!(
                index.contains(asset.path),
                "index.html does not load {}",
                asset.path
            );
        }
        // Nothing from another origin, and no inline script the policy would block.
        assert!(!index.contains("http://") && !index.contains("https://"));
        assert!(!index.contains("<script>") && !index.contains(" onclick="));
        assert!(!index.contains("style=\""));
    }
}
