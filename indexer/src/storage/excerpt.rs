//! An excerpt of the index: a small database, in the index's own layout, holding only given
//! transactions (with the outputs they pay, the inputs that spent them and the inputs they
//! spend), their blocks' headers, and given clusters, so that a query can run on it as on the
//! whole index. `query verify` builds one from a node's copies of what a case file names, and
//! computes the case's answer again on it.
//!
//! Numbers keep the order they have in the index: transactions are numbered in chain order;
//! scripts in order of first appearance among the excerpt's outputs, then the others named.

use std::collections::HashMap;
use std::path::Path;

use crate::storage::kv::{RawWrite, StoreError, WriteMode};
use crate::storage::schema::*;
use crate::storage::store::{Result, Store};

/// What an excerpt holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Excerpt {
    /// Bitcoin Core's chain name.
    pub network: String,
    pub genesis: [u8; 32],
    /// The tip the excerpt stands for: height and hash (internal byte order).
    pub tip: (u32, [u8; 32]),
    /// Every block a transaction is in, and the tip's.
    pub blocks: Vec<ExcerptBlock>,
    /// In chain order: by height, then position in the block.
    pub txs: Vec<ExcerptTx>,
    /// Scripts named besides the outputs' (looked up by an address, or in a cluster).
    pub scripts: Vec<Vec<u8>>,
    pub clusters: Vec<ExcerptCluster>,
    /// The clusters stage's state, when the index had one.
    pub cluster_state: Option<ClusterState>,
    /// Checkpoints of the derived stages.
    pub stages: Vec<(StageId, Checkpoint)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcerptBlock {
    pub height: u32,
    /// Internal byte order.
    pub hash: [u8; 32],
    pub header: [u8; 80],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcerptTx {
    /// Internal byte order.
    pub txid: [u8; 32],
    pub height: u32,
    pub position: u32,
    /// Every output: value and script.
    pub outputs: Vec<(u64, Vec<u8>)>,
    /// Every input, when known (none for a coinbase); `None` leaves the transaction without an
    /// inputs row.
    pub inputs: Option<Vec<ExcerptInput>>,
    /// What spent its outputs: (output, spending transaction's index in [`Excerpt::txs`], input).
    /// An output not listed is unspent.
    pub spent: Vec<(u32, usize, u32)>,
}

/// An input: the output it spends, by the index of its transaction in [`Excerpt::txs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExcerptInput {
    pub prev: usize,
    pub vout: u32,
    pub value: u64,
}

