//! A RabbitMQ node of the test's own (the Debian wrapper runs it as user `rabbitmq`) on
//! free loopback ports, for tests that stop a broker or need another listener; stopped
//! on drop.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::common::*;

pub struct Node {
    pub name: String,
    /// The AMQP (plain TCP) port.
    pub port: u16,
    dist: u16,
    pub dir: tempfile::TempDir,
}

impl Node {
    /// Start a node; `conf` adds to its `rabbitmq.conf` (given its folder), and the node
    /// is up once `ready_port` (default: the AMQP port) accepts connections.
    pub fn start(tag: &str, conf: impl FnOnce(&Path) -> String, ready_port: Option<u16>) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (tcp, dist) = (free_port(), free_port());
        let extra = conf(d);
        std::fs::write(
            d.join("rabbitmq.conf"),
            format!("listeners.tcp.default = 127.0.0.1:{tcp}\n{extra}"),
        )
        .unwrap();
        std::fs::write(d.join("plugins"), "[].\n").unwrap();
        std::fs::create_dir_all(d.join("mnesia")).unwrap();
        std::fs::create_dir_all(d.join("log")).unwrap();
        let ok = Command::new("sh")
            .args(["-c", "chmod -R a+rwX ."])
            .current_dir(d)
            .status()
            .unwrap();
        assert!(ok.success());
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let name = format!("hg-{tag}-{}-{tcp}@localhost", std::process::id());
        let node = Node {
            name,
            port: tcp,
            dist,
            dir,
        };
        node.launch();
        node.wait(ready_port.unwrap_or(tcp));
        node
    }

    /// Start the node's server (again, after `stop`: same name, ports and data).
    pub fn launch(&self) {
        let d = self.dir.path();
        let ok = Command::new("rabbitmq-server")
            .arg("-detached")
            .env("RABBITMQ_NODENAME", &self.name)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("plugins"))
            .status()
            .expect("rabbitmq-server must be installed (Debian package rabbitmq-server)");
        assert!(ok.success());
    }

    /// `rabbitmqctl -n NODE args...`, asserting success.
    pub fn ctl(&self, args: &[&str]) {
        let out = Command::new("rabbitmqctl")
            .args(["-n", &self.name])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rabbitmqctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn wait(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the private RabbitMQ node {} did not start",
                self.name
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// How many messages `queue` holds.
    pub fn messages(&self, queue: &str) -> Option<u64> {
        let out = Command::new("rabbitmqctl")
            .args(["-n", &self.name, "list_queues", "name", "messages"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
            l.strip_prefix(&format!("{queue}\t"))
                .and_then(|n| n.trim().parse().ok())
        })
    }

    /// Stop the node (its data stays until drop).
    pub fn stop(&self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-n", &self.name, "stop"])
            .output();
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Three private nodes clustered (2 and 3 joined to 1), for quorum queues that survive a
/// node's loss. Booted side by side, ~20-30 s in all.
pub fn cluster(tag: &'static str) -> Vec<Node> {
    let boots: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || Node::start(tag, |_| String::new(), None)))
        .collect();
    let nodes: Vec<Node> = boots.into_iter().map(|b| b.join().unwrap()).collect();
    for n in &nodes[1..] {
        n.ctl(&["stop_app"]);
        n.ctl(&["join_cluster", &nodes[0].name]);
        n.ctl(&["start_app"]);
    }
    nodes[0].ctl(&["await_online_nodes", "3", "--timeout", "120"]);
    nodes
}
