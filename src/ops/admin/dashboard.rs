//! The dashboard: one page on the admin port (`/`), its script and its style, built
//! into the binary. The page holds no data: its script reads `/metrics`, `/readyz` and
//! the JSON API (with the admin token when one is set), so it sees exactly what the API
//! lets its caller see.

/// The asset at `path`: its content type and content.
pub(super) fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "/" | "/dashboard" => Some(("text/html; charset=utf-8", include_str!("dashboard.html"))),
        "/dashboard.js" => Some((
            "text/javascript; charset=utf-8",
            include_str!("dashboard.js"),
        )),
        "/event.js" => Some(("text/javascript; charset=utf-8", include_str!("event.js"))),
        "/charts.js" => Some(("text/javascript; charset=utf-8", include_str!("charts.js"))),
        "/dashboard.css" => Some(("text/css; charset=utf-8", include_str!("dashboard.css"))),
        _ => None,
    }
}

/// Headers every admin answer carries: the page runs only its own script (no inline
/// code, so text a sender put in a header can never run), cannot be framed (a replay
/// button clicked through another site), and no answer is sniffed as another type.
pub(super) const SECURITY_HEADERS: [(&str, &str); 3] = [
    (
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
];
