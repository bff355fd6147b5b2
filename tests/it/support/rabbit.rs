//! Test helpers for the real RabbitMQ: `AMQP_URL` (default the local broker), a client to
//! read queues, unique names per test, and a TCP proxy that cuts the broker off.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::{
    BasicGetOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// host:port of the broker, checked reachable: a missing broker fails loudly, never skips.
pub fn broker_addr() -> String {
    let url = url::Url::parse(&amqp_url()).expect("AMQP_URL is a URL");
    let addr = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5672)
    );
    if TcpStream::connect_timeout(
        &addr.parse().expect("AMQP_URL host is an IP address"),
        Duration::from_secs(2),
    )
    .is_err()
    {
        panic!(
            "no RabbitMQ at {addr} (AMQP_URL={}).\nStart one with `rabbitmq-server -detached` (guest/guest on 127.0.0.1:5672), \
             or point AMQP_URL at a broker, e.g. AMQP_URL=amqp://user:pass@host:5672/%2f cargo test",
            amqp_url()
        );
    }
    addr
}

pub fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{n}", std::process::id())
}

#[derive(Debug)]
pub struct Msg {
    pub routing_key: String,
    pub body: Vec<u8>,
    pub props: lapin::BasicProperties,
}

impl Msg {
    pub fn id(&self) -> String {
        self.props
            .message_id()
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        let h = self.props.headers().as_ref()?;
        match h.inner().get(name)? {
            lapin::types::AMQPValue::LongString(s) => {
                Some(String::from_utf8_lossy(s.as_bytes()).into_owned())
            }
            other => Some(format!("{other:?}")),
        }
    }
}

/// A client for inspecting and preparing the broker; cleans up its names on drop.
pub struct Rabbit {
    /// The broker's URL (take_all opens connections of its own).
    url: String,
    rt: tokio::runtime::Runtime,
    conn: Connection,
    cleanup_queues: Mutex<Vec<String>>,
    cleanup_exchanges: Mutex<Vec<String>>,
}

impl Rabbit {
    pub fn connect() -> Rabbit {
        broker_addr();
        Rabbit::connect_to(&amqp_url())
    }

    /// A connection to another broker (a private node or cluster).
    pub fn connect_to(url: &str) -> Rabbit {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let conn = rt
            .block_on(Connection::connect(url, ConnectionProperties::default()))
            .unwrap();
        Rabbit {
            url: url.to_string(),
            rt,
            conn,
            cleanup_queues: Mutex::default(),
            cleanup_exchanges: Mutex::default(),
        }
    }

    /// Remember names to delete when the test ends.
    pub fn owns(&self, exchange: &str, queues: &[&str]) {
        self.cleanup_exchanges.lock().unwrap().push(exchange.into());
        for q in queues {
            self.cleanup_queues.lock().unwrap().push(q.to_string());
            self.cleanup_queues
                .lock()
                .unwrap()
                .push(format!("{q}.dead"));
        }
    }

    pub fn declare_classic(&self, queue: &str) {
        self.rt.block_on(async {
            let ch = self.conn.create_channel().await.unwrap();
            ch.queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        });
    }

    pub fn delete_queue(&self, queue: &str) {
        self.rt.block_on(async {
            let ch = self.conn.create_channel().await.unwrap();
            ch.queue_delete(queue.into(), QueueDeleteOptions::default())
                .await
                .unwrap();
        });
    }

    /// Take every message now in `queue` (waiting up to `wait` for at least `min`).
    /// On a connection of its own: asking for a queue that is not declared yet makes
    /// the broker close the channel, and lapin then sometimes reports the whole
    /// connection broken (`InvalidConnectionState` from the next `create_channel`,
    /// seen once in CI under load), so the retry reconnects when it must.
    pub fn take_all(&self, queue: &str, min: usize, wait: Duration) -> Vec<Msg> {
        self.rt.block_on(async {
            let url = self.url.clone();
            let connect = || Connection::connect(&url, ConnectionProperties::default());
            let mut conn = connect().await.unwrap();
            let mut ch = conn.create_channel().await.unwrap();
            let deadline = tokio::time::Instant::now() + wait;
            let mut out = Vec::new();
            loop {
                match ch
                    .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                    .await
                {
                    Ok(Some(m)) => out.push(Msg {
                        routing_key: m.delivery.routing_key.to_string(),
                        body: m.delivery.data.clone(),
                        props: m.delivery.properties.clone(),
                    }),
                    _ if out.len() >= min || tokio::time::Instant::now() > deadline => return out,
                    Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                    // The queue is not declared yet (the gateway is still connecting).
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        ch = match conn.create_channel().await {
                            Ok(ch) => ch,
                            Err(_) => {
                                conn = connect().await.unwrap();
                                conn.create_channel().await.unwrap()
                            }
                        };
                    }
                }
            }
        })
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        let queues = self.cleanup_queues.lock().unwrap().clone();
        let exchanges = self.cleanup_exchanges.lock().unwrap().clone();
        self.rt.block_on(async {
            if let Ok(ch) = self.conn.create_channel().await {
                for q in queues {
                    let _ = ch
                        .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                        .await;
                }
                for e in exchanges {
                    let _ = ch
                        .exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
                        .await;
                }
            }
        });
    }
}

/// A TCP proxy in front of the broker. `cut()` severs every connection and refuses new
/// ones (the broker is "down" for hookgate); `restore()` lets them through again.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    pub fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        {
            let (up, conns) = (up.clone(), conns.clone());
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { continue };
                    if !up.load(Ordering::SeqCst) {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                    let Ok(server) = TcpStream::connect(&upstream) else {
                        continue;
                    };
                    let mut list = conns.lock().unwrap();
                    list.push(client.try_clone().unwrap());
                    list.push(server.try_clone().unwrap());
                    drop(list);
                    pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                    pipe(server, client);
                }
            });
        }
        Proxy { port, up, conns }
    }

    pub fn url(&self) -> String {
        let mut u = url::Url::parse(&amqp_url()).unwrap();
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(self.port)).unwrap();
        u.to_string()
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}
