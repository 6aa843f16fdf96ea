//! `indexer --check`: reads every row of every table of a database, without the node and without
//! writing, verifying RocksDB's block checksums, reading the segment files, and decoding each row;
//! names the first corrupt one.

use std::io::Write;

use anyhow::{bail, Context};

use crate::config::Config;
use crate::storage::schema::{Meta, TABLES};
use crate::storage::store::Store;

/// Checks the database `config` names and prints each table's rows and bytes. A corrupt file or
/// row is an error naming it. Opens the database read-only, so an indexer may be running; what it
/// checks is the database as it was durable at that moment.
pub fn run(config: &Config) -> anyhow::Result<()> {
    let store = Store::open_read_only(&config.db, config.cache_bytes)
        .with_context(|| format!("cannot check database {}", config.db.display()))?;
    let meta = store.meta()?.context("the database has no meta row")?;
    let mut out = std::io::stdout().lock();
    let (mut rows, mut bytes) = (0u64, 0u64);
    for table in TABLES {
        let (n, b) = store.kv().check_table(table).with_context(|| format!("table {table}"))?;
        writeln!(out, "{table:<18} {n:>12} rows {b:>14} bytes")?;
        rows += n;
        bytes += b;
    }
    tip_agrees(&store, &meta)?;
    let tip = meta.tip.map_or("none".to_owned(), |(h, _)| h.to_string());
    writeln!(out, "ok: {rows} rows, {bytes} bytes in {} tables, tip {tip}", TABLES.len())?;
    Ok(())
}

/// Checks that the tip `meta` names has its header row, of the same block, and that the tip
/// block's transactions end where `meta`'s next transaction number begins.
pub fn tip_agrees(store: &Store, meta: &Meta) -> anyhow::Result<()> {
    let Some((height, hash)) = meta.tip else { return Ok(()) };
    let header = store.header(height)?.with_context(|| format!("the tip {height} has no header row"))?;
    if header.hash != hash {
        bail!("the header row of the tip {height} is of another block than the meta row's");
    }
    if header.first_txnum + u64::from(header.tx_count) != meta.next_txnum {
        bail!("the tip block's transactions do not end where the meta row's next transaction number is");
    }
    sealed_agrees(store, meta)
}

/// Checks that the sealed mark falls on a block boundary: the segment files end where
/// the first unsealed block's transactions and scripts begin.
fn sealed_agrees(store: &Store, meta: &Meta) -> anyhow::Result<()> {
    let sealed = store.sealed()?;
    let next = match store.header(sealed.blocks)? {
        Some(header) => (header.first_txnum, header.first_scriptnum),
        None if Some(sealed.blocks) == meta.tip.map(|(h, _)| h + 1) => (meta.next_txnum, meta.next_scriptnum),
        None => bail!("the sealed mark covers {} blocks, past the indexed tip", sealed.blocks),
    };
    if next != (sealed.txs, sealed.scripts) {
        bail!(
            "the segment files end at transaction {} and script {}, but block {} starts at {} and {}",
            sealed.txs,
            sealed.scripts,
            sealed.blocks,
            next.0,
            next.1
        );
    }
    Ok(())
}
