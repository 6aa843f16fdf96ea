//! Adjacency reads: the spend edges leaving or entering one transaction, straight from the store
//! into caller-owned buffers; no strings.

use indexer::storage::schema::TxNum;
use indexer::storage::store::{SpendsCursor, Store, StoreError};

use super::Edge;

/// Reads spend edges of the index. Holds a cursor: make one per thread.
pub struct SpendEdges<'s> {
    store: &'s Store,
    spends: SpendsCursor<'s>,
}

impl<'s> SpendEdges<'s> {
    pub fn new(store: &'s Store) -> Self {
        SpendEdges { store, spends: store.spends_cursor() }
    }

    /// Appends an edge for each spent output of `num`, in output order. With `min_value`, each
    /// edge's value is read and smaller ones are skipped; with `None`, values are left at 0 and
    /// only the spend rows are read.
    pub fn out_edges(&mut self, num: TxNum, min_value: Option<u64>, out: &mut Vec<Edge>) -> Result<(), StoreError> {
        let start = out.len();
        self.spent_outputs(num, out)?;
        if let Some(min_value) = min_value {
            self.fill_values(num, &mut out[start..])?;
            keep_from(out, start, |e| e.value >= min_value);
        }
        Ok(())
    }

    /// Appends an edge for each spent output of `num`, in output order, with values left at 0.
    pub fn spent_outputs(&mut self, num: TxNum, out: &mut Vec<Edge>) -> Result<(), StoreError> {
        self.spends.for_each(num, |vout, to| out.push(Edge { from: num, vout, to: to.txnum, vin: to.index, value: 0 }))
    }

    /// Sets the value of edges leaving `num` from its outputs row (one read).
    pub fn fill_values(&self, num: TxNum, edges: &mut [Edge]) -> Result<(), StoreError> {
        if edges.is_empty() {
            return Ok(());
        }
        let outputs = self.store.output_entries(num)?.unwrap_or_default();
        for edge in edges {
            edge.value = outputs.0.get(edge.vout as usize).map(|o| o.value).unwrap_or(0);
        }
        Ok(())
    }

    /// Appends an edge for each input of `num` spending at least `min_value`, in input order.
    pub fn in_edges(&self, num: TxNum, min_value: u64, out: &mut Vec<Edge>) -> Result<(), StoreError> {
        for (vin, input) in self.store.inputs(num)? {
            if input.value >= min_value {
                out.push(Edge { from: input.prev.txnum, vout: input.prev.index, to: num, vin, value: input.value });
            }
        }
        Ok(())
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
