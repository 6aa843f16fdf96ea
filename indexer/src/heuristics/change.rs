//! Change detection: which output of a transaction returns the rest to the sender. Each
//! [`Heuristic`] picks at most one output ([`picks`]); [`detect`] combines the picks into one
//! answer with a confidence. `docs/heuristics.md` explains every heuristic and its thresholds.

use super::{coinjoin, ScriptType, TxShape};
use crate::storage::schema::ScriptNum;

/// An amount is round when it is a multiple of this many sat (0.0001 BTC).
pub const ROUND_UNIT: u64 = 10_000;
/// Two vouts whose combined confidences differ by less than this are a tie.
const TIE_EPSILON: f64 = 1e-9;

/// One way of telling change from payment. Declared (and so ordered) as in [`Heuristic::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Heuristic {
    /// The only output paying a script one of the inputs spent from.
    AddressReuse,
    /// The only output paying a script never paid before, when every other output's was and
    /// none pays back to an input's script.
    FreshAddress,
    /// The only output of the same script type as all the inputs.
    ScriptType,
    /// The only amount that is not round, when every other is.
    RoundAmount,
    /// The only output smaller than the smallest input.
    OptimalChange,
}

impl Heuristic {
    /// Every heuristic, in the order [`Change::heuristics`] lists them.
    pub const ALL: [Heuristic; 5] = [
        Heuristic::AddressReuse,
        Heuristic::FreshAddress,
        Heuristic::ScriptType,
        Heuristic::RoundAmount,
        Heuristic::OptimalChange,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Heuristic::AddressReuse => "address_reuse",
            Heuristic::FreshAddress => "fresh_address",
            Heuristic::ScriptType => "script_type",
            Heuristic::RoundAmount => "round_amount",
            Heuristic::OptimalChange => "optimal_change",
        }
    }

    /// How sure a pick by this heuristic alone is, in `0.0..1.0`.
    pub fn confidence(self) -> f64 {
        match self {
            Heuristic::AddressReuse => 0.9,
            Heuristic::FreshAddress => 0.7,
            Heuristic::ScriptType => 0.6,
            Heuristic::RoundAmount => 0.6,
            Heuristic::OptimalChange => 0.5,
        }
    }

    /// The vout this heuristic picks as change, if exactly one output fits it. Does not check
    /// the conditions [`picks`] puts on the whole transaction.
    fn pick(self, tx: &TxShape) -> Option<u32> {
        match self {
            Heuristic::AddressReuse => address_reuse(tx),
            Heuristic::FreshAddress => fresh_address(tx),
            Heuristic::ScriptType => script_type(tx),
            Heuristic::RoundAmount => {
                only(tx.spendable_outputs().filter(|(_, o)| o.coin.value % ROUND_UNIT != 0).map(|(vout, _)| vout))
            }
            Heuristic::OptimalChange => {
                let smallest = tx.inputs.iter().map(|c| c.value).min()?;
                only(tx.spendable_outputs().filter(|(_, o)| o.coin.value < smallest).map(|(vout, _)| vout))
            }
        }
    }
}

/// One heuristic's pick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    pub heuristic: Heuristic,
    pub vout: u32,
    pub confidence: f64,
}

/// The change output of a transaction, as the heuristics agree on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub vout: u32,
    /// The heuristics that picked this output, in [`Heuristic::ALL`] order.
    pub heuristics: Vec<Heuristic>,
    /// In `0.0..1.0`; see [`combine`].
    pub confidence: f64,
}

/// Every heuristic's pick, in [`Heuristic::ALL`] order. Empty for coinbases, for transactions
/// with fewer than two spendable outputs, and for CoinJoins (whose "change" is not one sender's).
pub fn picks(tx: &TxShape) -> Vec<Pick> {
    if tx.is_coinbase() || tx.spendable_outputs().nth(1).is_none() || coinjoin::detect(tx).is_some() {
        return Vec::new();
    }
    Heuristic::ALL
        .iter()
        .filter_map(|&heuristic| {
            heuristic.pick(tx).map(|vout| Pick { heuristic, vout, confidence: heuristic.confidence() })
        })
        .collect()
}

