//! amqps:// against a private RabbitMQ node with a TLS listener and a private CA: with
//! `broker.ca` the gateway connects and publishes; without it the certificate is not
//! trusted and nothing is handed off there.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::common::*;
use crate::support::rabbit_node::Node;

fn sh(dir: &Path, cmd: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(ok.success(), "{cmd}");
}

/// A private node with a TLS listener whose certificate a private CA signed.
struct TlsNode {
    node: Node,
    ssl_port: u16,
}

impl TlsNode {
    fn start() -> TlsNode {
        let ssl = free_port();
        let node = Node::start(
            "tls",
            |d| {
                sh(d, "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=hookgate-test-ca 2>/dev/null");
                sh(d, "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null");
                std::fs::write(d.join("ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
                    .unwrap();
                sh(d, "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext 2>/dev/null");
                format!(
                    "listeners.ssl.default = {ssl}\nssl_options.cacertfile = {0}/ca.pem\n\
                     ssl_options.certfile = {0}/server.pem\nssl_options.keyfile = {0}/server.key\n\
                     ssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n",
                    d.display()
                )
            },
            Some(ssl),
        );
        TlsNode {
            node,
            ssl_port: ssl,
        }
    }

    fn messages(&self, queue: &str) -> Option<u64> {
        self.node.messages(queue)
    }
}

fn gateway(node: &TlsNode, ca: Option<&Path>) -> Gateway {
    let ca = ca
        .map(|p| format!(", ca: {}", p.display()))
        .unwrap_or_default();
    Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\n\
         broker: {{ url: \"amqps://guest:guest@localhost:{}/%2f\", exchange: hg-tls, when_unavailable: reject{ca} }}\n\
         routes:\n  - {{ name: github, path: /hooks/github, provider: github, secrets: [tls-secret], queue: hg-tls-q }}\n",
        node.ssl_port
    ))
}

fn post(g: &Gateway, id: &str) -> u16 {
    let body = br#"{"over":"tls"}"#;
    g.post(
        "/hooks/github",
        &[
            ("X-Hub-Signature-256", &github_sig("tls-secret", body)),
            ("X-GitHub-Delivery", id),
        ],
        body,
    )
    .status
}

#[test]
fn amqps_with_a_private_ca_publishes_and_an_untrusted_certificate_does_not() {
    broker_available_or_panic();
    let node = TlsNode::start();
    let ca = node.node.dir.path().join("ca.pem");

    let g = gateway(&node, Some(&ca));
    assert_eq!(post(&g, "tls-1"), 200, "{}", g.logs());
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.messages("hg-tls-q") != Some(1) {
        assert!(
            Instant::now() < deadline,
            "the message did not reach the TLS broker"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        g.logs().contains("amqps://guest:***@localhost"),
        "{}",
        g.logs()
    );
    assert!(
        !g.logs().contains("guest:guest"),
        "the broker password leaked into the logs"
    );
    drop(g);

    // Without the CA the broker's certificate is not trusted: nothing is handed off there.
    let g = gateway(&node, None);
    assert_eq!(post(&g, "tls-2"), 503);
    assert_eq!(request(g.admin, "GET", "/readyz", &[], b"").status, 503);
    assert!(
        g.logs().to_lowercase().contains("certificate"),
        "{}",
        g.logs()
    );
}

fn broker_available_or_panic() {
    assert!(
        Command::new("sh")
            .args(["-c", "command -v rabbitmq-server && command -v rabbitmqctl"])
            .output()
            .unwrap()
            .status
            .success(),
        "the amqps test starts its own RabbitMQ node: install rabbitmq-server (and openssl)"
    );
}
