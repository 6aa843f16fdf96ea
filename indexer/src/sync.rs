//! The indexer's main loop: check the node and database agree on the chain, roll back blocks the
//! node no longer has on its best chain, catch up to its tip, then follow it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Instant;

use anyhow::{bail, Context};
use bitcoin::hashes::Hash;
use tracing::{debug, info, warn};

use crate::config::{Config, FeedChoice};
use crate::killpoint;
use crate::node::fetch::{Feed, Fetched, Fetcher};
use crate::node::{sleep_unless_stopped, NodeError, Rpc};
use crate::progress::Progress;
use crate::stages;
use crate::stages::clusters;
use crate::storage::journal::{undo_tip, BatchSummary};
use crate::storage::kv::WriteMode;
use crate::storage::schema::Meta;
use crate::storage::store::{hex_hash, Store, StoreError};
use crate::writer::{ApplyError, Writer};

/// Indexes until the node's tip (with `once`) or until `shutdown` is set; with `check`, only
/// checks the database. First, without the node, brings every derived stage up to the indexed tip
/// (rebuilding the one `config` names).
pub fn run(config: &Config, shutdown: Arc<AtomicBool>) -> anyhow::Result<()> {
    if config.check {
        return crate::check::run(config);
    }
    if !config.fetch_only {
        prepare_stages(config, &shutdown)?;
        if config.rebuild.is_some() {
            return Ok(());
        }
    }
    let mut node = Rpc::new(config.rpc.clone());
    let info = node.chain_info().context("cannot start")?;
    let network = config.network;
    if info.chain != network.core_name() {
        bail!("node at {} is on chain '{}', but the indexer is configured for '{}'", node.url(), info.chain, network);
    }
    let genesis = node.block_hash(&shutdown, 0)?.context("node has no genesis block")?.to_byte_array();
    if genesis != network.genesis() {
        bail!("node at {} has genesis {}, which is not {network}'s", node.url(), hex_hash(&genesis));
    }
    let feed = match config.feed {
        FeedChoice::Auto => {
            Feed::detect(&config.rpc, &bitcoin::BlockHash::from_byte_array(genesis)).context("cannot start")?
        }
        FeedChoice::Rpc => Feed::Rpc,
    };
    info!(%feed, "block feed");
    if config.feed == FeedChoice::Auto && feed == Feed::Rpc {
        warn!("the node does not serve REST: start bitcoind with -rest=1 for a faster sync");
    }
    if config.fetch_only {
        return fetch_only(config, feed, info.blocks, &shutdown);
    }
    let store = Store::open_writable(&config.db, config.cache_bytes)
        .with_context(|| format!("cannot open database {}", config.db.display()))?;
    store.check_identity(network.core_name(), &genesis)?;
    let mut meta = store.meta()?.unwrap_or_else(|| Meta::empty(network.core_name(), genesis));
    let next = meta.next_height();
    if let Some(pruned_below) = info.prune_height.filter(|p| *p > next && next <= info.blocks) {
        bail!(
            "node at {} is pruned: it no longer has blocks below height {pruned_below}, and the index needs every block from height {next}; use a node without pruning",
            node.url()
        );
    }
    info!(db = %config.db.display(), network = %network, tip = ?meta.tip.map(|t| t.0), node_blocks = info.blocks, "starting");
    let mut progress = Progress::new(config.progress);
    let result = follow(config, feed, &store, &mut node, &mut meta, &shutdown, &mut progress);
    progress.finish();
    let (memtables, table_readers, block_cache) = store.kv().memory()?;
    debug!(memtables, table_readers, block_cache, "rocksdb memory before the final flush");
    // What stopped the sync is the error to report, even when the final flush fails too.
    let flushed = store.kv().flush().context("final flush");
    match result {
        Err(e) if matches!(e.downcast_ref::<NodeError>(), Some(NodeError::Stopped)) => {}
        other => other?,
    }
    flushed?;
    let tables: Vec<String> =
        store.kv().table_sizes()?.iter().map(|(name, bytes, rows)| format!("{name}:{bytes}:{rows}")).collect();
    info!(tip = ?meta.tip.map(|t| t.0), db_bytes = store.kv().disk_bytes(), tables = tables.join(","), "stopped");
    Ok(())
}

