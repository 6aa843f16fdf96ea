//! `query address <address>`: balance and totals, first and last seen, its cluster, the other
//! scripts of its public key, unspent outputs, and one page of history with a cursor for the next.
//!
//! A key's P2PK, P2PKH and P2WPKH scripts are one owner's coins, so the unspent outputs and the
//! history also list those of the key's other scripts (each entry names its script); the
//! address's own totals stay its own, and `key_*` fields add the others.
//!
//! An address the chain has never seen is not an error: it has a zero balance and no history,
//! and a note says so.

use bitcoin::address::NetworkUnchecked;
use bitcoin::Address;
use indexer::heuristics::ScriptType;
use indexer::stages::clusters::read;
use indexer::storage::schema::{ScriptNum, TxNum};
use indexer::storage::store::{hex_hash, ScriptStats};

use super::history::{self, Cursor, Span};
use crate::chain::Chain;
use crate::cli::{AddressArgs, Format, DEFAULT_LIMIT, DEFAULT_MAX_UTXOS, HARD_MAX_UTXOS, MAX_LIMIT};
use crate::config::Settings;
use crate::error::{Result, UsageError};
use crate::model::{AddressView, Body, KeyScriptView, Report, UtxoView};
use crate::params::{self, exclusive, in_range, opt_in_range};
use crate::target::parse_address;

/// What `query address` is asked; the defaults are the command line's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressParams {
    pub address: String,
    /// History events per page: 1..=10000.
    #[serde(default = "default_limit")]
    pub limit: u64,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub from_height: Option<u32>,
    #[serde(default)]
    pub to_height: Option<u32>,
    /// Seconds since 1970, UTC; from text, the start of a date or a time.
    #[serde(default, deserialize_with = "params::date_start")]
    pub from_date: Option<i64>,
    /// Seconds since 1970, UTC; from text, the end of a date or a time.
    #[serde(default, deserialize_with = "params::date_end")]
    pub to_date: Option<i64>,
    /// Unspent outputs listed: 0..=1000000.
    #[serde(default)]
    pub max_utxos: Option<u64>,
}

fn default_limit() -> u64 {
    DEFAULT_LIMIT
}

impl AddressParams {
    /// The checks clap makes of the flags, for parameters built without it.
    pub fn validate(&self) -> Result<(), UsageError> {
        in_range("limit", self.limit, 1, MAX_LIMIT)?;
        opt_in_range("max_utxos", self.max_utxos, 0, HARD_MAX_UTXOS)?;
        exclusive(("from_height", self.from_height.is_some()), ("from_date", self.from_date.is_some()))?;
        exclusive(("to_height", self.to_height.is_some()), ("to_date", self.to_date.is_some()))
    }
}

impl From<&AddressArgs> for AddressParams {
    fn from(a: &AddressArgs) -> Self {
        AddressParams {
            address: a.address.clone(),
            limit: a.limit,
            after: a.after.clone(),
            from_height: a.from_height,
            to_height: a.to_height,
            from_date: a.from_date,
            to_date: a.to_date,
            max_utxos: a.max_utxos,
        }
    }
}

#[derive(Debug)]
pub struct Request {
    address: Address<NetworkUnchecked>,
    limit: usize,
    after: Option<Cursor>,
    max_utxos: usize,
    from: Bound,
    to: Bound,
}

/// One end of the history's range, as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    None,
    Height(u32),
    /// Seconds since 1970, UTC.
    Time(i64),
}

/// Unspent outputs a table lists when `--max-utxos` is not given: the history follows them.
const TABLE_MAX_UTXOS: u64 = 20;

/// The address's key's other scripts, with their totals.
struct Siblings {
    /// (number, hex) of each.
    scripts: Vec<(ScriptNum, String)>,
    views: Vec<KeyScriptView>,
    balance: u64,
    utxo_count: u32,
}

impl Request {
    pub fn prepare(args: &AddressParams, settings: &Settings) -> Result<Request, UsageError> {
        args.validate()?;
        let default_utxos = if settings.format == Format::Table { TABLE_MAX_UTXOS } else { DEFAULT_MAX_UTXOS };
        let bound = |height: Option<u32>, time: Option<i64>| match (height, time) {
            (Some(h), _) => Bound::Height(h),
            (None, Some(t)) => Bound::Time(t),
            (None, None) => Bound::None,
        };
        Ok(Request {
            address: parse_address(args.address.trim())?,
            limit: args.limit as usize,
            after: args.after.as_deref().map(Cursor::parse).transpose()?,
            max_utxos: usize::try_from(args.max_utxos.unwrap_or(default_utxos)).unwrap_or(usize::MAX),
            from: bound(args.from_height, args.from_date),
            to: bound(args.to_height, args.to_date),
        })
    }

