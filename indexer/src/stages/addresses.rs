//! The addresses stage: each script's history (every output paying it, every input spending
//! from it) and its unspent outputs, derived from a block's [`BlockRows`].

use crate::stages::graph::BlockRows;
use crate::stages::{Stage, StageTables};
use crate::storage::journal::{Journal, Known};
use crate::storage::schema::*;
use crate::storage::store::StoreError;

pub const TABLES: StageTables = StageTables { writes: &[History::ID, Utxos::ID], reads: &[] };

pub struct AddressesStage;

impl Stage for AddressesStage {
    fn id(&self) -> StageId {
        StageId::Addresses
    }

    fn apply(&mut self, j: &mut Journal<'_>, rows: &BlockRows) -> Result<(), StoreError> {
        apply(j, rows)
    }
}

/// Writes the history and UTXO rows of one block.
fn apply(j: &mut Journal<'_>, rows: &BlockRows) -> Result<(), StoreError> {
    for tx in &rows.txs {
        // A BIP30 duplicate coinbase: the outputs it overwrote are gone, as in Core.
        for gone in &tx.overwritten {
            let key = UtxoKey { script: gone.script, txnum: gone.out.txnum, vout: gone.out.vout };
            j.set::<Utxos>(&key, None, Known::Was(Some(Sats(gone.value).encode())))?;
        }
        for (vin, input) in tx.inputs.iter().enumerate() {
            let event = HistoryKey { script: input.script, txnum: tx.num, kind: EventKind::Spent, index: vin as u32 };
            j.insert::<History>(&event, &Sats(input.value))?;
            let utxo = UtxoKey { script: input.script, txnum: input.prev.txnum, vout: input.prev.index };
            j.set::<Utxos>(&utxo, None, Known::Was(Some(Sats(input.value).encode())))?;
        }
        for (vout, out) in tx.outputs.iter().enumerate() {
            let OutScript::Num(script) = out.script else { continue };
            let event = HistoryKey { script, txnum: tx.num, kind: EventKind::Funded, index: vout as u32 };
            j.insert::<History>(&event, &Sats(out.value))?;
            j.insert::<Utxos>(&UtxoKey { script, txnum: tx.num, vout: vout as u32 }, &Sats(out.value))?;
        }
    }
    Ok(())
}
