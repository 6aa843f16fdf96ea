//! Adjacency reads: the spend edges leaving or entering one transaction, and whether it touches
//! given scripts. Straight from the store into caller-owned buffers; no strings.

use indexer::schema::{
    decode_io_key, history_seek_key, io_key, txnum_key, EventKind, HistoryKey, InputRow, IoRef, OutputRow, ScriptId,
    TxNum, CF_HISTORY, CF_INPUTS, CF_OUTPUTS, CF_SPENDS,
};
use indexer::store::{Store, StoreError};

use super::Edge;

/// Reads spend edges of the index.
pub struct Graph<'s> {
    store: &'s Store,
}

impl<'s> Graph<'s> {
    pub fn new(store: &'s Store) -> Self {
        Graph { store }
    }

    /// Appends an edge for each spent output of `num`, in output order. With `min_value`, each
    /// edge's value is read and smaller ones are skipped; with `None`, values are left at 0 and
    /// only the spend rows are read.
    pub fn out_edges(&self, num: TxNum, min_value: Option<u64>, out: &mut Vec<Edge>) -> Result<(), StoreError> {
        let start = out.len();
        self.spent_outputs(num, out)?;
        if let Some(min_value) = min_value {
            self.fill_values(num, &mut out[start..])?;
            keep_from(out, start, |e| e.value >= min_value);
        }
        Ok(())
    }

    /// Appends an edge for each spent output of `num`, in output order, with values left at 0.
    pub fn spent_outputs(&self, num: TxNum, out: &mut Vec<Edge>) -> Result<(), StoreError> {
        let prefix = txnum_key(num);
        for row in self.store.scan(CF_SPENDS, &prefix, &io_key(num, 0)) {
            let (key, value) = row?;
            let (_, vout) = decode_io_key(&key)?;
            let to = IoRef::decode(&value)?;
            out.push(Edge { from: num, vout, to: to.txnum, vin: to.index, value: 0 });
        }
        Ok(())
    }

    /// Sets the value of edges leaving `num`, given in output order, from its output rows.
    pub fn fill_values(&self, num: TxNum, edges: &mut [Edge]) -> Result<(), StoreError> {
        let Some(first) = edges.first().map(|e| e.vout) else { return Ok(()) };
        let prefix = txnum_key(num);
        // Both run in output order: walk them together.
        let mut pending = edges.iter_mut().peekable();
        for row in self.store.scan(CF_OUTPUTS, &prefix, &io_key(num, first)) {
            let (key, value) = row?;
            let (_, vout) = decode_io_key(&key)?;
            while pending.next_if(|e| e.vout < vout).is_some() {}
            let Some(edge) = pending.next_if(|e| e.vout == vout) else {
                if pending.peek().is_none() {
                    break;
                }
                continue;
            };
            edge.value = OutputRow::decode(&value)?.value;
        }
        Ok(())
    }

    /// Appends an edge for each input of `num` spending at least `min_value`, in input order.
    pub fn in_edges(&self, num: TxNum, min_value: u64, out: &mut Vec<Edge>) -> Result<(), StoreError> {
        let prefix = txnum_key(num);
        for row in self.store.scan(CF_INPUTS, &prefix, &io_key(num, 0)) {
            let (key, value) = row?;
            let (_, vin) = decode_io_key(&key)?;
            let input = InputRow::decode(&value)?;
            if input.value >= min_value {
                out.push(Edge { from: input.prev.txnum, vout: input.prev.index, to: num, vin, value: input.value });
            }
        }
        Ok(())
    }

    /// Whether tx `num` pays (`Funded`) or spends from (`Spent`) any of `scripts`.
    pub fn touches(&self, num: TxNum, kind: EventKind, scripts: &[ScriptId]) -> Result<bool, StoreError> {
        for script in scripts {
            // The seek key (script, txnum) is also the prefix of exactly this tx's events.
            let prefix = history_seek_key(script, num);
            for row in self.store.scan(CF_HISTORY, &prefix, &prefix) {
                let (key, _) = row?;
                if HistoryKey::decode(&key)?.kind == kind {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// Keeps the edges of `edges[start..]` that satisfy `keep`, in order.
pub fn keep_from(edges: &mut Vec<Edge>, start: usize, keep: impl Fn(&Edge) -> bool) {
    let mut kept = start;
    for i in start..edges.len() {
        if keep(&edges[i]) {
            edges[kept] = edges[i];
            kept += 1;
        }
    }
    edges.truncate(kept);
}
