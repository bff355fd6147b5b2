//! 2. The broker's ceiling: raw lapin into a quorum queue, swept over channel counts.
//! 3. hookgate with RabbitMQ: rounds against raw lapin and the hyper + lapin floor, open
//!    loops, latency rounds at 1 000/s, and the check that every 200 is in the queue.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use lapin::Connection;

use crate::load::{closed_loop, open_loop, pool, Run, Target};
use crate::procs::{
    broker_pid, cpu_of, cpu_secs, ms_per_1000, per_1000, spawn_hookgate, spawn_relay, status_kib,
    wait_port,
};
use crate::rabbit::{cleanup, declare, queue_len, raw_publisher};
use crate::{Settings, ROUNDS};

/// What the rabbitmq phase measured, for the summary.
pub(crate) struct Rabbitmq {
    /// The local RabbitMQ node was found, so the broker's CPU figures mean something.
    pub(crate) broker_seen: bool,
    pub(crate) sweep: Sweep,
    pub(crate) rounds: Rounds,
    /// RabbitMQ's CPU ms per 1 000 messages from raw lapin spread at hookgate's rate.
    pub(crate) spread_broker_cpu: f64,
    pub(crate) latency: Latency,
    /// hookgate's RSS (KiB) before any load, and its peak.
    pub(crate) idle_rss: u64,
    pub(crate) peak_rss: u64,
    /// Every 200 is a message in the queue.
    pub(crate) verified: bool,
}

/// The raw lapin sweep over 1, 2 and 4 channels.
pub(crate) struct Sweep {
    /// The fastest channel count, and its run: the broker's ceiling.
    pub(crate) best_ch: usize,
    pub(crate) broker_ceiling: Run,
    /// The publisher's own CPU ms per 1 000 messages, the lowest of the sweep.
    pub(crate) lapin_cpu: f64,
    /// RabbitMQ's CPU ms per 1 000 messages in the fastest run.
    pub(crate) raw_broker_cpu: f64,
}

/// The throughput rounds: raw lapin, then hookgate, then hyper + lapin, in each.
pub(crate) struct Rounds {
    pub(crate) paired_raw: Run,
    /// hookgate closed loop, pooled over the rounds.
    pub(crate) closed: Run,
    pub(crate) broker_ratios: Vec<f64>,
    pub(crate) relay_ratios: Vec<f64>,
    pub(crate) own_ratios: Vec<f64>,
    /// CPU ms per 1 000: hookgate, RabbitMQ for hookgate, the relay, RabbitMQ for it.
    pub(crate) cpu_ms: f64,
    pub(crate) gw_broker_cpu: f64,
    pub(crate) relay_cpu_ms: f64,
    pub(crate) relay_broker_ms: f64,
}

/// The latency rounds: raw lapin one confirm at a time, raw lapin open loop at 1 000/s,
/// then hookgate open loop at 1 000/s, in each.
pub(crate) struct Latency {
    pub(crate) p99_gaps: Vec<f64>,
    pub(crate) open_gaps: Vec<f64>,
    pub(crate) paired_one: Run,
    pub(crate) raw_slow: Run,
    pub(crate) slow: Run,
}

/// What the phase's steps share.
struct Bench<'a> {
    s: &'a Settings,
    body: &'a Bytes,
    /// The raw publisher's (and the relay's) exchange.
    raw_x: String,
    /// The RabbitMQ node's pid, if local, and this process's.
    rabbit: Option<u32>,
    me: u32,
    dur: Duration,
    round: Duration,
}