    /// The heights the history is limited to, from the bounds given (dates by block time).
    fn heights(&self, chain: &Chain, notes: &mut Vec<String>) -> Result<(Option<u32>, Option<u32>)> {
        let from = match self.from {
            Bound::None => None,
            Bound::Height(h) => Some(h),
            Bound::Time(t) => match chain.heights_around(t)?.0 {
                Some(h) => Some(h),
                None => {
                    // No block at or after the date: the history starts past the tip, so it is empty.
                    notes.push(format!(
                        "no indexed block is as late as --from-date: the index ends at {}",
                        chain.tip_text()
                    ));
                    Some(chain.tip_height().map_or(0, |h| h + 1))
                }
            },
        };
        let to = match self.to {
            Bound::None => None,
            Bound::Height(h) => Some(h),
            Bound::Time(t) => match chain.heights_around(t)?.1 {
                Some(h) => Some(h),
                None => return Ok((Some(1), Some(0))),
            },
        };
        Ok((from, to))
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        let script = chain.address_script(&self.address)?;
        let num = chain.script_num(&script)?;
        let address = self.address.assume_checked_ref().to_string();
        let script_hex = hex::encode(script.as_bytes());
        let store = chain.store();
        let mut notes: Vec<String> = chain.addresses_note()?.into_iter().collect();
        let stats = match num.map(|n| store.script_stats(n)).transpose()?.flatten() {
            Some(stats) => stats,
            None => {
                notes.push(format!(
                    "address {address} has never been seen on the indexed chain (up to {})",
                    chain.tip_text()
                ));
                ScriptStats::default()
            }
        };
        let seen = stats.tx_count > 0;
        let siblings = siblings(chain, script.as_bytes())?;
        let mut scripts: Vec<(ScriptNum, String)> = num.map(|n| (n, script_hex.clone())).into_iter().collect();
        scripts.extend(siblings.scripts.iter().cloned());
        let key_utxo_count = stats.utxo_count + siblings.utxo_count;
        let utxos = self.utxos(chain, &scripts)?;
        if (utxos.len() as u64) < u64::from(key_utxo_count) {
            notes.push(format!(
                "listing {} of {key_utxo_count} unspent outputs (raise --max-utxos for more)",
                utxos.len()
            ));
        }
        let (from_height, to_height) = self.heights(chain, &mut notes)?;
        let span = Span::of_heights(chain, from_height, to_height)?;
        if from_height.zip(to_height).is_some_and(|(f, t)| f > t) {
            notes.push("the history range is empty: its start is after its end".into());
        }
        let (history, next_cursor) = history::page(chain, &scripts, self.after, self.limit, span)?;
        if let Some(cursor) = &next_cursor {
            notes.push(format!("more history: add --after {cursor}"));
        }
        let (cluster_id, cluster_size) = match (chain.clusters()?, num) {
            (Some(stage), Some(num)) => {
                notes.extend(stage.note);
                let cluster = read::cluster_of(store, num)?;
                (Some(chain.script_name(cluster.first)?), Some(cluster.size))
            }
            _ => (None, None),
        };
        let tags = chain.script_tags(script.as_bytes())?;
        let view = AddressView {
            address,
            script_hex,
            tags,
            balance_sat: stats.balance,
            received_sat: stats.received,
            sent_sat: stats.sent,
            tx_count: stats.tx_count,
            first_seen_height: seen.then_some(stats.first_height),
            first_seen_time: seen.then(|| chain.block_date(stats.first_height)).transpose()?,
            last_seen_height: seen.then_some(stats.last_height),
            last_seen_time: seen.then(|| chain.block_date(stats.last_height)).transpose()?,
            cluster_id,
            cluster_size,
            key_balance_sat: stats.balance + siblings.balance,
            key_scripts: siblings.views,
            utxo_count: stats.utxo_count,
            key_utxo_count,
            utxos_truncated: (utxos.len() as u64) < u64::from(key_utxo_count),
            utxos,
            history_from_height: from_height,
            history_to_height: to_height,
            history,
            next_cursor,
        };
        Ok(Report { body: Body::Address(view), notes })
    }

    /// The first `max_utxos` unspent outputs of `scripts`, in chain order.
    fn utxos(&self, chain: &Chain, scripts: &[(ScriptNum, String)]) -> Result<Vec<UtxoView>> {
        let mut listed: Vec<(TxNum, u32, u64, &str)> = Vec::new();
        for (script, hex) in scripts {
            let found = chain.store().utxos(*script, self.max_utxos)?;
            listed.extend(found.into_iter().map(|(txnum, vout, value)| (txnum, vout, value, hex.as_str())));
        }
        listed.sort_unstable();
        listed.truncate(self.max_utxos);
        listed
            .into_iter()
            .map(|(txnum, vout, value, hex)| {
                let row = chain.tx_row(txnum)?;
                Ok(UtxoView {
                    txid: hex_hash(&row.txid),
                    vout,
                    value_sat: value,
                    height: row.height,
                    time: chain.block_date(row.height)?,
                    script: hex.to_string(),
                })
            })
            .collect()
    }
}

/// The other scripts of the key behind `script` that the chain has paid.
fn siblings(chain: &Chain, script: &[u8]) -> Result<Siblings> {
    let store = chain.store();
    let mut found = Siblings { scripts: Vec::new(), views: Vec::new(), balance: 0, utxo_count: 0 };
    for num in read::key_siblings(store, script)? {
        let bytes = chain.script_bytes(num)?;
        let stats = store.script_stats(num)?.unwrap_or_default();
        let script_hex = hex::encode(&bytes);
        found.balance += stats.balance;
        found.utxo_count += stats.utxo_count;
        found.scripts.push((num, script_hex.clone()));
        found.views.push(KeyScriptView {
            script_type: ScriptType::of(&bytes).name(),
            address: chain.address_of(&bytes),
            script_hex,
            balance_sat: stats.balance,
            received_sat: stats.received,
        });
    }
    Ok(found)
}
