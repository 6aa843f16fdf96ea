//! `query address <address>`: balance and totals, first and last seen, unspent outputs, and one
//! page of history with a cursor for the next.
//!
//! An address the chain has never seen is not an error: it has a zero balance and no history,
//! and a note says so.

use bitcoin::address::NetworkUnchecked;
use bitcoin::Address;
use indexer::schema::{EventKind, HistoryKey, ScriptNum, TxNum};
use indexer::store::{hex_hash, ScriptStats};

use crate::chain::Chain;
use crate::cli::AddressArgs;
use crate::error::{Result, UsageError};
use crate::model::{AddressView, Body, HistoryView, Report, UtxoView};
use crate::target::parse_address;

/// Where a history page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// After every event of this tx number.
    AfterTx(TxNum),
    /// After this event.
    AfterEvent { txnum: TxNum, kind: EventKind, index: u32 },
}

impl Cursor {
    /// Parses `N` or `N:f:I` / `N:s:I`.
    pub fn parse(s: &str) -> Result<Cursor, UsageError> {
        let bad = || UsageError::Cursor(s.into());
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            [n] => Ok(Cursor::AfterTx(n.parse().map_err(|_| bad())?)),
            [n, kind, index] => Ok(Cursor::AfterEvent {
                txnum: n.parse().map_err(|_| bad())?,
                kind: match *kind {
                    "f" => EventKind::Funded,
                    "s" => EventKind::Spent,
                    _ => return Err(bad()),
                },
                index: index.parse().map_err(|_| bad())?,
            }),
            _ => Err(bad()),
        }
    }

    fn of(key: &HistoryKey) -> String {
        let kind = match key.kind {
            EventKind::Funded => "f",
            EventKind::Spent => "s",
        };
        format!("{}:{kind}:{}", key.txnum, key.index)
    }
}

#[derive(Debug)]
pub struct Request {
    address: Address<NetworkUnchecked>,
    limit: usize,
    after: Option<Cursor>,
    max_utxos: usize,
}

impl Request {
    pub fn prepare(args: &AddressArgs) -> Result<Request, UsageError> {
        Ok(Request {
            address: parse_address(args.address.trim())?,
            limit: args.limit as usize,
            after: args.after.as_deref().map(Cursor::parse).transpose()?,
            max_utxos: usize::try_from(args.max_utxos).unwrap_or(usize::MAX),
        })
    }

    pub fn run(&self, chain: &Chain) -> Result<Report> {
        let script = chain.address_script(&self.address)?;
        let num = chain.script_num(&script)?;
        let address = self.address.assume_checked_ref().to_string();
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
        let utxo_count = stats.utxo_count;
        let listed = match num {
            Some(n) => store.utxos(n, self.max_utxos)?,
            None => Vec::new(),
        };
        let utxos = listed
            .into_iter()
            .map(|(txnum, vout, value)| {
                let row = chain.tx_row(txnum)?;
                Ok(UtxoView { txid: hex_hash(&row.txid), vout, value_sat: value, height: row.height })
            })
            .collect::<Result<Vec<_>>>()?;
        if (utxos.len() as u64) < u64::from(utxo_count) {
            notes.push(format!("listing {} of {utxo_count} unspent outputs (raise --max-utxos for more)", utxos.len()));
        }
        let (history, next_cursor) = match num {
            Some(n) => self.history_page(chain, n)?,
            None => (Vec::new(), None),
        };
        if let Some(cursor) = &next_cursor {
            notes.push(format!("more history: add --after {cursor}"));
        }
        let view = AddressView {
            address,
            script_hex: hex::encode(script.as_bytes()),
            balance_sat: stats.balance,
            received_sat: stats.received,
            sent_sat: stats.sent,
            tx_count: stats.tx_count,
            first_seen_height: seen.then_some(stats.first_height),
            last_seen_height: seen.then_some(stats.last_height),
            utxo_count,
            utxos_truncated: (utxos.len() as u64) < u64::from(utxo_count),
            utxos,
            history,
            next_cursor,
        };
        Ok(Report { body: Body::Address(view), notes })
    }

    /// Up to `limit` history events after the cursor, and the cursor of the next page.
    fn history_page(&self, chain: &Chain, script: ScriptNum) -> Result<(Vec<HistoryView>, Option<String>)> {
        let (start, skip) = match self.after {
            None => (HistoryKey::first_at(script, 0), None),
            Some(Cursor::AfterTx(n)) => match n.checked_add(1) {
                Some(next) => (HistoryKey::first_at(script, next), None),
                None => return Ok((Vec::new(), None)),
            },
            Some(Cursor::AfterEvent { txnum, kind, index }) => {
                let key = HistoryKey { script, txnum, kind, index };
                (key, Some(key))
            }
        };
        let mut events = Vec::with_capacity(self.limit + 1);
        for event in chain.store().history_from(start) {
            let (key, value) = event?;
            if skip == Some(key) {
                continue;
            }
            events.push((key, value));
            if events.len() > self.limit {
                break;
            }
        }
        let more = events.len() > self.limit;
        events.truncate(self.limit);
        let next = if more { events.last().map(|(k, _)| Cursor::of(k)) } else { None };
        let mut views = Vec::with_capacity(events.len());
        for (key, value) in events {
            let row = chain.tx_row(key.txnum)?;
            views.push(HistoryView {
                txid: hex_hash(&row.txid),
                txnum: key.txnum,
                height: row.height,
                kind: match key.kind {
                    EventKind::Funded => "funded",
                    EventKind::Spent => "spent",
                },
                index: key.index,
                value_sat: value,
                cursor: Cursor::of(&key),
            });
        }
        Ok((views, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_and_print_the_same_way() {
        assert_eq!(Cursor::parse("12").unwrap(), Cursor::AfterTx(12));
        let c = Cursor::parse("12:s:3").unwrap();
        assert_eq!(c, Cursor::AfterEvent { txnum: 12, kind: EventKind::Spent, index: 3 });
        let key = HistoryKey { script: 0, txnum: 12, kind: EventKind::Spent, index: 3 };
        assert_eq!(Cursor::of(&key), "12:s:3");
        for bad in ["", "x", "1:x:2", "1:f", "1:f:2:3", "-1"] {
            assert!(matches!(Cursor::parse(bad), Err(UsageError::Cursor(_))), "{bad}");
        }
    }
}
