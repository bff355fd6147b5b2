//! The load generator: the signed GitHub push it sends, closed and open loops over
//! HTTP/1.1 connections, the open loops' pacer, and the runs' tallies.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub(crate) const SECRET: &str = "bench-secret";

pub(crate) fn body() -> Bytes {
    // A GitHub push payload of about 1.5 KB.
    let pad = "a".repeat(1536 - 330);
    Bytes::from(format!(
        r#"{{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5","repository":{{"id":1296269,"full_name":"octocat/Hello-World","private":false}},"pusher":{{"name":"octocat","email":"octocat@github.com"}},"sender":{{"login":"octocat","id":1}},"head_commit":{{"message":"{pad}"}}}}"#
    ))
}

pub(crate) fn github_sig(body: &[u8]) -> String {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) path: &'static str,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
    /// Unique X-GitHub-Delivery per request (dedup would otherwise drop them): see
    /// [`delivery_id`].
    pub(crate) tag: u64,
    pub(crate) next: Arc<AtomicU64>,
}

pub(crate) struct Run {
    pub(crate) ok: u64,
    pub(crate) other: u64,
    pub(crate) errors: u64,
    pub(crate) elapsed: Duration,
    pub(crate) lat: Histogram<u64>,
    /// Open loops: how late the pacer released each send (µs), the instrument's own error.
    pub(crate) late: Histogram<u64>,
}

impl Run {
    /// Add another run of the same phase (a later round) to this one.
    pub(crate) fn absorb(&mut self, other: Run) {
        self.ok += other.ok;
        self.other += other.other;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.lat.add(other.lat).unwrap();
        self.late.add(other.late).unwrap();
    }
    pub(crate) fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
    pub(crate) fn ms(&self, q: f64) -> f64 {
        self.lat.value_at_quantile(q) as f64 / 1000.0
    }
    pub(crate) fn line(&self) -> String {
        let pacer = if self.late.is_empty() {
            String::new()
        } else {
            format!(
                "  [sends late by p50 {} µs, p99 {} µs, max {} µs]",
                self.late.value_at_quantile(0.5),
                self.late.value_at_quantile(0.99),
                self.late.max()
            )
        };
        format!(
            "{:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  p99.9 {:>6.2} ms  ({} ok, {} non-200, {} errors){pacer}",
            self.rps(),
            self.ms(0.5),
            self.ms(0.99),
            self.ms(0.999),
            self.ok,
            self.other,
            self.errors
        )
    }
}

pub(crate) type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

pub(crate) async fn connect(addr: SocketAddr) -> Sender {
    let s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

/// The `n`th delivery id of a run tagged `tag`, shaped like GitHub's (a UUID). Not a
/// counter: ids in arrival order would sort in arrival order too, and make every index
/// keyed by id (the dedup ledger's) append-only, which real delivery ids never are.
/// Unique per tag: the first 64 bits are a bijection of `n`.
pub(crate) fn delivery_id(tag: u64, n: u64) -> String {
    fn mix(mut z: u64) -> u64 {
        // splitmix64's finaliser: a bijection on u64.
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let (a, b) = (mix(tag.wrapping_add(n)), mix(tag ^ n.rotate_left(32)));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// A run's tag for [`delivery_id`]: its name and this process, so that runs against one
/// hookgate never share ids.
pub(crate) fn run_tag(name: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one((name, std::process::id()))
}

/// One request; returns (status, latency) or None on a transport error.
async fn send(sender: &mut Sender, t: &Target) -> Option<u16> {
    let n = t.next.fetch_add(1, Ordering::Relaxed);
    let mut req = Request::post(t.path)
        .header("host", "bench")
        .header("x-github-delivery", delivery_id(t.tag, n));
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    let req = req.body(Full::new(t.body.clone())).unwrap();
    sender.ready().await.ok()?;
    let resp = sender.send_request(req).await.ok()?;
    let status = resp.status().as_u16();
    resp.into_body().collect().await.ok()?;
    Some(status)
}

/// `conns` connections, each sending as soon as its previous answer arrived.
pub(crate) async fn closed_loop(t: &Target, conns: usize, dur: Duration) -> Run {
    let start = Instant::now();
    let deadline = start + dur;
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move {
                let mut h = Histogram::<u64>::new(3).unwrap();
                let (mut ok, mut other, mut errors) = (0, 0, 0);
                let mut sender = connect(t.addr).await;
                while Instant::now() < deadline {
                    let s = Instant::now();
                    match send(&mut sender, &t).await {
                        Some(200) => {
                            ok += 1;
                            h.record(s.elapsed().as_micros() as u64).unwrap();
                        }
                        Some(_) => other += 1,
                        None => {
                            errors += 1;
                            sender = connect(t.addr).await;
                        }
                    }
                }
                (h, ok, other, errors)
            })
        })
        .collect();
    collect(tasks, start).await
}