/// The change output of `tx`, if the heuristics pick one; see [`combine`].
pub fn detect(tx: &TxShape) -> Option<Change> {
    combine(&picks(tx))
}

/// Combines picks into one answer. A vout's score is the chance that not all of its picks are
/// wrong, 1 - Π(1 - cᵢ), so agreeing heuristics raise it. The vout with the highest score wins;
/// when another vout was picked too, the winner's confidence is its score times
/// (1 - the best other vout's score), so disagreement lowers it. Equal best scores, or no picks,
/// give `None`.
pub fn combine(picks: &[Pick]) -> Option<Change> {
    // (vout, Π(1 - cᵢ)) per picked vout.
    let mut misses: Vec<(u32, f64)> = Vec::new();
    for pick in picks {
        match misses.iter_mut().find(|(vout, _)| *vout == pick.vout) {
            Some((_, miss)) => *miss *= 1.0 - pick.confidence,
            None => misses.push((pick.vout, 1.0 - pick.confidence)),
        }
    }
    let mut scores: Vec<(u32, f64)> = misses.into_iter().map(|(vout, miss)| (vout, 1.0 - miss)).collect();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (&(vout, best), others) = scores.split_first()?;
    let runner_up = others.first().map_or(0.0, |&(_, score)| score);
    if best - runner_up < TIE_EPSILON {
        return None;
    }
    let mut heuristics: Vec<Heuristic> = picks.iter().filter(|p| p.vout == vout).map(|p| p.heuristic).collect();
    heuristics.sort_unstable();
    heuristics.dedup();
    Some(Change { vout, heuristics, confidence: best * (1.0 - runner_up) })
}

/// The single item `items` yields, or `None` if it yields none or several.
fn only(mut items: impl Iterator<Item = u32>) -> Option<u32> {
    let first = items.next()?;
    items.next().is_none().then_some(first)
}

/// The scripts the inputs spend from, sorted, without repeats.
fn input_scripts(tx: &TxShape) -> Vec<ScriptNum> {
    let mut spent: Vec<ScriptNum> = tx.inputs.iter().filter_map(|c| c.script).collect();
    spent.sort_unstable();
    spent.dedup();
    spent
}

/// The vouts of the spendable outputs paying a script one of the inputs spent from.
fn reused(tx: &TxShape) -> impl Iterator<Item = u32> + '_ {
    let spent = input_scripts(tx);
    tx.spendable_outputs()
        .filter(move |(_, o)| o.coin.script.is_some_and(|s| spent.binary_search(&s).is_ok()))
        .map(|(vout, _)| vout)
}

/// The only spendable output paying a script one of the inputs spent from.
fn address_reuse(tx: &TxShape) -> Option<u32> {
    only(reused(tx))
}

/// The only fresh spendable output, unless an output pays back to an input's script: a wallet
/// that reuses its addresses for change says nothing by paying a new one.
fn fresh_address(tx: &TxShape) -> Option<u32> {
    if reused(tx).next().is_some() {
        return None;
    }
    only(tx.spendable_outputs().filter(|(_, o)| o.fresh).map(|(vout, _)| vout))
}

/// The only spendable output of the inputs' script type, when all inputs share one known type
/// and every spendable output's type is known.
fn script_type(tx: &TxShape) -> Option<u32> {
    let kind = tx.inputs.first()?.kind;
    if kind == ScriptType::Other
        || tx.inputs.iter().any(|c| c.kind != kind)
        || tx.spendable_outputs().any(|(_, o)| o.coin.kind == ScriptType::Other)
    {
        return None;
    }
    only(tx.spendable_outputs().filter(|(_, o)| o.coin.kind == kind).map(|(vout, _)| vout))
}

#[cfg(test)]
mod tests {
    use super::super::{Coin, OutCoin};
    use super::*;

    fn coin(value: u64, script: u64) -> Coin {
        Coin { value, script: Some(script), kind: ScriptType::Other }
    }

