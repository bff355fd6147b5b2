//! 5. The summary: each figure against its target, from what the phases measured.

use crate::load::{median, percents};
use crate::phases::rabbitmq::Rabbitmq;
use crate::phases::store::Store;
use crate::phases::Ceiling;
use crate::{Settings, ROUNDS};

/// A pacer late by more than this at p99 (µs) means the host stalled the run (a quiet
/// run of this VM: ~0.2 ms).
const STALLED_PACER_US: u64 = 500;

fn ratio(a: f64, b: f64) -> f64 {
    100.0 * a / b
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// The summary against the targets, and the verdict (`pass`).
pub(crate) fn print(s: &Settings, ceiling: &Ceiling, r: &Rabbitmq, st: &Store, pass: bool) {
    throughput(ceiling, r);
    cpu(s, ceiling, r, st);
    latency(r);
    store(st);
    memory(s, r, st);
    println!(
        "\nresult: {}",
        if pass {
            "verified"
        } else {
            "FAILED verification"
        }
    );
}

/// hookgate with RabbitMQ against raw lapin, the hyper + lapin floor and bare hyper.
fn throughput(ceiling: &Ceiling, r: &Rabbitmq) {
    let (best_ch, broker_ceiling) = (r.sweep.best_ch, &r.sweep.broker_ceiling);
    let (closed, paired_raw) = (&r.rounds.closed, &r.rounds.paired_raw);
    let (broker_ratios, relay_ratios) = (&r.rounds.broker_ratios, &r.rounds.relay_ratios);
    let own_ratios = &r.rounds.own_ratios;
    let broker_ratio = median(broker_ratios);
    println!("\nsummary (ratios with a target: median of {ROUNDS} alternating rounds)");
    println!(
        "  hookgate(rabbitmq) / raw lapin ({best_ch} ch)   {broker_ratio:>6.1} %   target >= 85 %   {}  (rounds {}; pooled {:.1} %, vs the sweep's best {:.1} %)",
        mark(broker_ratio >= 85.0),
        percents(broker_ratios),
        ratio(closed.rps(), paired_raw.rps()),
        ratio(closed.rps(), broker_ceiling.rps())
    );
    // The same ratio for the stack alone: how far any hyper + lapin gateway gets here,
    // and how much of that hookgate keeps with every check, the dedup and the metrics on.
    println!(
        "  hyper + lapin, no checks / raw lapin      {:>6.1} %   (rounds {}): the floor of the stack, before any gateway work",
        median(relay_ratios),
        percents(relay_ratios)
    );
    println!(
        "  hookgate(rabbitmq) / hyper + lapin        {:>6.1} %   (rounds {}): what hookgate's own work costs",
        median(own_ratios),
        percents(own_ratios)
    );
    println!(
        "  hookgate(rabbitmq) / bare hyper           {:>6.1} %",
        ratio(closed.rps(), ceiling.run.rps())
    );
}

/// CPU per 1 000 events: hookgate's (both hand-offs), its references', the broker's.
fn cpu(s: &Settings, ceiling: &Ceiling, r: &Rabbitmq, st: &Store) {
    let (cpu_ms, relay_cpu_ms) = (r.rounds.cpu_ms, r.rounds.relay_cpu_ms);
    let (scpu_ms, commit_cpu_ms) = (st.scpu_ms, st.commit_cpu_ms);
    let (bare_cpu, lapin_cpu) = (ceiling.cpu, r.sweep.lapin_cpu);
    let (raw_broker_cpu, spread_broker_cpu) = (r.sweep.raw_broker_cpu, r.spread_broker_cpu);
    let (gw_broker_cpu, relay_broker_ms) = (r.rounds.gw_broker_cpu, r.rounds.relay_broker_ms);
    println!(
        "  hookgate CPU per 1000 events (rabbitmq)   {cpu_ms:>6.1} ms  target <= 20 ms   {}  (hyper + lapin, no checks: {relay_cpu_ms:.1} ms)",
        mark(cpu_ms <= 20.0)
    );
    println!("  hookgate CPU per 1000 events (store)      {scpu_ms:>6.1} ms  (hyper + group commit, no checks: {commit_cpu_ms:.1} ms)");
    println!("  for scale: bare hyper server / lapin client {bare_cpu:>4.1} / {lapin_cpu:.1} ms per 1000 (their own CPU)");
    println!(
        "  hookgate CPU / bare hyper server CPU      {:>6.1} x (rabbitmq)  {:.1} x (store)",
        cpu_ms / bare_cpu,
        scpu_ms / bare_cpu
    );
    if r.broker_seen {
        println!(
            "  RabbitMQ CPU per 1000 messages           {raw_broker_cpu:>6.1} ms from raw lapin (window of {}), {spread_broker_cpu:.1} from raw lapin spread at hookgate's rate, {gw_broker_cpu:.1} from hookgate, {relay_broker_ms:.1} from hyper + lapin",
            s.conns
        );
    }
}

/// p99 at 1 000/s against raw lapin one at a time and raw lapin open loop at 1 000/s.
fn latency(r: &Rabbitmq) {
    let (p99_gaps, open_gaps) = (&r.latency.p99_gaps, &r.latency.open_gaps);
    let (slow, paired_one, raw_slow) =
        (&r.latency.slow, &r.latency.paired_one, &r.latency.raw_slow);
    let p99_gap = median(p99_gaps);
    println!(
        "  p99 @ 1000/s minus raw one-at-a-time p99 {p99_gap:>6.2} ms  target <= 2 ms   {}  (rounds {}; pooled {:.2} vs {:.2})",
        mark(p99_gap <= 2.0),
        p99_gaps
            .iter()
            .map(|g| format!("{g:+.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        slow.ms(0.99),
        paired_one.ms(0.99)
    );
    // The pacer does nothing but sleep and hand out due times: when it is itself late by
    // milliseconds, the host stalled the whole benchmark, and tail latencies measured
    // then are the host's.
    let pacer_late = slow.late.value_at_quantile(0.99);
    if pacer_late > STALLED_PACER_US {
        println!(
            "  (the pacer itself released sends late by p99 {pacer_late} µs in those rounds: the host stalled, and the p99 figures measure it more than hookgate; run again)"
        );
    }
    println!(
        "  p99 @ 1000/s minus raw lapin's open-loop p99 @ 1000/s {:>+5.2} ms  (rounds {}; pooled {:.2} vs {:.2}): what hookgate adds at the same arrival pattern",
        median(open_gaps),
        open_gaps
            .iter()
            .map(|g| format!("{g:+.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        slow.ms(0.99),
        raw_slow.ms(0.99)
    );
}

/// hookgate with its store against bare hyper and the hyper + group commit floor.
fn store(st: &Store) {
    let (store_ratios, floor_ratios, store_own) =
        (&st.store_ratios, &st.floor_ratios, &st.store_own);
    let (sclosed, paired_bare) = (&st.sclosed, &st.paired_bare);
    let store_ratio = median(store_ratios);
    println!(
        "  hookgate(store) / bare hyper              {store_ratio:>6.1} %   target >= 50 %   {}  (rounds {}; pooled {:.1} %)",
        mark(store_ratio >= 50.0),
        percents(store_ratios),
        ratio(sclosed.rps(), paired_bare.rps())
    );
    println!(
        "  hyper + group commit / bare hyper         {:>6.1} %   (rounds {}): the floor of a fsync-durable stack, before any gateway work",
        median(floor_ratios),
        percents(floor_ratios)
    );
    println!(
        "  hookgate(store) / hyper + group commit    {:>6.1} %   (rounds {}): what hookgate's own work costs",
        median(store_own),
        percents(store_own)
    );
}

/// hookgate's memory: idle, and at its peak under each hand-off.
fn memory(s: &Settings, r: &Rabbitmq, st: &Store) {
    let (idle_rss, peak_rss, speak) = (r.idle_rss, r.peak_rss, st.speak);
    println!(
        "  RSS idle                                  {:>6.1} MiB  target < 30 MiB   {}",
        idle_rss as f64 / 1024.0,
        mark(idle_rss < 30 * 1024)
    );
    println!(
        "  RSS peak under load (rabbitmq / store)    {:>6.1} / {:.1} MiB  (bound: max_in_flight 4096 x 1 MiB max_body; {} in flight here)",
        peak_rss as f64 / 1024.0,
        speak as f64 / 1024.0,
        s.conns
    );
}