/// The whole phase; hookgate's configuration and store go in `dir`.
pub(crate) async fn run(
    s: &Settings,
    conn: &Connection,
    dir: &Path,
    body: &Bytes,
    target: &dyn Fn(u16, &str) -> Target,
    dur: Duration,
) -> Rabbitmq {
    let raw_x = format!("hg-bench-raw-{}", std::process::id());
    let raw_q = format!("{raw_x}-q");
    declare(conn, &raw_x, &raw_q).await;
    let me = std::process::id();
    let rabbit = broker_pid();
    let b = Bench {
        s,
        body,
        raw_x,
        rabbit,
        me,
        dur,
        round: dur / ROUNDS,
    };
    let sweep = sweep(&b).await;

    // 3. hookgate with RabbitMQ.
    let x = format!("hg-bench-{}", std::process::id());
    let q = format!("{x}-github");
    let (gw, port) = spawn_hookgate(dir, Some((&s.amqp, &x, &q)), None);
    wait_port(port).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = gw.0.id();
    let idle_rss = status_kib(pid, "VmRSS:");
    let t = target(port, "gw");
    let _ = closed_loop(&t, s.conns, Duration::from_secs(1)).await;
    let rounds = rounds(&b, &t, pid, target, sweep.best_ch).await;
    let (spread_broker_cpu, open) = open_loops(&b, &t, sweep.best_ch, &rounds.closed).await;
    let latency = latency_rounds(&b, &t).await;
    cleanup(conn, &b.raw_x, &[format!("{raw_q}.dead"), raw_q]).await;
    println!(
        "reference  raw lapin, one at a time, rounds  {}",
        latency.paired_one.line()
    );
    println!(
        "reference  raw lapin, open loop @ 1000/s, rounds {}",
        latency.raw_slow.line()
    );
    println!(
        "hookgate   rabbitmq, open loop @   1000/s     {}",
        latency.slow.line()
    );
    let peak_rss = status_kib(pid, "VmHWM:");
    drop(gw);
    let answered = t.next.load(Ordering::Relaxed);
    let expected: u64 = rounds.closed.ok + open.ok + latency.slow.ok;
    let verified = verify(conn, &q, expected, answered).await;
    cleanup(conn, &x, &[q.clone(), format!("{q}.dead")]).await;
    Rabbitmq {
        broker_seen: rabbit.is_some(),
        sweep,
        rounds,
        spread_broker_cpu,
        latency,
        idle_rss,
        peak_rss,
        verified,
    }
}

/// 2. Broker ceiling: raw lapin over 1, 2 and 4 channels, then one confirm at a time.
async fn sweep(b: &Bench<'_>) -> Sweep {
    let (s, body, raw_x, rabbit, me, dur) = (b.s, b.body, &b.raw_x, b.rabbit, b.me, b.dur);
    let mut best: Option<(usize, Run)> = None;
    let mut lapin_cpu = f64::MAX;
    let mut raw_broker_cpu = 0.0;
    for channels in [1, 2, 4] {
        let c0 = cpu_secs(me);
        let r0 = rabbit.map_or(0.0, cpu_secs);
        let r = raw_publisher(
            &s.amqp,
            raw_x,
            channels,
            s.conns,
            dur / 2,
            body.clone(),
            None,
        )
        .await;
        let cpu = per_1000(Some(me), c0, r.ok);
        let bcpu = per_1000(rabbit, r0, r.ok);
        lapin_cpu = lapin_cpu.min(cpu);
        println!(
            "reference  raw lapin, {channels} ch x {} in flight   {}  client cpu {cpu:.1}, broker cpu {bcpu:.1} ms/1000",
            s.conns,
            r.line()
        );
        if best.as_ref().is_none_or(|(_, b)| r.rps() > b.rps()) {
            raw_broker_cpu = bcpu;
        }
        if best.as_ref().is_none_or(|(_, b)| r.rps() > b.rps()) {
            best = Some((channels, r));
        }
    }
    let (best_ch, broker_ceiling) = best.unwrap();
    let one = raw_publisher(&s.amqp, raw_x, 1, 1, dur / 2, body.clone(), None).await;
    println!(
        "reference  raw lapin, one confirm at a time  {}",
        one.line()
    );
    Sweep {
        best_ch,
        broker_ceiling,
        lapin_cpu,
        raw_broker_cpu,
    }
}

