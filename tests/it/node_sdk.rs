//! Providers whose signing code ships only for Node: an npm folder the tests create once
//! (pinned versions, cached under `~/.cache`), whose SDKs sign requests the real binary
//! must accept, and refuse tampered, re-keyed or stale.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::support::common::*;

const PACKAGE_JSON: &str = r#"{ "name": "hookgate-interop", "private": true, "version": "0.0.0",
  "dependencies": {
    "@octokit/webhooks-methods": "6.0.0",
    "@kontent-ai/webhook-helper": "3.0.3",
    "@sanity/webhook": "4.0.4",
    "coinbase-commerce-node": "1.0.4",
    "@mux/mux-node": "15.3.0",
    "@contentful/node-apps-toolkit": "3.16.1"
  } }
"#;

/// `node sign.mjs PRESET SECRET TS BODYFILE`: the SDK's headers, one `name: value` a line.
const SIGNER: &str = r#"import { createRequire } from "node:module";
import fs from "node:fs";
const require = createRequire(import.meta.url);
const [preset, secret, ts, file] = process.argv.slice(2);
const body = fs.readFileSync(file, "utf8");
const out = (k, v) => console.log(`${k}: ${v}`);
if (preset === "github") {
  const { sign } = await import("@octokit/webhooks-methods");
  out("x-hub-signature-256", await sign(secret, body));
} else if (preset === "kontent") {
  out("x-kontent-ai-signature", require("@kontent-ai/webhook-helper").signatureHelper.getHashFromString(body, secret));
} else if (preset === "sanity") {
  out("sanity-webhook-signature", await require("@sanity/webhook").encodeSignatureHeader(body, Number(ts) * 1000, secret));
} else if (preset === "coinbase-commerce") {
  out("x-cc-webhook-signature", require("coinbase-commerce-node").Webhook.computeSignature(body, secret));
} else if (preset === "mux") {
  const Mux = require("@mux/mux-node").default;
  const mux = new Mux({ tokenId: "unused", tokenSecret: "unused" });
  out("mux-signature", `t=${ts},v1=${await mux.webhooks.computeSignature(`${ts}.${body}`, secret)}`);
} else if (preset === "contentful") {
  const { signRequest } = require("@contentful/node-apps-toolkit");
  const h = signRequest(secret, { method: "POST", path: "/contentful", headers: {}, body }, Number(ts) * 1000);
  for (const [k, v] of Object.entries(h)) out(k.toLowerCase(), v);
} else { console.error("no node signer for " + preset); process.exit(2); }
"#;

/// Presets signed by a Node SDK here: (preset, timestamped).
pub const SIGNED_BY_NODE_SDK: &[(&str, bool)] = &[
    ("github", false),
    ("kontent", false),
    ("sanity", true),
    ("coinbase-commerce", false),
    ("mux", true),
    ("contentful", true),
];

/// The npm folder with [`PACKAGE_JSON`] installed, named by its content's hash.
fn folder() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| npm_folder("hookgate-test-npm", PACKAGE_JSON, &[("sign.mjs", SIGNER)]))
        .clone()
}

fn sign(preset: &str, secret: &str, ts: i64, body: &str) -> Vec<(String, String)> {
    let dir = folder();
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "body", body);
    let out = Command::new("node")
        .arg(dir.join("sign.mjs"))
        .args([preset, secret, &ts.to_string()])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node {preset}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Contentful's signing secrets are exactly 64 characters.
fn secret(preset: &str) -> String {
    match preset {
        "contentful" => "a".repeat(64),
        _ => format!("{preset}-node-secret"),
    }
}

#[test]
fn requests_signed_by_the_providers_node_sdks_are_accepted_and_tampered_rekeyed_or_stale_refused() {
    let mut yaml = String::from("listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n");
    for (preset, _) in SIGNED_BY_NODE_SDK {
        yaml.push_str(&format!(
            "  - {{ name: {preset}, path: /{preset}, provider: {preset}, secrets: [\"{}\"] }}\n",
            secret(preset)
        ));
    }
    let g = Gateway::start(&yaml);
    for (preset, timestamped) in SIGNED_BY_NODE_SDK {
        let path = format!("/{preset}");
        let body = format!(
            r#"{{"id":"evt_{preset}_node","type":"test","message":{{"id":"m_{preset}"}}}}"#
        );
        let secret = secret(preset);
        let post = |h: &[(String, String)], body: &str| {
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            g.post(&path, &h, body.as_bytes())
        };
        let signed = sign(preset, &secret, now(), &body);
        let r = post(&signed, &body);
        assert_eq!(r.status, 200, "{preset}: {} {signed:?}", r.text());
        let r = post(&signed, &body.replace("test", "tesT"));
        assert_eq!(
            (r.status, r.error()),
            (401, "signature_invalid".into()),
            "{preset} tampered"
        );
        let other = secret.replace(['a', 'n'], "x");
        let r = post(&sign(preset, &other, now(), &body), &body);
        assert_eq!(
            (r.status, r.error()),
            (401, "signature_invalid".into()),
            "{preset} re-keyed"
        );
        if *timestamped {
            let r = post(&sign(preset, &secret, now() - 3600, &body), &body);
            assert_eq!(
                (r.status, r.error()),
                (401, "timestamp_out_of_tolerance".into()),
                "{preset} stale"
            );
        }
    }
    println!(
        "interop: {} presets proven by the provider's Node SDK signing ({})",
        SIGNED_BY_NODE_SDK.len(),
        SIGNED_BY_NODE_SDK
            .iter()
            .map(|p| p.0)
            .collect::<Vec<_>>()
            .join(", ")
    );
}
