//! Per-request latency percentiles for the in-process benches (shared/benches/pipeline.rs,
//! functions/auth/benches/auth.rs include this file). Criterion reports a mean and a
//! median per sample of many iterations; the tail needs each request's own duration, so
//! the benches time every request themselves (`iter_custom`) and record it here.
//!
//! Only `cargo bench` (which passes `--bench`) writes the tables: `cargo test --benches`
//! runs each bench once and must not overwrite real numbers with one sample.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::Path,
    time::{Duration, Instant},
};

use criterion::{BenchmarkGroup, measurement::WallTime};

/// Every request's duration, by bench.
#[derive(Default)]
pub struct Latencies {
    /// (name, what was measured, durations), in the order the benches ran.
    benches: Vec<(String, String, Vec<Duration>)>,
}

impl Latencies {
    /// The durations of bench `name` (`label`: method and path, for the table).
    pub fn bench(&mut self, name: &str, label: &str) -> &mut Vec<Duration> {
        let at = match self.benches.iter().position(|(n, _, _)| n == name) {
            Some(at) => at,
            None => {
                self.benches
                    .push((name.to_owned(), label.to_owned(), Vec::new()));
                self.benches.len() - 1
            }
        };
        &mut self.benches[at].2
    }

    /// p50 and p99 of bench `name`, if it ran.
    pub fn percentiles(&self, name: &str) -> Option<(Duration, Duration)> {
        let (_, _, d) = self.benches.iter().find(|(n, _, _)| n == name)?;
        Some((percentile(d, 0.50)?, percentile(d, 0.99)?))
    }

    /// Writes `inprocess-<krate>.md` and `.json` under `dir`, with `notes` after the
    /// table; does nothing outside `cargo bench` or when no bench ran.
    pub fn write(&self, dir: &Path, krate: &str, notes: &str) {
        if !std::env::args().any(|a| a == "--bench") || self.benches.is_empty() {
            return;
        }
        // A fragment: scripts/bench.sh pastes it under its own heading in BENCHMARKS.md.
        let mut md = String::from(
            "Warm, in-process (`tower::ServiceExt::oneshot` on the service's Router, release \
             build, current-thread runtime, JSON access log formatted into a sink), one \
             request at a time; every request timed on its own.\n\n\
             | path | p50 | p99 | samples |\n| --- | --- | --- | --- |\n",
        );
        let mut json = BTreeMap::new();
        for (name, label, d) in &self.benches {
            let (Some(p50), Some(p99)) = (percentile(d, 0.50), percentile(d, 0.99)) else {
                continue;
            };
            let _ = writeln!(
                md,
                "| {label} (`{name}`) | {} | {} | {} |",
                show(p50),
                show(p99),
                d.len()
            );
            json.insert(
                name.clone(),
                serde_json::json!({ "p50_us": micros(p50), "p99_us": micros(p99) }),
            );
        }
        if !notes.is_empty() {
            let _ = write!(md, "\n{notes}\n");
        }
        std::fs::create_dir_all(dir).expect("target/bench");
        let file = |ext: &str| dir.join(format!("inprocess-{krate}.{ext}"));
        std::fs::write(file("md"), md).expect("write the table");
        let json = serde_json::to_string_pretty(&json).expect("json");
        std::fs::write(file("json"), json + "\n").expect("write the json");
        eprintln!("wrote {}", file("md").display());
    }
}

/// Times each of `iters` requests, recording each duration in `into`; returns their sum,
/// as `iter_custom` expects. `request` builds the request and its future untimed (a
/// future does nothing until awaited); only awaiting it is timed. `after` gets each
/// answer, untimed too (e.g. to keep the newest refresh token, or to clean up).
pub async fn timed<T, F, Fut, A, AFut>(
    iters: u64,
    into: &mut Vec<Duration>,
    request: &mut F,
    after: &mut A,
) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
    A: FnMut(T) -> AFut,
    AFut: Future<Output = ()>,
{
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let pending = request();
        let started = Instant::now();
        let answer = pending.await;
        let took = started.elapsed();
        after(answer).await;
        into.push(took);
        total += took;
    }
    total
}

/// Benches `request` as `name` in `group`, recording every request's duration.
pub fn bench<T, F, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    latencies: &mut Latencies,
    id: (&str, &str),
    request: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    bench_then(group, rt, latencies, id, request, |_| async {});
}

/// [`bench`], with `after` run on each answer outside the timing.
pub fn bench_then<T, F, Fut, A, AFut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    latencies: &mut Latencies,
    (name, label): (&str, &str),
    mut request: F,
    mut after: A,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
    A: FnMut(T) -> AFut,
    AFut: Future<Output = ()>,
{
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let into = latencies.bench(name, label);
            rt.block_on(timed(iters, into, &mut request, &mut after))
        })
    });
}

/// Nearest-rank percentile.
pub fn percentile(samples: &[Duration], q: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

pub fn micros(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

pub fn show(d: Duration) -> String {
    if d >= Duration::from_millis(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} µs", micros(d))
    }
}