/// The throughput rounds: raw lapin over `best_ch` channels, hookgate (`t`, process
/// `pid`), then the stack's floor, in each round.
async fn rounds(
    b: &Bench<'_>,
    t: &Target,
    pid: u32,
    target: &dyn Fn(u16, &str) -> Target,
    best_ch: usize,
) -> Rounds {
    let (s, body, raw_x, rabbit, me, round) = (b.s, b.body, &b.raw_x, b.rabbit, b.me, b.round);
    // The stack's floor, beside hookgate in every round: hyper + lapin and nothing else.
    let (relay, relay_port) = spawn_relay(&s.amqp, raw_x, best_ch).await;
    let rt_relay = target(relay_port, "relay");
    let _ = closed_loop(&rt_relay, s.conns, Duration::from_secs(1)).await;
    let (mut hg_cpu, mut hg_broker_cpu, mut hg_gen_cpu) = (0.0, 0.0, 0.0);
    let (mut relay_cpu, mut relay_broker_cpu) = (0.0, 0.0);
    let mut rounds: Option<(Run, Run)> = None;
    let mut relayed: Option<Run> = None;
    let mut broker_ratios = Vec::new();
    let (mut relay_ratios, mut own_ratios) = (Vec::new(), Vec::new());
    for i in 1..=ROUNDS {
        let raw = raw_publisher(&s.amqp, raw_x, best_ch, s.conns, round, body.clone(), None).await;
        let (c0, r0, g0) = (cpu_secs(pid), cpu_of(rabbit), cpu_secs(me));
        let hg = closed_loop(t, s.conns, round).await;
        hg_cpu += cpu_secs(pid) - c0;
        hg_broker_cpu += cpu_of(rabbit) - r0;
        hg_gen_cpu += cpu_secs(me) - g0;
        let (c0, r0) = (cpu_secs(relay.0.id()), cpu_of(rabbit));
        let rl = closed_loop(&rt_relay, s.conns, round).await;
        relay_cpu += cpu_secs(relay.0.id()) - c0;
        relay_broker_cpu += cpu_of(rabbit) - r0;
        let ratio = 100.0 * hg.rps() / raw.rps();
        let (relay_ratio, own_ratio) = (100.0 * rl.rps() / raw.rps(), 100.0 * hg.rps() / rl.rps());
        println!(
            "round {i}/{ROUNDS}    raw lapin ({best_ch} ch) {:>6.0} msg/s, then hookgate {:>6.0} req/s: {ratio:>5.1} %;  then hyper + lapin {:>6.0} req/s: {relay_ratio:>5.1} % (hookgate {own_ratio:.1} % of it)",
            raw.rps(),
            hg.rps(),
            rl.rps()
        );
        broker_ratios.push(ratio);
        relay_ratios.push(relay_ratio);
        own_ratios.push(own_ratio);
        pool(&mut rounds, raw, hg);
        match &mut relayed {
            Some(r) => r.absorb(rl),
            None => relayed = Some(rl),
        }
    }
    drop(relay);
    let (paired_raw, closed) = rounds.unwrap();
    let relayed = relayed.unwrap();
    let cpu_ms = ms_per_1000(hg_cpu, closed.ok);
    let gw_broker_cpu = ms_per_1000(hg_broker_cpu, closed.ok);
    let gen_cpu = ms_per_1000(hg_gen_cpu, closed.ok);
    let relay_cpu_ms = ms_per_1000(relay_cpu, relayed.ok);
    let relay_broker_ms = ms_per_1000(relay_broker_cpu, relayed.ok);
    println!(
        "reference  raw lapin, {best_ch} ch, in the rounds    {}",
        paired_raw.line()
    );
    println!(
        "reference  hyper + lapin, no checks, rounds  {}  server cpu {relay_cpu_ms:.1}, broker cpu {relay_broker_ms:.1} ms/1000",
        relayed.line()
    );
    println!(
        "hookgate   rabbitmq, closed loop             {}  broker cpu {gw_broker_cpu:.1}, load generator cpu {gen_cpu:.1} ms/1000",
        closed.line()
    );
    Rounds {
        paired_raw,
        closed,
        broker_ratios,
        relay_ratios,
        own_ratios,
        cpu_ms,
        gw_broker_cpu,
        relay_cpu_ms,
        relay_broker_ms,
    }
}