/// A fixed rate, spread over `conns` connections; latency counts from the scheduled
/// send time, so a stall is not hidden (no coordinated omission).
pub(crate) async fn open_loop(t: &Target, rate: f64, conns: usize, dur: Duration) -> Run {
    let start = Instant::now() + Duration::from_millis(200);
    let total = (rate * dur.as_secs_f64()) as u64;
    let (lanes, pacer) = pace(start, rate, total, conns);
    let tasks: Vec<_> = lanes
        .into_iter()
        .map(|mut due_times| {
            let t = t.clone();
            tokio::spawn(async move {
                let mut h = Histogram::<u64>::new(3).unwrap();
                let (mut ok, mut other, mut errors) = (0, 0, 0);
                let mut sender = connect(t.addr).await;
                while let Some(due) = due_times.recv().await {
                    match send(&mut sender, &t).await {
                        Some(200) => {
                            ok += 1;
                            h.record(due.elapsed().as_micros() as u64).unwrap();
                        }
                        Some(_) => other += 1,
                        None => {
                            errors += 1;
                            sender = connect(t.addr).await;
                        }
                    }
                }
                (h, ok, other, errors)
            })
        })
        .collect();
    let mut r = collect(tasks, start).await;
    r.elapsed = dur;
    // The lanes closed when the pacer finished: this join does not wait.
    r.late = pacer.join().unwrap();
    r
}

/// The open loops' clock: send `k` (of `total`) is due at `start + k / rate`, on lane
/// `k % lanes`. A thread of its own sleeps until each due time and hands it to its lane.
/// tokio's timers fire on whole milliseconds, rounded up, which made every open-loop
/// send 0 to 1 ms late; since latency counts from the due time, that lateness of the
/// load generator itself was measured as the gateway's (or the broker's) latency.
/// A lane whose previous request is still out queues the due time, and that wait counts.
/// The thread returns how late it released each send (µs): the instrument's own error,
/// printed with the run.
pub(crate) fn pace(
    start: Instant,
    rate: f64,
    total: u64,
    lanes: usize,
) -> (
    Vec<tokio::sync::mpsc::UnboundedReceiver<Instant>>,
    std::thread::JoinHandle<Histogram<u64>>,
) {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..lanes)
        .map(|_| tokio::sync::mpsc::unbounded_channel())
        .unzip();
    let pacer = std::thread::Builder::new()
        .name("bench-pacer".into())
        .spawn(move || {
            // Linux lets a sleeping thread wake up to 50 µs late (timer slack) so that
            // wake-ups can be merged; the pacer wants its deadline.
            // SAFETY: prctl with PR_SET_TIMERSLACK takes one integer and touches no memory.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
            let mut late = Histogram::<u64>::new(3).unwrap();
            for k in 0..total {
                let due = start + Duration::from_secs_f64(k as f64 / rate);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                late.record(due.elapsed().as_micros() as u64).unwrap();
                if txs[(k % lanes as u64) as usize].send(due).is_err() {
                    break;
                }
            }
            late
        })
        .unwrap();
    (rxs, pacer)
}

/// What one load task reports: latencies, 200s, other statuses, transport errors.
pub(crate) type Tally = (Histogram<u64>, u64, u64, u64);

pub(crate) async fn collect(tasks: Vec<tokio::task::JoinHandle<Tally>>, start: Instant) -> Run {
    let mut run = Run {
        ok: 0,
        other: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        lat: Histogram::new(3).unwrap(),
        late: Histogram::new(3).unwrap(),
    };
    for task in tasks {
        let (h, ok, other, errors) = task.await.unwrap();
        run.lat.add(h).unwrap();
        run.ok += ok;
        run.other += other;
        run.errors += errors;
    }
    run.elapsed = start.elapsed();
    run
}

/// Add a round's pair of runs (reference, hookgate) to the totals so far.
pub(crate) fn pool(total: &mut Option<(Run, Run)>, reference: Run, hookgate: Run) {
    match total {
        Some((r, h)) => {
            r.absorb(reference);
            h.absorb(hookgate);
        }
        None => *total = Some((reference, hookgate)),
    }
}

/// `HOOKGATE_BENCH_RATE`: an open loop at that many requests per second, if positive
/// (a rate of 0 would schedule the first send at infinity).
pub(crate) fn rate_from_env() -> Option<f64> {
    std::env::var("HOOKGATE_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|r: &f64| r.is_finite() && *r > 0.0)
}

/// `HOOKGATE_BENCH_CHANNELS`, default 2: the single-phase runs' channel count.
pub(crate) fn channels_from_env() -> usize {
    std::env::var("HOOKGATE_BENCH_CHANNELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

/// How a single-phase run drives its target: open loop at `rate`, else closed loop.
pub(crate) fn mode(rate: Option<f64>) -> String {
    rate.map_or("closed loop".to_string(), |r| format!("open loop @ {r}/s"))
}

/// A single-phase run: `HOOKGATE_BENCH_RATE=N` makes it an open loop at N/s, else a
/// closed loop; returns the run and its [`mode`].
pub(crate) async fn drive(t: &Target, conns: usize, dur: Duration) -> (Run, String) {
    let rate = rate_from_env();
    let run = match rate {
        Some(rate) => open_loop(t, rate, conns, dur).await,
        None => closed_loop(t, conns, dur).await,
    };
    (run, mode(rate))
}

pub(crate) fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) fn percents(v: &[f64]) -> String {
    v.iter()
        .map(|r| format!("{r:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}
