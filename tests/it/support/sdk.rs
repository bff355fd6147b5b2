//! The providers' own SDKs, in a Python venv the tests create once (or take from
//! `HOOKGATE_TEST_PYTHON`): signatures are made and checked by their code, not ours.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const PACKAGES: &[&str] = &[
    "standardwebhooks==1.1.0",
    "slack_sdk==3.48.0",
    "stripe==16.1.0",
    "svix==2.9.1",
    "paddle-python-sdk==1.16.1",
    "PyNaCl==1.5.0",
    "discord-interactions==0.4.0",
    "sendgrid==6.12.5",
    "twilio==9.13.0",
    "Adyen==16.0.0",
    "hubspot-api-client==12.0.0",
    "squareup==46.0.0.20260916",
    "mailgun==1.10.0",
    "telnyx==4.189.0",
    "prometheus_client==0.21.1",
    "opentelemetry-proto==1.45.2",
];

/// The venv's python, with [`PACKAGES`] installed.
pub fn python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        if let Ok(p) = std::env::var("HOOKGATE_TEST_PYTHON") {
            return PathBuf::from(p);
        }
        let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
        let venv = PathBuf::from(home).join(".cache/hookgate-test-sdk-venv");
        let py = venv.join("bin/python");
        // A marker per package list (hashed: the list outgrew a file name).
        let marker = {
            use sha2::Digest as _;
            let digest = sha2::Sha256::digest(PACKAGES.join("+").as_bytes());
            venv.join(format!("packages-{}", &hex::encode(digest)[..16]))
        };
        if !marker.exists() {
            let ok = Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv)
                .status()
                .unwrap();
            assert!(ok.success(), "python3 -m venv failed");
            let ok = Command::new(&py)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(PACKAGES)
                .status()
                .unwrap();
            assert!(ok.success(), "pip install {PACKAGES:?} failed");
            std::fs::write(&marker, "").unwrap();
        }
        py
    })
    .clone()
}

/// Run `script` with the SDK python, `args` as sys.argv[1:]; its stdout, trimmed.
pub fn run(script: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Slack's `X-Slack-Signature` for `body` at `timestamp`, by slack_sdk.
pub fn slack_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    run(
        "import sys; from slack_sdk.signature import SignatureVerifier\n\
         print(SignatureVerifier(sys.argv[1]).generate_signature(timestamp=sys.argv[2], body=open(sys.argv[3],'rb').read()))",
        &[secret, &timestamp.to_string(), &temp_file(body)],
    )
}

/// Does the `standardwebhooks` library accept this delivery? "ok" or its error.
pub fn standard_webhooks_verify(secret: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
    let mut args = vec![secret.to_string(), temp_file(body)];
    for (k, v) in headers {
        args.push(format!("{k}={v}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(
        "import sys; from standardwebhooks.webhooks import Webhook\n\
         h = dict(a.split('=', 1) for a in sys.argv[3:])\n\
         try:\n    Webhook(sys.argv[1]).verify(open(sys.argv[2],'rb').read(), h); print('ok')\n\
         except Exception as e:\n    print('refused:', e)",
        &args,
    )
}

fn temp_file(body: &[u8]) -> String {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), body).unwrap();
    let (_, path) = f.keep().unwrap();
    path.display().to_string()
}
