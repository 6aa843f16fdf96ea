//! Pages of history merged from several scripts (an address and the other scripts of its key),
//! and the cursor that resumes them.
//!
//! Events sort by (tx number, kind, index): an output pays one script and an input spends from
//! one, so no two scripts share such a triple and `N:f:I` / `N:s:I` names one event of the
//! merged history as exactly as of a single script's.

use indexer::schema::{EventKind, HistoryKey, ScriptNum, TxNum};
use indexer::store::hex_hash;

use crate::chain::Chain;
use crate::error::{Result, UsageError};
use crate::model::HistoryView;

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

    pub fn of(key: &HistoryKey) -> String {
        let kind = match key.kind {
            EventKind::Funded => "f",
            EventKind::Spent => "s",
        };
        format!("{}:{kind}:{}", key.txnum, key.index)
    }

    /// Where `script`'s events after the cursor start, and an event to skip there (the cursor's
    /// own); `None` when no event can follow.
    fn start(cursor: Option<Cursor>, script: ScriptNum) -> Option<(HistoryKey, Option<HistoryKey>)> {
        match cursor {
            None => Some((HistoryKey::first_at(script, 0), None)),
            Some(Cursor::AfterTx(n)) => Some((HistoryKey::first_at(script, n.checked_add(1)?), None)),
            Some(Cursor::AfterEvent { txnum, kind, index }) => {
                let key = HistoryKey { script, txnum, kind, index };
                Some((key, Some(key)))
            }
        }
    }
}

/// Where an event sits in the merged history.
fn order(key: &HistoryKey) -> (TxNum, EventKind, u32, ScriptNum) {
    (key.txnum, key.kind, key.index, key.script)
}

/// Up to `limit` events of `scripts` (number and hex) after the cursor, in chain order, and the
/// cursor of the next page.
pub fn page(
    chain: &Chain,
    scripts: &[(ScriptNum, String)],
    after: Option<Cursor>,
    limit: usize,
) -> Result<(Vec<HistoryView>, Option<String>)> {
    let mut events = Vec::new();
    for &(script, _) in scripts {
        let Some((start, skip)) = Cursor::start(after, script) else { continue };
        let mut taken = 0;
        for event in chain.store().history_from(start) {
            let (key, value) = event?;
            if skip == Some(key) {
                continue;
            }
            events.push((key, value));
            taken += 1;
            if taken > limit {
                break;
            }
        }
    }
    events.sort_unstable_by_key(|(key, _)| order(key));
    let more = events.len() > limit;
    events.truncate(limit);
    let next = if more { events.last().map(|(k, _)| Cursor::of(k)) } else { None };
    let hex_of = |script: ScriptNum| scripts.iter().find(|(s, _)| *s == script).map(|(_, h)| h.clone());
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
            script: hex_of(key.script).unwrap_or_default(),
            cursor: Cursor::of(&key),
        });
    }
    Ok((views, next))
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

    #[test]
    fn every_script_resumes_at_the_same_point() {
        let after = Some(Cursor::AfterEvent { txnum: 9, kind: EventKind::Funded, index: 1 });
        let (start, skip) = Cursor::start(after, 4).unwrap();
        assert_eq!(start, HistoryKey { script: 4, txnum: 9, kind: EventKind::Funded, index: 1 });
        assert_eq!(skip, Some(start));
        assert_eq!(Cursor::start(Some(Cursor::AfterTx(9)), 4).unwrap().0, HistoryKey::first_at(4, 10));
        assert_eq!(Cursor::start(Some(Cursor::AfterTx(u64::MAX)), 4), None);
    }
}
