//! `serve-bench`: a load test of `query serve` on loopback, printed as Markdown. Concurrent
//! clients send light lookups (`tx/{txid}`, `address/{address}?limit=20`) alone (phase A), then
//! again while other clients loop over heavy requests (6-hop forward traces, a 10-hop haircut
//! taint) until the light ones are done (phase B). Bounded by count: each light client sends
//! `--requests` lookups per phase; every answer must be 200. Reports, per round and as medians
//! across rounds, the light lookups' rate and p50/p99 latency, the heavy requests completed and
//! their p50, and the server's peak memory (`VmHWM` of `--server-pid`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use chaintrail_tests::Truth;
use clap::Parser;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Parser)]
#[command(about = "Load test of `query serve`: light lookups alone and under heavy traces, as Markdown.")]
struct Args {
    /// The server's base address, e.g. http://127.0.0.1:3030 (loopback only).
    #[arg(long)]
    url: String,
    /// The generator's ground truth of the indexed chain (`chaingen --out`).
    #[arg(long)]
    truth: PathBuf,
    /// Clients sending light lookups, one thread each.
    #[arg(long, default_value_t = 4)]
    light_clients: usize,
    /// Clients looping over heavy requests in phase B, one thread each.
    #[arg(long, default_value_t = 2)]
    heavy_clients: usize,
    /// Light lookups each light client sends per phase.
    #[arg(long, default_value_t = 500)]
    requests: usize,
    /// Rounds of phase A then phase B; medians are taken across them.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// The server's process id, to read its peak memory from /proc/<pid>/status.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seed of the lookups' random picks.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds one request may take before the run fails.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
}

/// The paths requested, relative to `/api/v1/`.
struct Targets {
    light: Vec<String>,
    heavy: Vec<String>,
}

impl Targets {
    /// Light lookups: every tx and every address the truth knows. Heavy: 6-hop forward traces
    /// from the early non-coinbase txs (those with the biggest traces, as `query-bench` picks
    /// them) and a 10-hop haircut taint from the theft.
    fn from_truth(truth: &Truth) -> anyhow::Result<Targets> {
        let mut light: Vec<String> = truth.txs.iter().map(|t| format!("tx/{}", t.txid)).collect();
        light.extend(truth.scripts.iter().filter_map(|s| s.address.as_ref()).map(|a| format!("address/{a}?limit=20")));
        let mut heavy: Vec<String> = truth
            .txs
            .iter()
            .filter(|t| t.kind != "coinbase")
            .take(400)
            .map(|t| format!("trace/forward/{}?hops=6", t.txid))
            .collect();
        heavy.push(format!("taint/{}?model=haircut&hops=10", truth.case.theft_txid));
        ensure!(light.len() > 1 && heavy.len() > 1, "the truth file has too few transactions to pick from");
        Ok(Targets { light, heavy })
    }
}

/// [`get`], and on failure the signal for every other client to stop.
fn timed_get(base: &str, path: &str, timeout_s: u64, stop: &AtomicBool) -> anyhow::Result<Duration> {
    get(base, path, timeout_s).inspect_err(|_| stop.store(true, Ordering::Relaxed))
}

/// Sends one GET and checks it is answered 200; returns how long it took, body included.
fn get(base: &str, path: &str, timeout_s: u64) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let response = minreq::get(format!("{base}/api/v1/{path}"))
        .with_timeout(timeout_s)
        .send()
        .with_context(|| format!("GET /api/v1/{path}"))?;
    let took = start.elapsed();
    if response.status_code != 200 {
        let body = String::from_utf8_lossy(response.as_bytes());
        let body: String = body.chars().take(200).collect();
        bail!("GET /api/v1/{path}: {} {}", response.status_code, body);
    }
    Ok(took)
}

/// What one phase measured.
struct Phase {
    light: Vec<Duration>,
    wall: Duration,
    heavy: Vec<Duration>,
    hwm_kib: Option<u64>,
}

impl Phase {
    fn light_rate(&self) -> f64 {
        self.light.len() as f64 / self.wall.as_secs_f64()
    }
}

/// The `q` quantile of sorted durations, nearest rank, in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1].as_secs_f64() * 1e3)
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// The peak resident set (`VmHWM`, KiB) of a process.
fn vm_hwm_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("server pid {pid}"))?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM line in /proc/<pid>/status")?;
    let kib = line.split_whitespace().nth(1).context("VmHWM without a value")?;
    Ok(kib.parse()?)
}

