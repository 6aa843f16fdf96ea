//! What a case file carries besides its answer, gathered from what the command read while it
//! answered (see [`indexer::storage::store::Reads`]): every output of each transaction whose
//! outputs (or their spenders) it read, the output each input it read spent, every event of each
//! history it read, each with what spent it as of the tip; the scripts it looked up by address;
//! the clusters it looked up with the member whose tag names each; the tags of all of them; and
//! how far the derived stages were built. The answer is a function of these alone, which is what
//! `query verify` checks.

use std::collections::{BTreeMap, BTreeSet};

use indexer::stages::clusters::read;
use indexer::storage::schema::{EventKind, HistoryKey, IoRef, OutScript, ScriptNum, StageId, TxNum};
use indexer::storage::store::{hex_hash, Reads};

use super::{BlockRef, ClusterUsed, Hop, IndexState, Spend, TaggedAddress, TaggedTx};
use crate::chain::{script_label, Chain, Resolver};
use crate::cmd::exposure::best_member;
use crate::error::{QueryError, Result};

/// The evidence of an answer, and the times of the blocks it names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evidence {
    pub hops: Vec<Hop>,
    pub scripts_used: Vec<String>,
    pub clusters_used: Vec<ClusterUsed>,
    pub tags_used: Vec<TaggedAddress>,
    pub tx_tags_used: Vec<TaggedTx>,
    pub index: IndexState,
    /// The UTC time (ISO 8601) of every block a hop or its spender is in, by height.
    pub times: BTreeMap<u32, String>,
}

/// Gathers the evidence of what `reads` says the command read.
pub fn gather(chain: &Chain, reads: &Reads) -> Result<Evidence> {
    let outpoints = outpoints(chain, reads)?;
    let mut resolver = Resolver::new(chain);
    let mut evidence = Evidence::default();
    let mut scripts: BTreeSet<ScriptNum> = BTreeSet::new();
    let mut txs: BTreeSet<TxNum> = BTreeSet::new();
    // The transaction whose outputs are being listed (they come in order): its outputs row,
    // txid and block.
    let mut last: Option<(TxNum, indexer::storage::schema::OutputsRow, String, BlockRef)> = None;
    for (&(num, vout), spent) in &outpoints {
        if last.as_ref().map(|l| l.0) != Some(num) {
            let row = chain.store().output_entries(num)?.unwrap_or_default();
            let (txid, block) = tx_block(chain, &mut resolver, &mut evidence.times, num)?;
            last = Some((num, row, txid, block));
        }
        let (_, row, txid, block) = last.as_ref().expect("set just above");
        let entry = row.0.get(vout as usize).cloned().ok_or_else(|| {
            QueryError::Corrupt(format!("transaction number {num} has no output {vout} in the index"))
        })?;
        let script = match &entry.script {
            OutScript::Num(s) => {
                scripts.insert(*s);
                chain.script_bytes(*s)?
            }
            OutScript::Unspendable(bytes) => bytes.clone(),
        };
        txs.insert(num);
        let spent_by = match spent {
            Some(by) => {
                txs.insert(by.txnum);
                let (txid, block) = tx_block(chain, &mut resolver, &mut evidence.times, by.txnum)?;
                Some(Spend { txid, vin: by.index, block })
            }
            None => None,
        };
        evidence.hops.push(Hop {
            txid: txid.clone(),
            block: block.clone(),
            vout: Some(vout),
            value_sat: Some(entry.value),
            address: chain.address_of(&script),
            script_hex: Some(hex::encode(&script)),
            spent_by,
        });
    }
    for &num in &reads.scripts {
        scripts.insert(num);
        evidence.scripts_used.push(hex::encode(chain.script_bytes(num)?));
    }
    evidence.clusters_used = clusters(chain, reads, &mut scripts)?;
    if let Some(tags) = chain.tags() {
        for &num in &scripts {
            let bytes = chain.script_bytes(num)?;
            let found = tags.of_script(&bytes)?;
            if !found.is_empty() {
                let address = chain.address_of(&bytes).unwrap_or_else(|| script_label(&bytes));
                evidence.tags_used.push(TaggedAddress { address, script_hex: hex::encode(&bytes), tags: found });
            }
        }
        for &num in &txs {
            let txid = chain.tx_row(num)?.txid;
            let found = tags.of_tx(&txid)?;
            if !found.is_empty() {
                evidence.tx_tags_used.push(TaggedTx { txid: hex_hash(&txid), tags: found });
            }
        }
    }
    evidence.index = index_state(chain)?;
    Ok(evidence)
}