/// A cluster: its root's script and the other member scripts the excerpt names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcerptCluster {
    pub root: Vec<u8>,
    pub members: Vec<Vec<u8>>,
    /// Its size in the index.
    pub size: u64,
    /// Its earliest script (the stable id).
    pub first: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExcerptError {
    #[error("transaction {0} is listed out of chain order")]
    Order(usize),
    #[error("transaction {tx} spends transaction {prev}, which is not earlier")]
    Spends { tx: usize, prev: usize },
    #[error("transaction {0} names a transaction the excerpt does not hold")]
    Missing(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Excerpt {
    /// Writes the excerpt into `path`, a new or empty directory, and opens it.
    pub fn write(&self, path: &Path, cache_bytes: usize) -> Result<Store, ExcerptError> {
        let writes = self.rows()?;
        let store = Store::open_writable(path, cache_bytes)?;
        store.kv().write(&writes, WriteMode::Tip)?;
        Ok(store)
    }

    /// Every row of the excerpt.
    fn rows(&self) -> Result<Vec<RawWrite>, ExcerptError> {
        let mut w = Writes::default();
        for (i, pair) in self.txs.windows(2).enumerate() {
            if (pair[0].height, pair[0].position) >= (pair[1].height, pair[1].position) {
                return Err(ExcerptError::Order(i + 1));
            }
        }
        for tx in &self.txs {
            for (_, script) in &tx.outputs {
                w.script(script);
            }
        }
        for script in self.scripts.iter().chain(self.clusters.iter().flat_map(|c| c.members.iter())) {
            w.script(script);
        }
        for c in &self.clusters {
            w.script(&c.root);
            w.script(&c.first);
        }
        for block in &self.blocks {
            let mut at = self.txs.iter().enumerate().filter(|(_, t)| t.height == block.height);
            let first = at.next().map_or(0, |(i, _)| i as TxNum);
            let row = HeaderRow {
                hash: block.hash,
                header: block.header,
                first_txnum: first,
                tx_count: 1 + at.count() as u32,
                size: 0,
                first_scriptnum: 0,
            };
            w.put::<Headers>(&block.height, &row);
            w.put::<BlockHeights>(&BlockHashKey(block.hash), &block.height);
        }
        for (num, tx) in self.txs.iter().enumerate() {
            self.tx_rows(&mut w, num, tx)?;
        }
        for c in &self.clusters {
            let root = w.scripts[&c.root];
            for member in &c.members {
                let m = w.scripts[member];
                if m != root {
                    w.put::<ClusterParents>(&m, &root);
                    w.put::<ClusterChildren>(&ScriptPair(root, m), &Empty);
                }
            }
            w.put::<Clusters>(&root, &ClusterRow { size: c.size, first: w.scripts[&c.first] });
            w.put::<ClusterSizes>(&SizeKey { size: c.size, root }, &Empty);
        }
        if let Some(state) = &self.cluster_state {
            w.put::<ClusterStates>(&StageId::Clusters, state);
        }
        for (stage, checkpoint) in &self.stages {
            w.put::<Stages>(stage, checkpoint);
        }
        let meta = Meta {
            schema_version: SCHEMA_VERSION,
            network: self.network.clone(),
            genesis_hash: self.genesis,
            tip: Some(self.tip),
            next_txnum: self.txs.len() as TxNum,
            next_scriptnum: w.order.len() as ScriptNum,
        };
        w.put::<MetaTable>(&MetaKey, &meta);
        let scripts = std::mem::take(&mut w.order);
        for (num, script) in scripts.into_iter().enumerate() {
            let num = num as ScriptNum;
            w.put::<ScriptIds>(&PrefixKey { prefix: PrefixKey::of_script(&script), num }, &Empty);
            w.put::<Scripts>(&num, &ScriptBytes(script));
        }
        Ok(w.rows)
    }

    /// The rows of one transaction: its own, its outputs', its inputs', its spends' and its
    /// scripts' history.
    fn tx_rows(&self, w: &mut Writes, num: usize, tx: &ExcerptTx) -> Result<(), ExcerptError> {
        let txnum = num as TxNum;
        w.put::<Txs>(&txnum, &TxRow { txid: tx.txid, height: tx.height, position: tx.position });
        w.put::<Txids>(&PrefixKey { prefix: PrefixKey::of_txid(&tx.txid), num: txnum }, &Empty);
        let mut entries = Vec::with_capacity(tx.outputs.len());
        for (vout, (value, script)) in tx.outputs.iter().enumerate() {
            let vout = vout as u32;
            if is_unspendable(script) {
                entries.push(OutputEntry { value: *value, script: OutScript::Unspendable(script.clone()) });
                continue;
            }
            let s = w.scripts[script];
            entries.push(OutputEntry { value: *value, script: OutScript::Num(s) });
            w.put::<History>(&HistoryKey { script: s, txnum, kind: EventKind::Funded, index: vout }, &Sats(*value));
            match tx.spent.iter().find(|(v, _, _)| *v == vout) {
                Some(&(_, by, vin)) => {
                    let by_num = by as TxNum;
                    if by >= self.txs.len() {
                        return Err(ExcerptError::Missing(num));
                    }
                    w.put::<Spends>(&OutKey { txnum, vout }, &IoRef { txnum: by_num, index: vin });
                    let key = HistoryKey { script: s, txnum: by_num, kind: EventKind::Spent, index: vin };
                    w.put::<History>(&key, &Sats(*value));
                }
                None => w.put::<Utxos>(&UtxoKey { script: s, txnum, vout }, &Sats(*value)),
            }
        }
        w.put::<Outputs>(&txnum, &OutputsRow(entries));
        if let Some(inputs) = &tx.inputs {
            let mut rows = Vec::with_capacity(inputs.len());
            for input in inputs {
                if input.prev >= num {
                    return Err(ExcerptError::Spends { tx: num, prev: input.prev });
                }
                rows.push(InputRow {
                    prev: IoRef { txnum: input.prev as TxNum, index: input.vout },
                    value: input.value,
                });
            }
            if !rows.is_empty() {
                w.put::<Inputs>(&txnum, &InputsRow::of(txnum, &rows));
            }
        }
        Ok(())
    }
}

/// The rows being built, and the scripts numbered so far.
#[derive(Default)]
struct Writes {
    rows: Vec<RawWrite>,
    scripts: HashMap<Vec<u8>, ScriptNum>,
    order: Vec<Vec<u8>>,
}

impl Writes {
    fn put<T: Table>(&mut self, key: &T::Key, value: &T::Value) {
        self.rows.push((T::ID, key.encode(), Some(value.encode())));
    }

    /// Numbers a script the first time it is named (OP_RETURN scripts are never numbered).
    fn script(&mut self, script: &[u8]) {
        if is_unspendable(script) || self.scripts.contains_key(script) {
            return;
        }
        self.scripts.insert(script.to_vec(), self.order.len() as ScriptNum);
        self.order.push(script.to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(height: u32, position: u32, outputs: &[(u64, u8)], inputs: Option<Vec<ExcerptInput>>) -> ExcerptTx {
        ExcerptTx {
            txid: [height as u8 * 16 + position as u8; 32],
            height,
            position,
            outputs: outputs.iter().map(|&(v, s)| (v, vec![0x51, s])).collect(),
            inputs,
            spent: Vec::new(),
        }
    }

    #[test]
    fn an_excerpt_reads_back_as_the_index_would() {
        let dir = tempfile::tempdir().unwrap();
        let mut coinbase = tx(1, 0, &[(5000, 1)], Some(Vec::new()));
        coinbase.spent.push((0, 1, 0));
        let spender = tx(2, 3, &[(3000, 2), (1900, 1)], Some(vec![ExcerptInput { prev: 0, vout: 0, value: 5000 }]));
        let excerpt = Excerpt {
            network: "regtest".into(),
            genesis: [9; 32],
            tip: (2, [2; 32]),
            blocks: vec![
                ExcerptBlock { height: 1, hash: [1; 32], header: [0; 80] },
                ExcerptBlock { height: 2, hash: [2; 32], header: [0; 80] },
            ],
            txs: vec![coinbase, spender],
            scripts: vec![vec![0x51, 7]],
            ..Excerpt::default()
        };
        let store = excerpt.write(dir.path(), 8 << 20).unwrap();
        assert_eq!(store.txnums(&[0x20 + 3; 32]).unwrap(), vec![1]);
        assert_eq!(store.tx(1).unwrap().unwrap().position, 3);
        let inputs = store.inputs(1).unwrap();
        assert_eq!(inputs[0].1, InputRow { prev: IoRef { txnum: 0, index: 0 }, value: 5000 });
        assert_eq!(store.spend(0, 0).unwrap(), Some(IoRef { txnum: 1, index: 0 }));
        // Scripts numbered by first appearance; the looked-up one after the outputs'.
        assert_eq!(store.script_num(&[0x51, 1]).unwrap(), Some(0));
        assert_eq!(store.script_num(&[0x51, 7]).unwrap(), Some(2));
        let stats = store.script_stats(0).unwrap().unwrap();
        assert_eq!((stats.received, stats.sent, stats.balance), (6900, 5000, 1900));
        assert_eq!(store.meta().unwrap().unwrap().tip, Some((2, [2; 32])));
    }

    #[test]
    fn txids_are_found_by_the_start_they_are_shown_with() {
        let dir = tempfile::tempdir().unwrap();
        // Shown, a txid is its internal bytes reversed: these three start ab12…, ab12… and ab13….
        let shown = |start: [u8; 3], fill: u8| {
            let mut txid = [fill; 32];
            txid[31] = start[0];
            txid[30] = start[1];
            txid[29] = start[2];
            txid
        };
        let mut txs =
            vec![tx(1, 0, &[(10, 1)], Some(Vec::new())), tx(1, 1, &[(10, 1)], None), tx(1, 2, &[(10, 1)], None)];
        txs[0].txid = shown([0xab, 0x12, 0x01], 1);
        txs[1].txid = shown([0xab, 0x12, 0x02], 2);
        txs[2].txid = shown([0xab, 0x13, 0x01], 3);
        let excerpt = Excerpt {
            network: "regtest".into(),
            tip: (1, [1; 32]),
            blocks: vec![ExcerptBlock { height: 1, hash: [1; 32], header: [0; 80] }],
            txs,
            ..Excerpt::default()
        };
        let store = excerpt.write(dir.path(), 8 << 20).unwrap();
        let nums = |start: &[u8], limit| -> Vec<TxNum> {
            store.txs_shown_from(start, limit).unwrap().into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(nums(&[0xab, 0x12], 10), vec![0, 1]);
        assert_eq!(nums(&[0xab, 0x12], 1), vec![0]);
        assert_eq!(nums(&[0xab, 0x13, 0x01], 10), vec![2]);
        assert_eq!(nums(&[0xab], 10), vec![0, 1, 2]);
        assert!(nums(&[0xac], 10).is_empty());
        // Past the 8 bytes the key holds, the txid itself is compared.
        let mut long = vec![0xab, 0x12, 0x02];
        long.extend([2; 8]);
        assert_eq!(nums(&long, 10), vec![1]);
        long[10] = 9;
        assert!(nums(&long, 10).is_empty());
    }

    #[test]
    fn transactions_out_of_order_or_spending_later_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut excerpt = Excerpt { txs: vec![tx(2, 0, &[], None), tx(1, 0, &[], None)], ..Excerpt::default() };
        assert!(matches!(excerpt.write(dir.path(), 8 << 20), Err(ExcerptError::Order(1))));
        excerpt.txs = vec![tx(1, 0, &[], Some(vec![ExcerptInput { prev: 1, vout: 0, value: 1 }])), tx(2, 0, &[], None)];
        assert!(matches!(excerpt.rows(), Err(ExcerptError::Spends { tx: 0, prev: 1 })));
    }
}