/// One phase: the light clients send their lookups while `heavy_clients` loop over heavy
/// requests until every light client is done (or one request fails).
fn phase(args: &Args, targets: &Arc<Targets>, heavy_clients: usize, seed: u64) -> anyhow::Result<Phase> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut heavy = Vec::new();
    for client in 0..heavy_clients {
        let (targets, stop, base, timeout_s) =
            (Arc::clone(targets), Arc::clone(&stop), args.url.clone(), args.timeout_s);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (0x4845_4156_5900 + client as u64));
        heavy.push(thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
            let mut times = Vec::new();
            // Each client starts at its own place in a shuffled order so the two do not walk the
            // same traces in step.
            let mut order: Vec<&String> = targets.heavy.iter().collect();
            order.shuffle(&mut rng);
            for path in order.iter().cycle() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                times.push(timed_get(&base, path, timeout_s, &stop)?);
            }
            Ok(times)
        }));
    }
    let start = Instant::now();
    let mut light = Vec::new();
    for client in 0..args.light_clients {
        let (targets, stop, base) = (Arc::clone(targets), Arc::clone(&stop), args.url.clone());
        let (requests, timeout_s) = (args.requests, args.timeout_s);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (0x4c49_4748_5400 + client as u64));
        light.push(thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
            let mut times = Vec::with_capacity(requests);
            for _ in 0..requests {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let path = &targets.light[rng.gen_range(0..targets.light.len())];
                times.push(timed_get(&base, path, timeout_s, &stop)?);
            }
            Ok(times)
        }));
    }
    let mut errors = Vec::new();
    let mut light_times = Vec::new();
    for handle in light {
        match handle.join().map_err(|_| anyhow::anyhow!("a light client panicked"))? {
            Ok(times) => light_times.extend(times),
            Err(e) => errors.push(e),
        }
    }
    let wall = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut heavy_times = Vec::new();
    for handle in heavy {
        match handle.join().map_err(|_| anyhow::anyhow!("a heavy client panicked"))? {
            Ok(times) => heavy_times.extend(times),
            Err(e) => errors.push(e),
        }
    }
    if let Some(e) = errors.into_iter().next() {
        return Err(e.context("a request was not answered 200"));
    }
    light_times.sort();
    heavy_times.sort();
    let hwm_kib = args.server_pid.map(vm_hwm_kib).transpose()?;
    Ok(Phase { light: light_times, wall, heavy: heavy_times, hwm_kib })
}

fn ms(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.1}")).unwrap_or_default()
}

fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.0} MiB", k as f64 / 1024.0)).unwrap_or_default()
}

const PHASES: [&str; 2] = ["A: light alone", "B: light + heavy"];

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    args.url = args.url.trim_end_matches('/').to_string();
    ensure!(
        args.light_clients > 0 && args.requests > 0 && args.rounds > 0,
        "--light-clients, --requests and --rounds must be at least 1"
    );
    let authority = args.url.strip_prefix("http://").unwrap_or_default();
    let loopback = authority.parse::<SocketAddr>().is_ok_and(|a| a.ip().is_loopback());
    ensure!(
        loopback,
        "--url must be http:// and a loopback address with its port, such as http://127.0.0.1:3030 (got {})",
        args.url
    );
    let truth = Truth::load(&args.truth)?;
    let targets = Arc::new(Targets::from_truth(&truth)?);

    // Warm-up, untimed: a pass of lookups and one request of each heavy kind.
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    for _ in 0..200 {
        get(&args.url, &targets.light[rng.gen_range(0..targets.light.len())], args.timeout_s)?;
    }
    get(&args.url, &targets.heavy[0], args.timeout_s)?;
    get(&args.url, targets.heavy.last().expect("at least two heavy targets"), args.timeout_s)?;

    println!(
        "Load: {} light clients × {} lookups per phase (`tx/{{txid}}` and `address/{{address}}?limit=20`, \
         at random over {} txs and addresses); phase B adds {} heavy clients looping over 6-hop forward \
         traces from {} txs and a 10-hop haircut taint from the theft until the light clients finish.\n",
        args.light_clients,
        args.requests,
        targets.light.len(),
        args.heavy_clients,
        targets.heavy.len() - 1
    );
    println!("| round | phase | light lookups | light req/s | light p50 (ms) | light p99 (ms) | light max (ms) | heavy done | heavy p50 (ms) | server VmHWM |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut results: [Vec<Phase>; 2] = [Vec::new(), Vec::new()];
    for round in 1..=args.rounds {
        for (i, name) in PHASES.iter().enumerate() {
            let heavy_clients = if i == 0 { 0 } else { args.heavy_clients };
            let seed = args.seed.wrapping_mul(1000).wrapping_add((round * 2 + i) as u64);
            let p =
                phase(&args, &targets, heavy_clients, seed).with_context(|| format!("round {round}, phase {name}"))?;
            println!(
                "| {round} | {name} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
                p.light.len(),
                p.light_rate(),
                ms(quantile_ms(&p.light, 0.5)),
                ms(quantile_ms(&p.light, 0.99)),
                ms(quantile_ms(&p.light, 1.0)),
                if i == 0 { String::new() } else { p.heavy.len().to_string() },
                ms(quantile_ms(&p.heavy, 0.5)),
                mib(p.hwm_kib),
            );
            results[i].push(p);
        }
    }

    println!("\nMedians of {} rounds (A and B alternate within each round):\n", args.rounds);
    println!(
        "| phase | light req/s | light p50 (ms) | light p99 (ms) | heavy done | heavy p50 (ms) | server VmHWM after |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut p99_b = None;
    for (i, name) in PHASES.iter().enumerate() {
        let phases = &results[i];
        let med = |f: &dyn Fn(&Phase) -> Option<f64>| median(phases.iter().filter_map(f).collect());
        let p99 = med(&|p| quantile_ms(&p.light, 0.99));
        if i == 1 {
            p99_b = p99;
        }
        let heavy_done = med(&|p| Some(p.heavy.len() as f64));
        println!(
            "| {name} | {:.0} | {} | {} | {} | {} | {} |",
            med(&|p| Some(p.light_rate())).unwrap_or_default(),
            ms(med(&|p| quantile_ms(&p.light, 0.5))),
            ms(p99),
            if i == 0 { String::new() } else { format!("{:.0}", heavy_done.unwrap_or_default()) },
            ms(med(&|p| quantile_ms(&p.heavy, 0.5))),
            mib(phases.iter().filter_map(|p| p.hwm_kib).max()),
        );
    }
    if args.heavy_clients > 0 {
        let p99 = p99_b.unwrap_or_default();
        let verdict = if p99 < 50.0 { "under" } else { "NOT under" };
        println!("\nLight p99 with heavy traffic: {p99:.1} ms, {verdict} 50 ms.");
    }
    Ok(())
}