/// Every output the reads name, with what spent it: all outputs of the transactions whose
/// outputs were read, the outputs read inputs spent, and each read history's outputs and spends.
fn outpoints(chain: &Chain, reads: &Reads) -> Result<BTreeMap<(TxNum, u32), Option<IoRef>>> {
    let store = chain.store();
    let mut found: BTreeMap<(TxNum, u32), Option<IoRef>> = BTreeMap::new();
    let all_outputs = |num: TxNum, found: &mut BTreeMap<(TxNum, u32), Option<IoRef>>| -> Result<()> {
        let count = store.output_entries(num)?.map_or(0, |row| row.0.len());
        let spends: BTreeMap<u32, IoRef> = store.spends(num)?.into_iter().collect();
        for vout in 0..count as u32 {
            found.insert((num, vout), spends.get(&vout).copied());
        }
        Ok(())
    };
    for &num in &reads.outputs {
        all_outputs(num, &mut found)?;
    }
    for &num in &reads.inputs {
        for (vin, input) in store.inputs(num)? {
            found.insert((input.prev.txnum, input.prev.index), Some(IoRef { txnum: num, index: vin }));
        }
    }
    for &script in &reads.histories {
        for event in store.history_from(HistoryKey::first_at(script, 0)) {
            let (key, _) = event?;
            match key.kind {
                EventKind::Funded => {
                    let spent = store.spend(key.txnum, key.index)?;
                    found.insert((key.txnum, key.index), spent);
                }
                EventKind::Spent => {
                    let inputs = store.inputs(key.txnum)?;
                    if let Some((_, input)) = inputs.into_iter().find(|(vin, _)| *vin == key.index) {
                        found.insert(
                            (input.prev.txnum, input.prev.index),
                            Some(IoRef { txnum: key.txnum, index: key.index }),
                        );
                    }
                }
            }
        }
    }
    Ok(found)
}

/// The txid and block of a transaction, noting the block's time.
fn tx_block(
    chain: &Chain,
    resolver: &mut Resolver,
    times: &mut BTreeMap<u32, String>,
    num: TxNum,
) -> Result<(String, BlockRef)> {
    let row = chain.tx_row(num)?;
    let block = resolver.block(row.height)?;
    times.insert(row.height, block.time);
    Ok((hex_hash(&row.txid), BlockRef { height: row.height, hash: block.hash }))
}

/// The clusters looked up, each with the scripts looked up in it and, where its members were
/// listed, the member whose tag names it. Adds the scripts named to `scripts`.
fn clusters(chain: &Chain, reads: &Reads, scripts: &mut BTreeSet<ScriptNum>) -> Result<Vec<ClusterUsed>> {
    let mut by_root: BTreeMap<ScriptNum, (read::Cluster, Vec<ScriptNum>)> = BTreeMap::new();
    for &script in &reads.clusters {
        let cluster = read::cluster_of(chain.store(), script)?;
        by_root.entry(cluster.root).or_insert((cluster, Vec::new())).1.push(script);
    }
    let mut used = Vec::with_capacity(by_root.len());
    for (root, (cluster, looked_up)) in by_root {
        let tagged = match (chain.tags(), reads.members.contains(&root)) {
            (Some(tags), true) => best_member(chain, tags, root)?.map(|(member, _)| member),
            _ => None,
        };
        scripts.extend(looked_up.iter().copied().chain(tagged).chain([cluster.first]));
        let first = chain.script_bytes(cluster.first)?;
        used.push(ClusterUsed {
            cluster_id: chain.address_of(&first).unwrap_or_else(|| script_label(&first)),
            first_script_hex: hex::encode(&first),
            size: cluster.size,
            scripts: looked_up.iter().map(|&s| chain.script_bytes(s).map(hex::encode)).collect::<Result<_>>()?,
            tagged_member: tagged.map(|m| chain.script_bytes(m).map(hex::encode)).transpose()?,
        });
    }
    Ok(used)
}

/// How far the derived stages were built.
fn index_state(chain: &Chain) -> Result<IndexState> {
    let at = |stage| -> Result<Option<BlockRef>> {
        Ok(chain.store().checkpoint(stage)?.map(|c| BlockRef { height: c.height, hash: hex_hash(&c.hash) }))
    };
    let heuristics = read::state(chain.store())?.map(|s| (s.version, s.change));
    Ok(IndexState {
        addresses: at(StageId::Addresses)?,
        clusters: at(StageId::Clusters)?,
        cluster_heuristics: heuristics,
        tags: chain.tags().is_some(),
    })
}