/// Opens the database (when it exists), checks it is for the configured network, rebuilds the
/// stage `config.rebuild` names, and catches up every stage behind the indexed tip. No node is
/// contacted.
fn prepare_stages(config: &Config, shutdown: &AtomicBool) -> anyhow::Result<()> {
    if !config.db.exists() {
        if let Some(stage) = config.rebuild {
            bail!("cannot rebuild stage {}: no database at {}", stage.name(), config.db.display());
        }
        return Ok(());
    }
    let mut store = Store::open_writable(&config.db, config.cache_bytes)
        .with_context(|| format!("cannot open database {}", config.db.display()))?;
    if let Some(meta) = store.meta()? {
        if meta.network != config.network.core_name() {
            if config.rebuild.is_none() {
                // Refused with the node's view of the chain, once the node is reached.
                return Ok(());
            }
            bail!(
                "database at {} was built for network '{}', but the indexer is configured for '{}'",
                config.db.display(),
                meta.network,
                config.network
            );
        }
    }
    if let Some(stage) = config.rebuild {
        if !config.stages.enabled().contains(&stage) {
            bail!("cannot rebuild stage {}: it is turned off (--no-clusters)", stage.name());
        }
        info!(stage = stage.name(), "rebuilding stage from the indexed rows");
        stages::reset(&mut store, stage)?;
    }
    check_cluster_params(config, &store)?;
    let applied = config.stages.catch_up(&store, config.batch_txs, shutdown)?;
    if applied > 0 {
        store.kv().flush()?;
    }
    Ok(())
}

/// Refuses to extend clusters built with other heuristics than the configured ones: a database
/// is never a mix of two settings.
fn check_cluster_params(config: &Config, store: &Store) -> anyhow::Result<()> {
    let (Some(params), Some(state)) = (config.stages.clusters, clusters::read::state(store)?) else {
        return Ok(());
    };
    if !params.built(&state) {
        let built = if state.change { "with change heuristics" } else { "without change heuristics" };
        let flag = if params.change { " --cluster-change" } else { "" };
        bail!(
            "clusters in {} were built {built} (heuristics version {}); rebuild them with `indexer --rebuild-stage clusters{flag}`, or pass the settings they were built with",
            config.db.display(),
            state.version
        );
    }
    Ok(())
}

fn follow(
    config: &Config,
    feed: Feed,
    store: &Store,
    node: &mut Rpc,
    meta: &mut Meta,
    shutdown: &Arc<AtomicBool>,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let mut reported_idle = false;
    let mut reported_behind = false;
    while !shutdown.load(Ordering::Relaxed) {
        let info = node.chain_info_retrying(shutdown)?;
        // A node syncing or reindexing (after a restore, `-reindex`) is briefly below the index:
        // that is no reorg, and nothing is rolled back for it.
        if let Some((tip, _)) = meta.tip.filter(|(tip, _)| info.initial_download && info.blocks < *tip) {
            if !reported_behind {
                warn!(
                    node_blocks = info.blocks,
                    tip, "the node is in initial block download below the indexed tip; waiting for it"
                );
                reported_behind = true;
            }
            sleep_unless_stopped(shutdown, config.poll);
            continue;
        }
        reported_behind = false;
        reconcile(store, node, meta, shutdown)?;
        let next = meta.next_height();
        if next <= info.blocks {
            let txs_behind = info.txs.saturating_sub(meta.next_txnum);
            index_range(
                config,
                store,
                meta,
                Range::new(next, info.blocks, txs_behind, feed, config),
                shutdown,
                progress,
            )?;
            reported_idle = false;
            continue;
        }
        if config.once {
            break;
        }
        if !reported_idle {
            info!(height = info.blocks, "at the node's tip; following");
            reported_idle = true;
        }
        sleep_unless_stopped(shutdown, config.poll);
    }
    Ok(())
}

/// Rolls back indexed blocks that are no longer on the node's best chain, one atomic commit per
/// block (a reader sees the index at one block or the next, never between). The fork point is
/// found first: a fork deeper than the undo data kept is refused before anything is rolled back.
fn reconcile(store: &Store, node: &mut Rpc, meta: &mut Meta, stop: &AtomicBool) -> anyhow::Result<()> {
    let Some((tip, tip_hash)) = meta.tip else { return Ok(()) };
    let Some(fork) = fork_point(store, node, (tip, tip_hash), stop)? else { return Ok(()) };
    warn!(
        tip,
        fork_height = fork,
        blocks = tip - fork,
        "reorg: the node's best chain no longer has the indexed tip; rolling back"
    );
    for height in (fork + 1..=tip).rev() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        undo_tip(store, height)?;
        debug!(height, "rolled back");
        killpoint::reached("rolled back");
    }
    *meta = store.meta()?.context("meta row vanished during rollback")?;
    if meta.tip.map(|t| t.0) == Some(fork) {
        warn!(blocks = tip - fork, fork_height = fork, "reorg: rolled back to the fork point");
    }
    Ok(())
}

