//! 4. hookgate with the embedded store: rounds against bare hyper and the hyper + group
//!    commit floor, an open loop, and the check that every 200 is an event in the store.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::load::{closed_loop, open_loop, pool, Run, Target};
use crate::procs::{
    cpu_secs, ms_per_1000, spawn_commit, spawn_hookgate, status_kib, wait_port, Proc,
};
use crate::{Settings, ROUNDS};

/// What the store phase measured, for the summary.
pub(crate) struct Store {
    /// CPU ms per 1 000 events: hookgate, and the group-commit floor.
    pub(crate) scpu_ms: f64,
    pub(crate) commit_cpu_ms: f64,
    pub(crate) store_ratios: Vec<f64>,
    pub(crate) floor_ratios: Vec<f64>,
    pub(crate) store_own: Vec<f64>,
    /// hookgate closed loop, and bare hyper, pooled over the rounds.
    pub(crate) sclosed: Run,
    pub(crate) paired_bare: Run,
    /// hookgate's peak RSS (KiB).
    pub(crate) speak: u64,
    /// Every 200 is an event in the store.
    pub(crate) sverified: bool,
}

/// The rounds, pooled: bare hyper, hookgate, hyper + group commit, in each.
struct Rounds {
    paired_bare: Run,
    sclosed: Run,
    committed: Run,
    /// CPU seconds of hookgate and of the commit server over the rounds.
    s_cpu: f64,
    commit_cpu: f64,
    store_ratios: Vec<f64>,
    floor_ratios: Vec<f64>,
    store_own: Vec<f64>,
}

/// The whole phase; hookgate's configuration and store go in `dir`. The bare hyper
/// server (`bare`, on `bare_port`) is the rounds' reference and stops after them.
pub(crate) async fn run(
    s: &Settings,
    dir: &Path,
    target: &dyn Fn(u16, &str) -> Target,
    bare: Proc,
    bare_port: u16,
    dur: Duration,
) -> Store {
    let (gw, port) = spawn_hookgate(dir, None, None);
    wait_port(port).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let spid = gw.0.id();
    let st = target(port, "st");
    let _ = closed_loop(&st, s.conns, Duration::from_secs(1)).await;
    let r = rounds(s, dir, target, &st, spid, bare_port, dur / ROUNDS).await;
    let (paired_bare, sclosed, committed) = (r.paired_bare, r.sclosed, r.committed);
    drop(bare);
    let scpu_ms = ms_per_1000(r.s_cpu, sclosed.ok);
    let commit_cpu_ms = ms_per_1000(r.commit_cpu, committed.ok);
    println!(
        "reference  bare hyper, in the rounds          {}",
        paired_bare.line()
    );
    println!(
        "reference  hyper + group commit, rounds      {}  server cpu {commit_cpu_ms:.1} ms/1000",
        committed.line()
    );
    println!(
        "hookgate   store, closed loop                {}",
        sclosed.line()
    );
    let shalf = (sclosed.rps() / 2.0).max(100.0);
    let sopen = open_loop(&st, shalf, s.conns, dur).await;
    println!(
        "hookgate   store, open loop @ {shalf:>6.0}/s        {}",
        sopen.line()
    );
    let speak = status_kib(spid, "VmHWM:");
    drop(gw);
    let rows: i64 = hookgate::testing::bench::Reader::open(&dir.join("store"))
        .and_then(|r| r.count(hookgate::testing::bench::Table::Events))
        .map(|n| n as i64)
        .unwrap_or(-1);
    let sexpected = sclosed.ok + sopen.ok;
    let sverified = rows as u64 >= sexpected && rows as u64 <= st.next.load(Ordering::Relaxed);
    println!(
        "verify     every 200 is an event in the store: {sexpected} 200s measured, {rows} stored -> {}",
        if sverified { "OK" } else { "FAILED" }
    );
    Store {
        scpu_ms,
        commit_cpu_ms,
        store_ratios: r.store_ratios,
        floor_ratios: r.floor_ratios,
        store_own: r.store_own,
        sclosed,
        paired_bare,
        speak,
        sverified,
    }
}

/// The store's floor, beside hookgate (`st`, process `spid`) in every round after bare
/// hyper: hyper + group commit alone, appending to a file in `dir`.
async fn rounds(
    s: &Settings,
    dir: &Path,
    target: &dyn Fn(u16, &str) -> Target,
    st: &Target,
    spid: u32,
    bare_port: u16,
    round: Duration,
) -> Rounds {
    // The store's floor, beside hookgate in every round: hyper + group commit alone.
    let (commit, commit_port) = spawn_commit(dir).await;
    let ct = target(commit_port, "commit");
    let _ = closed_loop(&ct, s.conns, Duration::from_secs(1)).await;
    let mut s_cpu = 0.0;
    let mut commit_cpu = 0.0;
    let mut rounds: Option<(Run, Run)> = None;
    let mut committed: Option<Run> = None;
    let mut store_ratios = Vec::new();
    let (mut floor_ratios, mut store_own) = (Vec::new(), Vec::new());
    for i in 1..=ROUNDS {
        let b = closed_loop(&target(bare_port, "bare"), s.conns, round).await;
        let c0 = cpu_secs(spid);
        let hg = closed_loop(st, s.conns, round).await;
        s_cpu += cpu_secs(spid) - c0;
        let c0 = cpu_secs(commit.0.id());
        let cm = closed_loop(&ct, s.conns, round).await;
        commit_cpu += cpu_secs(commit.0.id()) - c0;
        let ratio = 100.0 * hg.rps() / b.rps();
        let (floor, own) = (100.0 * cm.rps() / b.rps(), 100.0 * hg.rps() / cm.rps());
        println!(
            "round {i}/{ROUNDS}    bare hyper {:>6.0} req/s, then hookgate (store) {:>6.0} req/s: {ratio:>5.1} %;  then hyper + group commit {:>6.0} req/s: {floor:>5.1} % (hookgate {own:.1} % of it)",
            b.rps(),
            hg.rps(),
            cm.rps()
        );
        store_ratios.push(ratio);
        floor_ratios.push(floor);
        store_own.push(own);
        pool(&mut rounds, b, hg);
        match &mut committed {
            Some(r) => r.absorb(cm),
            None => committed = Some(cm),
        }
    }
    drop(commit);
    let (paired_bare, sclosed) = rounds.unwrap();
    Rounds {
        paired_bare,
        sclosed,
        committed: committed.unwrap(),
        s_cpu,
        commit_cpu,
        store_ratios,
        floor_ratios,
        store_own,
    }
}
