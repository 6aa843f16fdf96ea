//! `query tx <txid>`: one transaction with its block, the outputs its inputs spent, what spent
//! each of its outputs, and what the heuristics make of it (CoinJoin, change output).

use std::collections::hash_map::{Entry, HashMap};

use indexer::heuristics::{change, coinjoin, TxShape};
use indexer::storage::schema::{OutScript, OutputEntry, OutputsRow, TxNum};
use indexer::storage::store::hex_hash;

use crate::chain::{Chain, Resolver};
use crate::cli::TxArgs;
use crate::error::{QueryError, Result, UsageError};
use crate::model::{Body, ChangeView, CoinJoinView, InputView, OutputView, Report, SpentBy, TxView};
use crate::target::{parse_tx_ref, TxRef};

/// What `query tx` is asked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxParams {
    /// 64 hex digits, as block explorers show it.
    pub txid: String,
}

impl From<&TxArgs> for TxParams {
    fn from(args: &TxArgs) -> Self {
        TxParams { txid: args.txid.clone() }
    }
}

#[derive(Debug)]
pub struct Request {
    txid: TxRef,
}

impl Request {
    pub fn prepare(params: &TxParams) -> Result<Request, UsageError> {
        Ok(Request { txid: parse_tx_ref(params.txid.trim())? })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        let txid = self.txid.resolve(chain)?;
        let nums = chain.txnums(&txid)?;
        let num = nums[0];
        let row = chain.tx_row(num)?;
        let mut resolver = Resolver::new(chain);
        let inputs = inputs(chain, num)?;
        let outputs = outputs(chain, num)?;
        let shape = TxShape::load(chain.store(), num)?;
        let coinjoin = if row.is_coinbase() { None } else { coinjoin::detect(&shape) };
        let change = if row.is_coinbase() { None } else { change::detect(&shape) };
        let input_sat: u64 = inputs.iter().map(|i| i.value_sat).sum();
        let output_sat: u64 = outputs.iter().map(|o| o.value_sat).sum();
        let duplicate_heights =
            nums[1..].iter().map(|&n| chain.tx_row(n).map(|r| r.height)).collect::<Result<Vec<_>>>()?;
        let mut notes = Vec::new();
        if !duplicate_heights.is_empty() {
            notes.push(format!(
                "txid {} also occurs at height(s) {:?} (BIP30 duplicate); showing the first",
                txid, duplicate_heights
            ));
        }
        let view = TxView {
            txid: hex_hash(&row.txid),
            height: row.height,
            block_hash: resolver.block(row.height)?.hash,
            time: resolver.time(row.height)?,
            position: row.position,
            coinbase: row.is_coinbase(),
            input_sat,
            output_sat,
            fee_sat: (!row.is_coinbase()).then(|| input_sat.saturating_sub(output_sat)),
            inputs,
            outputs,
            duplicate_heights,
            tags: chain.tx_tags(&row.txid)?,
            coinjoin: coinjoin.map(|c| CoinJoinView {
                kind: c.kind.name(),
                confidence: rounded(c.confidence),
                participants: c.participants,
                denomination_sat: c.denomination,
            }),
            change: change.map(|c| ChangeView {
                vout: c.vout,
                heuristics: c.heuristics.iter().map(|h| h.name()).collect(),
                confidence: rounded(c.confidence),
            }),
        };
        Ok(Report { body: Body::Tx(view), notes })
    }
}

/// A confidence with 4 decimals, as people read it.
fn rounded(confidence: f64) -> f64 {
    (confidence * 1e4).round() / 1e4
}

/// An output's script bytes.
fn script_of(chain: &Chain, entry: &OutputEntry) -> Result<Vec<u8>> {
    match &entry.script {
        OutScript::Num(n) => chain.script_bytes(*n),
        OutScript::Unspendable(bytes) => Ok(bytes.clone()),
    }
}

/// The inputs of `num` with the outputs they spent (none for a coinbase).
fn inputs(chain: &Chain, num: TxNum) -> Result<Vec<InputView>> {
    let store = chain.store();
    let mut prevs: HashMap<TxNum, (String, OutputsRow)> = HashMap::new();
    let mut views = Vec::new();
    for (vin, input) in store.inputs(num)? {
        let prev = input.prev;
        let (prev_txid, entries) = match prevs.entry(prev.txnum) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                let txid = hex_hash(&chain.tx_row(prev.txnum)?.txid);
                new.insert((txid, store.output_entries(prev.txnum)?.unwrap_or_default()))
            }
        };
        let entry = entries
            .0
            .get(prev.index as usize)
            .ok_or_else(|| QueryError::Corrupt(format!("input {vin} of tx number {num} spends a missing output")))?;
        let bytes = script_of(chain, entry)?;
        views.push(InputView {
            vin,
            prev_txid: prev_txid.clone(),
            prev_vout: prev.index,
            value_sat: input.value,
            address: chain.address_of(&bytes),
            script_hex: hex::encode(&bytes),
            tags: chain.script_tags(&bytes)?,
        });
    }
    Ok(views)
}

/// The outputs of `num`, each with the input that spent it, if any.
fn outputs(chain: &Chain, num: TxNum) -> Result<Vec<OutputView>> {
    let store = chain.store();
    let spends: HashMap<u32, _> = store.spends(num)?.into_iter().collect();
    let mut views = Vec::new();
    for (vout, entry) in store.output_entries(num)?.unwrap_or_default().0.iter().enumerate() {
        let vout = vout as u32;
        let spent_by = match spends.get(&vout) {
            Some(s) => {
                let spender = chain.tx_row(s.txnum)?;
                Some(SpentBy {
                    txid: hex_hash(&spender.txid),
                    vin: s.index,
                    height: spender.height,
                    time: chain.block_date(spender.height)?,
                })
            }
            None => None,
        };
        let bytes = script_of(chain, entry)?;
        views.push(OutputView {
            vout,
            value_sat: entry.value,
            address: chain.address_of(&bytes),
            script_hex: hex::encode(&bytes),
            tags: chain.script_tags(&bytes)?,
            spent_by,
        });
    }
    Ok(views)
}