/// The height of the last indexed block still on the node's best chain, when the indexed tip
/// (`tip`, `tip_hash`) is not; `None` when the tip is on it. Fails, changing nothing, when a block
/// above the fork has no undo data (the fork is deeper than the undo depth the index was built
/// with).
fn fork_point(
    store: &Store,
    node: &mut Rpc,
    (tip, tip_hash): (u32, [u8; 32]),
    stop: &AtomicBool,
) -> anyhow::Result<Option<u32>> {
    let on_node = |node: &mut Rpc, height: u32| -> anyhow::Result<Option<[u8; 32]>> {
        Ok(node.block_hash(stop, height)?.map(|h| h.to_byte_array()))
    };
    if on_node(node, tip)? == Some(tip_hash) {
        return Ok(None);
    }
    let mut height = tip;
    loop {
        if store.undo(height)?.is_none() {
            bail!(
                "the node's best chain forked below indexed block {height}, deeper than the undo data this index keeps ({} blocks, up to its tip {tip}); nothing was rolled back: re-index into a new directory (`indexer --db NEW_DIR`), and pass a larger --undo-depth to survive deeper forks",
                tip - height
            );
        }
        let Some(below) = height.checked_sub(1) else {
            bail!("the node's genesis block differs from the indexed one; re-index into a new directory")
        };
        let indexed = store.header(below)?.with_context(|| format!("no header row for indexed block {below}"))?;
        if on_node(node, below)? == Some(indexed.hash) {
            return Ok(Some(below));
        }
        height = below;
    }
}

/// Indexes heights `start..=end`, committing in batches.
fn index_range(
    config: &Config,
    store: &Store,
    meta: &mut Meta,
    range: Range,
    shutdown: &Arc<AtomicBool>,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let mode = range.mode;
    store.kv().set_mode(mode)?;
    progress.begin(range.start, range.end);
    let mut pending = Writer::new(store, meta.clone(), config.stages)?;
    let result = std::thread::scope(|scope| apply_range(config, store, &mut pending, range, shutdown, progress, scope));
    *meta = pending.meta().clone();
    result?;
    if mode == WriteMode::Bulk {
        store.kv().flush()?;
        durable(meta);
        store.kv().set_mode(WriteMode::Tip)?;
        if config.compact_after_bulk {
            info!("compacting after bulk load");
            store.kv().compact();
        }
    }
    Ok(())
}

/// Heights to index, where from, and how to write them.
#[derive(Clone, Copy)]
struct Range {
    start: u32,
    end: u32,
    feed: Feed,
    mode: WriteMode,
}

/// How many transactions behind, per block of the bulk threshold, also makes a bulk load.
const BULK_TXS_PER_BLOCK: u64 = 100;

impl Range {
    /// Catching up more blocks than the bulk threshold, or more transactions than 100 times it,
    /// uses bulk-load settings.
    fn new(start: u32, end: u32, txs_behind: u64, feed: Feed, config: &Config) -> Range {
        let many_blocks = end - start + 1 > config.bulk_threshold;
        let many_txs = txs_behind > u64::from(config.bulk_threshold) * BULK_TXS_PER_BLOCK;
        let mode = if many_blocks || many_txs { WriteMode::Bulk } else { WriteMode::Tip };
        Range { start, end, feed, mode }
    }
}

/// A batch being written on a second thread, and the height it ends at.
struct Flight<'scope> {
    handle: ScopedJoinHandle<'scope, Result<BatchSummary, StoreError>>,
    height: u32,
}

/// Waits for the batch in flight, if any, to be in the store; returns the height it ends at.
fn land(
    flight: &mut Option<Flight<'_>>,
    pending: &mut Writer<'_>,
    progress: &mut Progress,
) -> anyhow::Result<Option<u32>> {
    let Some(f) = flight.take() else { return Ok(None) };
    let summary = f.handle.join().map_err(|_| anyhow::anyhow!("the batch writer thread panicked"))??;
    pending.settled();
    progress.committed(summary, f.height);
    Ok(Some(f.height))
}