/// Raw lapin spread at hookgate's closed-loop rate, then hookgate open loop at half
/// that rate; returns RabbitMQ's CPU per 1 000 messages in the first, and the second.
async fn open_loops(b: &Bench<'_>, t: &Target, best_ch: usize, closed: &Run) -> (f64, Run) {
    let (s, body, raw_x, rabbit, dur) = (b.s, b.body, &b.raw_x, b.rabbit, b.dur);
    // The same publisher at hookgate's rate, its publishes spread in time as webhooks
    // arrive rather than in the bursts a window of 64 makes: what the broker costs per
    // message for the arrival pattern a gateway sees.
    // At least 100/s, like the half-rate loop: a run whose hookgate answered nothing
    // must still reach its verdict instead of dividing by a zero rate.
    let spread_rate = closed.rps().max(100.0);
    let r0 = cpu_of(rabbit);
    let spread = raw_publisher(
        &s.amqp,
        raw_x,
        best_ch,
        s.conns,
        dur / 2,
        body.clone(),
        Some(spread_rate),
    )
    .await;
    let spread_broker_cpu = per_1000(rabbit, r0, spread.ok);
    println!(
        "reference  raw lapin, {best_ch} ch, open loop @ {spread_rate:>6.0}/s {}  broker cpu {spread_broker_cpu:.1} ms/1000",
        spread.line()
    );
    let half = (closed.rps() / 2.0).max(100.0);
    let open = open_loop(t, half, s.conns, dur).await;
    println!(
        "hookgate   rabbitmq, open loop @ {half:>6.0}/s     {}",
        open.line()
    );
    (spread_broker_cpu, open)
}

/// The latency target, in rounds too: raw lapin one confirm at a time, then hookgate
/// at 1 000/s. Each round also runs raw lapin open loop at 1 000/s from 64 publishers:
/// the one-at-a-time reference is a closed loop, so a broker stall delays one of its
/// confirms but every request due during it at 1 000/s; the open-loop reference has
/// hookgate's arrival pattern, and the gap to it is what hookgate itself adds.
async fn latency_rounds(b: &Bench<'_>, t: &Target) -> Latency {
    let (s, body, raw_x, round) = (b.s, b.body, &b.raw_x, b.round);
    let mut p99_gaps = Vec::new();
    let mut open_gaps = Vec::new();
    let mut rounds: Option<(Run, Run)> = None;
    let mut raw_open: Option<Run> = None;
    for i in 1..=ROUNDS {
        let o = raw_publisher(&s.amqp, raw_x, 1, 1, round, body.clone(), None).await;
        let ro = raw_publisher(
            &s.amqp,
            raw_x,
            1,
            s.conns,
            round,
            body.clone(),
            Some(1000.0),
        )
        .await;
        let h = open_loop(t, 1000.0, s.conns, round).await;
        let gap = h.ms(0.99) - o.ms(0.99);
        let open_gap = h.ms(0.99) - ro.ms(0.99);
        println!(
            "round {i}/{ROUNDS}    raw lapin one at a time p99 {:>5.2} ms, open loop @ 1000/s p99 {:>5.2} ms, then hookgate @ 1000/s p99 {:>5.2} ms: {gap:>+6.2} ms, {open_gap:>+6.2} ms  (pacer late p99 {} µs)",
            o.ms(0.99),
            ro.ms(0.99),
            h.ms(0.99),
            h.late.value_at_quantile(0.99)
        );
        p99_gaps.push(gap);
        open_gaps.push(open_gap);
        pool(&mut rounds, o, h);
        match &mut raw_open {
            Some(r) => r.absorb(ro),
            None => raw_open = Some(ro),
        }
    }
    let (paired_one, slow) = rounds.unwrap();
    let raw_slow = raw_open.unwrap();
    Latency {
        p99_gaps,
        open_gaps,
        paired_one,
        raw_slow,
        slow,
    }
}

/// Every 200 is a message in `q`: waits up to 10 s for `expected` messages, says so,
/// and returns the verdict (`answered`: every request sent to hookgate).
async fn verify(conn: &Connection, q: &str, expected: u64, answered: u64) -> bool {
    let mut in_queue = 0u32;
    for _ in 0..50 {
        in_queue = queue_len(conn, q).await;
        if u64::from(in_queue) >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The warm-up's accepted requests are in the queue too; only measured 200s are counted
    // above, so the queue must hold at least them, and no more than every request sent.
    let verified = u64::from(in_queue) >= expected && u64::from(in_queue) <= answered;
    println!(
        "verify     every 200 is a message in {q}: {} 200s measured, {in_queue} messages (of {answered} requests sent) -> {}",
        expected,
        if verified { "OK" } else { "FAILED" }
    );
    verified
}
