//! Progress of a sync: a bar on a terminal, periodic summary lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget};
use tracing::info;

use crate::storage::journal::BatchSummary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressStyle {
    /// A bar when standard error is a terminal, log lines otherwise.
    Auto,
    Bar,
    Log,
    None,
}

const LOG_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    bar: Option<ProgressBar>,
    log: bool,
    started: Instant,
    last_log: Instant,
    start_height: u32,
    end_height: u32,
    blocks: u64,
    txs: u64,
    bytes: u64,
}

impl Progress {
    pub fn new(style: ProgressStyle) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bar = matches!((style, tty), (ProgressStyle::Bar, _) | (ProgressStyle::Auto, true));
        let log = matches!((style, tty), (ProgressStyle::Log, _) | (ProgressStyle::Auto, false));
        let now = Instant::now();
        Progress {
            bar: bar.then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())),
            log,
            started: now,
            last_log: now,
            start_height: 0,
            end_height: 0,
            blocks: 0,
            txs: 0,
            bytes: 0,
        }
    }

    /// A catch-up from `start` to `end` begins.
    pub fn begin(&mut self, start: u32, end: u32) {
        (self.start_height, self.end_height) = (start, end);
        (self.blocks, self.txs, self.bytes) = (0, 0, 0);
        self.started = Instant::now();
        if let Some(bar) = &self.bar {
            bar.set_length(u64::from(end - start + 1));
            bar.set_position(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} height {msg} ETA {eta}")
                    .expect("the template is valid"),
            );
        }
    }

    /// A batch ending at `height` was committed.
    pub fn committed(&mut self, s: BatchSummary, height: u32) {
        self.blocks += u64::from(s.blocks);
        self.txs += s.txs;
        self.bytes += s.bytes;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let (bps, tps, mbps) = (self.blocks as f64 / secs, self.txs as f64 / secs, self.bytes as f64 / secs / 1e6);
        if let Some(bar) = &self.bar {
            bar.set_position(u64::from(height + 1 - self.start_height));
            bar.set_message(format!(
                "{height}/{} | {bps:.1} blocks/s | {tps:.0} tx/s | {mbps:.2} MB/s",
                self.end_height
            ));
        }
        let done = height >= self.end_height;
        if self.log && (self.last_log.elapsed() >= LOG_EVERY || done) {
            self.last_log = Instant::now();
            let left = f64::from(self.end_height.saturating_sub(height));
            let eta_s = if bps > 0.0 { (left / bps) as u64 } else { 0 };
            info!(
                height,
                target = self.end_height,
                blocks_per_s = format!("{bps:.1}"),
                tx_per_s = format!("{tps:.0}"),
                mb_per_s = format!("{mbps:.2}"),
                eta_s,
                "indexed"
            );
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