    /// Two inputs (scripts 1 and 2) paying two outputs (scripts 10 and 11) that no heuristic
    /// tells apart: round amounts, none fresh, above the smallest input, kinds not looked up.
    fn plain() -> TxShape {
        TxShape {
            inputs: vec![coin(50_000_000, 1), coin(30_000_000, 2)],
            outputs: vec![
                OutCoin { coin: coin(40_000_000, 10), fresh: false },
                OutCoin { coin: coin(39_990_000, 11), fresh: false },
            ],
        }
    }

    fn only_pick(tx: &TxShape) -> Option<(Heuristic, u32)> {
        match picks(tx).as_slice() {
            [pick] => Some((pick.heuristic, pick.vout)),
            _ => None,
        }
    }

    #[test]
    fn names_and_order_are_stable() {
        let names: Vec<&str> = Heuristic::ALL.iter().map(|h| h.name()).collect();
        assert_eq!(names, ["address_reuse", "fresh_address", "script_type", "round_amount", "optimal_change"]);
        assert!(Heuristic::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn plain_transaction_has_no_picks() {
        assert_eq!(picks(&plain()), []);
        assert_eq!(detect(&plain()), None);
    }

    #[test]
    fn address_reuse_picks_the_output_back_to_an_input_script() {
        let mut tx = plain();
        tx.outputs[1].coin.script = Some(2);
        assert_eq!(only_pick(&tx), Some((Heuristic::AddressReuse, 1)));
        assert_eq!(picks(&tx)[0].confidence, 0.9);
    }

    #[test]
    fn address_reuse_does_not_pick_when_several_outputs_reuse() {
        let mut tx = plain();
        tx.outputs[0].coin.script = Some(1);
        tx.outputs[1].coin.script = Some(2);
        assert_eq!(picks(&tx), []);
    }

    #[test]
    fn fresh_address_picks_the_only_new_script() {
        let mut tx = plain();
        tx.outputs[0].fresh = true;
        assert_eq!(only_pick(&tx), Some((Heuristic::FreshAddress, 0)));
        tx.outputs[1].fresh = true;
        assert_eq!(picks(&tx), []);
    }

    #[test]
    fn fresh_address_does_not_pick_when_change_goes_back_to_an_input_script() {
        let mut tx = plain();
        tx.outputs[0].fresh = true;
        tx.outputs[1].coin.script = Some(2);
        assert_eq!(only_pick(&tx), Some((Heuristic::AddressReuse, 1)));
        assert_eq!(detect(&tx).unwrap().confidence, 0.9);
    }

    #[test]
    fn script_type_picks_the_output_matching_the_inputs() {
        let mut tx = plain();
        for input in &mut tx.inputs {
            input.kind = ScriptType::P2wpkh;
        }
        tx.outputs[0].coin.kind = ScriptType::P2pkh;
        tx.outputs[1].coin.kind = ScriptType::P2wpkh;
        assert_eq!(only_pick(&tx), Some((Heuristic::ScriptType, 1)));
    }

    #[test]
    fn script_type_needs_one_input_kind_and_known_output_kinds() {
        let mut tx = plain();
        tx.inputs[0].kind = ScriptType::P2wpkh;
        tx.inputs[1].kind = ScriptType::P2tr;
        tx.outputs[0].coin.kind = ScriptType::P2pkh;
        tx.outputs[1].coin.kind = ScriptType::P2wpkh;
        assert_eq!(picks(&tx), [], "mixed input kinds");
        tx.inputs[1].kind = ScriptType::P2wpkh;
        tx.outputs[0].coin.kind = ScriptType::Other;
        assert_eq!(picks(&tx), [], "an output kind not looked up");
        tx.outputs[0].coin.kind = ScriptType::P2wpkh;
        assert_eq!(picks(&tx), [], "both outputs match");
    }

    #[test]
    fn round_amount_picks_the_only_unround_output() {
        let mut tx = plain();
        tx.outputs[1].coin.value = 39_987_654;
        assert_eq!(only_pick(&tx), Some((Heuristic::RoundAmount, 1)));
        tx.outputs[0].coin.value = 40_001_234;
        assert_eq!(picks(&tx), []);
    }

    #[test]
    fn optimal_change_picks_the_only_output_below_the_smallest_input() {
        let mut tx = plain();
        tx.outputs[0].coin.value = 60_000_000;
        tx.outputs[1].coin.value = 19_990_000;
        assert_eq!(only_pick(&tx), Some((Heuristic::OptimalChange, 1)));
        tx.outputs[0].coin.value = 20_000_000;
        assert_eq!(picks(&tx), []);
    }

    #[test]
    fn op_return_outputs_are_not_candidates() {
        let mut tx = plain();
        tx.outputs[1].coin.value = 39_987_654;
        tx.outputs.push(OutCoin { coin: Coin { value: 0, script: None, kind: ScriptType::OpReturn }, fresh: true });
        assert_eq!(only_pick(&tx), Some((Heuristic::RoundAmount, 1)));
        tx.outputs.remove(0);
        assert_eq!(picks(&tx), [], "one spendable output left");
    }

    #[test]
    fn coinbase_has_no_change() {
        let mut tx = plain();
        tx.inputs.clear();
        tx.outputs[0].fresh = true;
        assert_eq!(picks(&tx), []);
    }

    #[test]
    fn coinjoin_has_no_change() {
        // Two equal outputs and a fresh, unround third: a generic CoinJoin.
        let mut tx = plain();
        tx.outputs = vec![
            OutCoin { coin: coin(25_000_000, 10), fresh: false },
            OutCoin { coin: coin(25_000_000, 11), fresh: false },
            OutCoin { coin: coin(29_987_654, 2), fresh: true },
        ];
        assert!(coinjoin::detect(&tx).is_some());
        assert_eq!(picks(&tx), []);
        assert_eq!(detect(&tx), None);
    }

    #[test]
    fn agreeing_heuristics_raise_the_confidence() {
        let mut tx = plain();
        tx.outputs[1].coin.script = Some(1);
        tx.outputs[1].coin.value = 39_987_654;
        let change = detect(&tx).unwrap();
        assert_eq!(change.vout, 1);
        assert_eq!(change.heuristics, [Heuristic::AddressReuse, Heuristic::RoundAmount]);
        assert!((change.confidence - (1.0 - 0.1 * 0.4)).abs() < 1e-12);
        assert!(change.confidence > Heuristic::AddressReuse.confidence());
    }

    #[test]
    fn disagreeing_heuristics_lower_the_confidence() {
        let mut tx = plain();
        tx.outputs[1].coin.script = Some(1);
        tx.outputs[0].coin.value = 40_001_234;
        let change = detect(&tx).unwrap();
        assert_eq!(change.vout, 1);
        assert_eq!(change.heuristics, [Heuristic::AddressReuse]);
        assert!((change.confidence - 0.9 * (1.0 - 0.6)).abs() < 1e-12);
    }

    #[test]
    fn equal_scores_for_two_outputs_give_no_change() {
        let mut tx = plain();
        tx.outputs[0].coin.value = 40_001_234;
        for input in &mut tx.inputs {
            input.kind = ScriptType::P2tr;
        }
        tx.outputs[0].coin.kind = ScriptType::P2wpkh;
        tx.outputs[1].coin.kind = ScriptType::P2tr;
        let picked: Vec<(Heuristic, u32)> = picks(&tx).iter().map(|p| (p.heuristic, p.vout)).collect();
        assert_eq!(picked, [(Heuristic::ScriptType, 1), (Heuristic::RoundAmount, 0)]);
        assert_eq!(detect(&tx), None);
    }

    #[test]
    fn combine_lists_heuristics_in_declaration_order() {
        let pick = |heuristic: Heuristic, vout| Pick { heuristic, vout, confidence: heuristic.confidence() };
        let change = combine(&[pick(Heuristic::OptimalChange, 2), pick(Heuristic::FreshAddress, 2)]).unwrap();
        assert_eq!(change.heuristics, [Heuristic::FreshAddress, Heuristic::OptimalChange]);
        assert!((change.confidence - (1.0 - 0.3 * 0.5)).abs() < 1e-12);
        assert_eq!(combine(&[]), None);
    }
}
