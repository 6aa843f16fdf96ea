//! `query tx <txid>`: one transaction with its block, the outputs its inputs spent, and what
//! spent each of its outputs.

use std::collections::HashMap;

use bitcoin::Txid;
use indexer::schema::TxNum;
use indexer::store::hex_hash;

use crate::chain::{Chain, Resolver};
use crate::cli::TxArgs;
use crate::error::{QueryError, Result, UsageError};
use crate::model::{Body, InputView, OutputView, Report, SpentBy, TxView};
use crate::target::parse_txid;

#[derive(Debug)]
pub struct Request {
    txid: Txid,
}

impl Request {
    pub fn prepare(args: &TxArgs) -> Result<Request, UsageError> {
        Ok(Request { txid: parse_txid(args.txid.trim())? })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        let nums = chain.txnums(&self.txid)?;
        let num = nums[0];
        let row = chain.tx_row(num)?;
        let mut resolver = Resolver::new(chain);
        let inputs = inputs(chain, num)?;
        let outputs = outputs(chain, num)?;
        let input_sat: u64 = inputs.iter().map(|i| i.value_sat).sum();
        let output_sat: u64 = outputs.iter().map(|o| o.value_sat).sum();
        let duplicate_heights =
            nums[1..].iter().map(|&n| chain.tx_row(n).map(|r| r.height)).collect::<Result<Vec<_>>>()?;
        let mut notes = Vec::new();
        if !duplicate_heights.is_empty() {
            notes.push(format!(
                "txid {} also occurs at height(s) {:?} (BIP30 duplicate); showing the first",
                self.txid, duplicate_heights
            ));
        }
        let view = TxView {
            txid: hex_hash(&row.txid),
            height: row.height,
            block_hash: resolver.block_hash(row.height)?,
            position: row.position,
            coinbase: row.is_coinbase(),
            input_sat,
            output_sat,
            fee_sat: (!row.is_coinbase()).then(|| input_sat.saturating_sub(output_sat)),
            inputs,
            outputs,
            duplicate_heights,
        };
        Ok(Report { body: Body::Tx(view), notes })
    }
}

/// The inputs of `num` with the outputs they spent (none for a coinbase).
fn inputs(chain: &Chain, num: TxNum) -> Result<Vec<InputView>> {
    let store = chain.store();
    let mut txids: HashMap<TxNum, String> = HashMap::new();
    let mut views = Vec::new();
    for (vin, input) in store.inputs(num)? {
        let prev = input.prev;
        let prev_txid = match txids.get(&prev.txnum) {
            Some(t) => t.clone(),
            None => {
                let t = hex_hash(&chain.tx_row(prev.txnum)?.txid);
                txids.insert(prev.txnum, t.clone());
                t
            }
        };
        let spent = store
            .output(prev.txnum, prev.index)?
            .ok_or_else(|| QueryError::Corrupt(format!("input {vin} of tx number {num} spends a missing output")))?;
        views.push(InputView {
            vin,
            prev_txid,
            prev_vout: prev.index,
            value_sat: input.value,
            address: chain.address_of(&spent.script),
            script_hex: hex::encode(&spent.script),
        });
    }
    Ok(views)
}

/// The outputs of `num`, each with the input that spent it, if any.
fn outputs(chain: &Chain, num: TxNum) -> Result<Vec<OutputView>> {
    let store = chain.store();
    let spends: HashMap<u32, _> = store.spends(num)?.into_iter().collect();
    let mut views = Vec::new();
    for (vout, out) in store.outputs(num)? {
        let spent_by = match spends.get(&vout) {
            Some(s) => {
                let spender = chain.tx_row(s.txnum)?;
                Some(SpentBy { txid: hex_hash(&spender.txid), vin: s.index, height: spender.height })
            }
            None => None,
        };
        views.push(OutputView {
            vout,
            value_sat: out.value,
            address: chain.address_of(&out.script),
            script_hex: hex::encode(&out.script),
            spent_by,
        });
    }
    Ok(views)
}
