//! Pages of history merged from several scripts (an address and the other scripts of its key),
//! and the cursor that resumes them.
//!
//! Events sort by (tx number, kind, index): an output pays one script and an input spends from
//! one, so no two scripts share such a triple and a cursor `c<N>f<I>` / `c<N>s<I>` (tx number N,
//! an internal counter, then funded or spent and the index) names one event of the merged history
//! as exactly as of a single script's. A page may also be limited to a span of heights.

use indexer::storage::schema::{EventKind, HistoryKey, ScriptNum, TxNum};
use indexer::storage::store::hex_hash;

use crate::chain::{Chain, Resolver};
use crate::error::{Result, UsageError};
use crate::model::HistoryView;

/// Where a history page starts: after this event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub(crate) txnum: TxNum,
    pub(crate) kind: EventKind,
    pub(crate) index: u32,
}

/// The tx numbers a history is limited to: `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: TxNum,
    pub end: TxNum,
}

impl Span {
    #[cfg(test)]
    pub const ALL: Span = Span { start: 0, end: TxNum::MAX };

    /// The txs of the blocks `from..=to` (either end open when `None`).
    pub fn of_heights(chain: &Chain, from: Option<u32>, to: Option<u32>) -> Result<Span> {
        let tip = chain.tip_height();
        let first_of = |h: u32| -> Result<TxNum> { Ok(chain.header(h)?.first_txnum) };
        let start = match (from, tip) {
            (None, _) => 0,
            (Some(h), Some(tip)) if h <= tip => first_of(h)?,
            (Some(_), _) => TxNum::MAX,
        };
        let end = match (to, tip) {
            (None, _) => TxNum::MAX,
            (Some(h), Some(tip)) if h < tip => first_of(h + 1)?,
            (Some(_), _) => TxNum::MAX,
        };
        Ok(Span { start, end })
    }
}

impl Cursor {
    /// Parses `c<N>f<I>` or `c<N>s<I>`.
    pub fn parse(s: &str) -> Result<Cursor, UsageError> {
        let bad = || UsageError::Cursor(crate::cli::cut(s, 40));
        let body = s.strip_prefix('c').ok_or_else(bad)?;
        let at = body.find(['f', 's']).ok_or_else(bad)?;
        let kind = if body.as_bytes()[at] == b'f' { EventKind::Funded } else { EventKind::Spent };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let (txnum, index) = (&body[..at], &body[at + 1..]);
        if !digits(txnum) || !digits(index) {
            return Err(bad());
        }
        let txnum = txnum.parse().map_err(|_| bad())?;
        let index = index.parse().map_err(|_| bad())?;
        Ok(Cursor { txnum, kind, index })
    }

    pub fn of(key: &HistoryKey) -> String {
        let kind = match key.kind {
            EventKind::Funded => "f",
            EventKind::Spent => "s",
        };
        format!("c{}{kind}{}", key.txnum, key.index)
    }

    /// Where `script`'s events after the cursor (and within `span`) start, and an event to skip
    /// there (the cursor's own).
    fn start(cursor: Option<Cursor>, script: ScriptNum, span: Span) -> (HistoryKey, Option<HistoryKey>) {
        let first = HistoryKey::first_at(script, span.start);
        match cursor {
            Some(Cursor { txnum, kind, index }) if txnum >= span.start => {
                let key = HistoryKey { script, txnum, kind, index };
                (key, Some(key))
            }
            _ => (first, None),
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
    span: Span,
) -> Result<(Vec<HistoryView>, Option<String>)> {
    let mut events = Vec::new();
    if span.start >= span.end {
        return Ok((Vec::new(), None));
    }
    for &(script, _) in scripts {
        let (start, skip) = Cursor::start(after, script, span);
        let mut taken = 0;
        for event in chain.store().history_from(start) {
            let (key, value) = event?;
            if key.script != script || key.txnum >= span.end {
                break;
            }
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
    let mut resolver = Resolver::new(chain);
    for (key, value) in events {
        let row = chain.tx_row(key.txnum)?;
        views.push(HistoryView {
            txid: hex_hash(&row.txid),
            txnum: key.txnum,
            height: row.height,
            time: resolver.time(row.height)?,
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
        let c = Cursor::parse("c12s3").unwrap();
        assert_eq!(c, Cursor { txnum: 12, kind: EventKind::Spent, index: 3 });
        let key = HistoryKey { script: 0, txnum: 12, kind: EventKind::Spent, index: 3 };
        assert_eq!(Cursor::of(&key), "c12s3");
        assert_eq!(Cursor::parse(&Cursor::of(&key)).unwrap(), c);
        for bad in ["", "x", "12", "12:s:3", "c12", "c12x3", "cf3", "c12f", "c-1f2", "c1f2s3"] {
            assert!(matches!(Cursor::parse(bad), Err(UsageError::Cursor(_))), "{bad}");
        }
    }

    #[test]
    fn every_script_resumes_at_the_same_point_within_the_span() {
        let after = Some(Cursor { txnum: 9, kind: EventKind::Funded, index: 1 });
        let (start, skip) = Cursor::start(after, 4, Span::ALL);
        assert_eq!(start, HistoryKey { script: 4, txnum: 9, kind: EventKind::Funded, index: 1 });
        assert_eq!(skip, Some(start));
        let span = Span { start: 20, end: 30 };
        assert_eq!(Cursor::start(after, 4, span), (HistoryKey::first_at(4, 20), None));
        assert_eq!(Cursor::start(None, 4, span), (HistoryKey::first_at(4, 20), None));
    }
}