/// Reports that everything up to the tip of `meta` is on disk and survives a hard kill: a
/// flushed bulk batch, or a block written through the write-ahead log.
fn durable(meta: &Meta) {
    if let Some((height, _)) = meta.tip {
        durable_at(height);
    }
}

/// Reports that everything up to `height` is on disk (see [`durable`]); a crash test's kill point.
fn durable_at(height: u32) {
    debug!(height, "durable");
    killpoint::reached("durable");
}

/// Applies the blocks of `range` in order. Following the tip, every block is committed as it
/// comes; in bulk mode a full batch is written on a second thread while the next one is built,
/// with at most one batch in flight.
fn apply_range<'scope, 'env>(
    config: &Config,
    store: &'env Store,
    pending: &mut Writer<'env>,
    range: Range,
    shutdown: &Arc<AtomicBool>,
    progress: &mut Progress,
    scope: &'scope Scope<'scope, 'env>,
) -> anyhow::Result<()> {
    let mode = range.mode;
    let mut fetcher = Fetcher::start(
        &config.rpc,
        range.feed,
        (range.start, range.end),
        config.fetch_workers,
        config.fetch_window,
        shutdown.clone(),
    );
    let mut flight: Option<Flight<'scope>> = None;
    let mut last_flush = Instant::now();
    while let Some((height, fetched)) = fetcher.next_block() {
        let fetched = match fetched {
            Ok(Fetched::Block(fetched)) => fetched,
            Ok(Fetched::Gone) | Err(NodeError::Stopped) => break,
            Err(e) => return Err(e.into()),
        };
        let keep_undo = mode == WriteMode::Tip || height + config.undo_depth > range.end;
        match pending.apply(&fetched.block, fetched.spent.as_deref(), height, keep_undo, config.undo_depth) {
            Ok(()) => {}
            // The node switched branches while we fetched: commit what is good, then reconcile.
            Err(ApplyError::NotOnTip { .. }) => break,
            Err(e) => return Err(e).with_context(|| format!("indexing block {height}")),
        }
        let stopping = shutdown.load(Ordering::Relaxed);
        if mode == WriteMode::Tip {
            let summary = pending.commit(mode)?;
            progress.committed(summary, height);
            durable(pending.meta());
        } else if pending.txs() >= config.batch_txs || stopping {
            let landed = land(&mut flight, pending, progress)?;
            if let Some(landed) = landed.filter(|_| last_flush.elapsed() >= config.flush_every) {
                store.kv().flush()?;
                last_flush = Instant::now();
                durable_at(landed);
            }
            let batch = pending.take_batch();
            flight = Some(Flight { handle: scope.spawn(move || batch.write(store, mode)), height });
        }
        if stopping {
            break;
        }
    }
    drop(fetcher);
    land(&mut flight, pending, progress)?;
    if !pending.is_empty() {
        let height = pending.meta().tip.map(|t| t.0).unwrap_or(0);
        let summary = pending.commit(mode)?;
        progress.committed(summary, height);
        if mode == WriteMode::Tip {
            durable(pending.meta());
        }
    }
    Ok(())
}

/// Fetches and decodes every block up to `tip` the way a sync does, writing nothing: the rate the
/// node can serve blocks at, which bounds the indexer's.
fn fetch_only(config: &Config, feed: Feed, tip: u32, shutdown: &Arc<AtomicBool>) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut fetcher =
        Fetcher::start(&config.rpc, feed, (0, tip), config.fetch_workers, config.fetch_window, shutdown.clone());
    let (mut blocks, mut txs, mut bytes) = (0u64, 0u64, 0u64);
    while let Some((_, fetched)) = fetcher.next_block() {
        match fetched? {
            Fetched::Block(fetched) => {
                blocks += 1;
                // The writer needs every txid: computing them is part of the ceiling.
                for tx in &fetched.block.txdata {
                    std::hint::black_box(tx.compute_txid());
                }
                txs += fetched.block.txdata.len() as u64;
                bytes += fetched.block.total_size() as u64;
            }
            Fetched::Gone => break,
        }
    }
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    info!(
        blocks,
        txs,
        bytes,
        seconds = format!("{secs:.2}"),
        blocks_per_s = format!("{:.1}", blocks as f64 / secs),
        tx_per_s = format!("{:.0}", txs as f64 / secs),
        mb_per_s = format!("{:.2}", bytes as f64 / secs / 1e6),
        "fetch-only pass done"
    );
    Ok(())
}
