//! CoinJoin detection: whether a transaction's shape (input count and values, output values and
//! script numbers) is that of a known CoinJoin protocol, or of a generic equal-output CoinJoin.
//!
//! Script kinds ([`super::Coin::kind`]) are never read: callers usually leave them unset to save a
//! lookup. Only spendable outputs count; OP_RETURN outputs are ignored. `docs/heuristics.md`
//! explains every rule and its thresholds.

use super::TxShape;
use crate::storage::schema::ScriptNum;

/// The Whirlpool pool denominations, in sat (0.001, 0.01, 0.05 and 0.5 BTC).
pub const WHIRLPOOL_POOLS: [u64; 4] = [100_000, 1_000_000, 5_000_000, 50_000_000];
/// Whirlpool mixes have this many inputs and as many outputs.
const WHIRLPOOL_SIZE: std::ops::RangeInclusive<usize> = 5..=8;
/// The window around Wasabi 1.x's base denomination (0.1 BTC ± 2%), in sat.
const WASABI1_WINDOW: std::ops::RangeInclusive<u64> = 9_800_000..=10_200_000;
/// The fewest equal outputs at the base denomination a Wasabi 1.x round is taken to have.
const WASABI1_MIN_EQUAL: u32 = 10;
/// The fewest inputs and the fewest spendable outputs of a WabiSabi round.
const WABISABI_MIN_SIZE: usize = 50;
/// The share of spendable outputs, in percent, that must be WabiSabi standard denominations.
const WABISABI_MIN_STANDARD_PERCENT: usize = 70;
/// The fewest distinct standard denominations that must occur at least twice in a WabiSabi round.
const WABISABI_MIN_REPEATED: usize = 3;
/// The smallest output WabiSabi coordinators allow, in sat.
const WABISABI_MIN_OUTPUT: u64 = 5_000;
/// The numbers of equal outputs (makers and taker) a JoinMarket CoinJoin is taken to have.
const JOINMARKET_PARTICIPANTS: std::ops::RangeInclusive<u32> = 3..=20;
/// The fewest equal outputs of a generic round that also pays a coordinator's fee.
const COORDINATED_MIN_EQUAL: usize = 3;

const WHIRLPOOL_CONFIDENCE: f64 = 0.95;
const WASABI1_CONFIDENCE: f64 = 0.9;
const WABISABI_CONFIDENCE: f64 = 0.85;
const JOINMARKET_CONFIDENCE: f64 = 0.7;
const GENERIC_CONFIDENCE: f64 = 0.5;

/// Which CoinJoin a transaction looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoinJoinKind {
    /// Equal outputs for about half the outputs (BlockSci's rule), no known protocol.
    Generic,
    /// Wasabi Wallet 1.x (ZeroLink, about 0.1 BTC base denomination).
    Wasabi1,
    /// Wasabi Wallet 2.x and its forks (WabiSabi, standard denominations).
    WabiSabi,
    /// Samourai / Sparrow Whirlpool mix (5 to 8 inputs and outputs at one pool denomination).
    Whirlpool,
    /// JoinMarket (n equal outputs, one change output per maker).
    JoinMarket,
}

impl CoinJoinKind {
    pub fn name(self) -> &'static str {
        match self {
            CoinJoinKind::Generic => "generic",
            CoinJoinKind::Wasabi1 => "wasabi1",
            CoinJoinKind::WabiSabi => "wabisabi",
            CoinJoinKind::Whirlpool => "whirlpool",
            CoinJoinKind::JoinMarket => "joinmarket",
        }
    }
}

/// A detected CoinJoin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoinJoin {
    pub kind: CoinJoinKind,
    /// How sure the rule that matched is, in `0.0..=1.0`.
    pub confidence: f64,
    /// How many spendable outputs have exactly [`CoinJoin::denomination`]: the number of
    /// participants for the single-denomination protocols, the anonymity set of the most common
    /// denomination for WabiSabi.
    pub participants: u32,
    /// The repeated output value, in sat.
    pub denomination: u64,
}

/// Whether `tx` is a CoinJoin, and which. The protocol-specific rules are tried first (Whirlpool,
/// WabiSabi, Wasabi 1.x, JoinMarket), then the generic one. Coinbases are never CoinJoins, nor
/// are transactions whose inputs all spend from one script, nor those that pay a denomination
/// output back to a script one of the inputs spent from.
pub fn detect(tx: &TxShape) -> Option<CoinJoin> {
    if tx.is_coinbase() || single_input_script(tx) {
        return None;
    }
    let view = View::of(tx);
    let rules: [fn(&View) -> Option<CoinJoin>; 5] = [whirlpool, wabisabi, wasabi1, joinmarket, generic];
    rules.iter().find_map(|rule| rule(&view).filter(|found| !view.pays_input_script(found.denomination)))
}

/// Whether every input's script is known and they are all the same one: one wallet, one address.
fn single_input_script(tx: &TxShape) -> bool {
    let Some(Some(first)) = tx.inputs.first().map(|c| c.script) else {
        return false;
    };
    tx.inputs.iter().all(|c| c.script == Some(first))
}

/// What the rules read of a transaction, computed once.
struct View<'a> {
    tx: &'a TxShape,
    /// The input count.
    inputs: usize,
    /// The spendable output count.
    outputs: usize,
    /// Each distinct spendable output value and how many outputs have it: most frequent first,
    /// then larger values first.
    counts: Vec<(u64, u32)>,
    /// The scripts the inputs spend from, sorted, without repeats (unknown ones left out).
    input_scripts: Vec<ScriptNum>,
}

impl<'a> View<'a> {
    fn of(tx: &'a TxShape) -> View<'a> {
        let mut values: Vec<u64> = tx.spendable_outputs().map(|(_, o)| o.coin.value).collect();
        values.sort_unstable();
        let mut counts: Vec<(u64, u32)> = Vec::new();
        for value in values {
            match counts.last_mut() {
                Some((last, n)) if *last == value => *n += 1,
                _ => counts.push((value, 1)),
            }
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        let mut input_scripts: Vec<ScriptNum> = tx.inputs.iter().filter_map(|c| c.script).collect();
        input_scripts.sort_unstable();
        input_scripts.dedup();
        let outputs = counts.iter().map(|&(_, n)| n as usize).sum();
        View { tx, inputs: tx.inputs.len(), outputs, counts, input_scripts }
    }

    /// When exactly two values share the top count, as in a round whose participants brought
    /// equal inputs and so got equal change: the rounder of the two (more trailing decimal
    /// zeros; then the larger), which is the denomination.
    fn denomination_of_a_tie(&self) -> Option<(u64, u32)> {
        let roundness = |v: u64| (1..=12u32).take_while(|&k| v % 10u64.pow(k) == 0).count();
        let [a, b, rest @ ..] = self.counts.as_slice() else { return None };
        if a.1 != b.1 || (a.1 as usize) < COORDINATED_MIN_EQUAL || rest.first().is_some_and(|c| c.1 == a.1) {
            return None;
        }
        Some(if (roundness(b.0), b.0) > (roundness(a.0), a.0) { *b } else { *a })
    }

    /// The most frequent output value and its count, unless another value is as frequent.
    fn unique_top(&self) -> Option<(u64, u32)> {
        match self.counts.as_slice() {
            [top, next, ..] if next.1 == top.1 => None,
            [top, ..] => Some(*top),
            [] => None,
        }
    }

    /// Whether an output of `value` pays a script one of the inputs spent from. CoinJoin wallets
    /// send mixed coins to new addresses, never back to an input's.
    fn pays_input_script(&self, value: u64) -> bool {
        self.tx.spendable_outputs().any(|(_, o)| {
            o.coin.value == value && o.coin.script.is_some_and(|s| self.input_scripts.binary_search(&s).is_ok())
        })
    }
}

fn found(kind: CoinJoinKind, confidence: f64, denomination: u64, participants: u32) -> Option<CoinJoin> {
    Some(CoinJoin { kind, confidence, participants, denomination })
}

/// Whirlpool: 5 to 8 inputs, as many outputs, all at one pool denomination, no input below it.
fn whirlpool(view: &View) -> Option<CoinJoin> {
    let n = view.inputs;
    if !WHIRLPOOL_SIZE.contains(&n) || view.tx.outputs.len() != n {
        return None;
    }
    let &[(denomination, count)] = view.counts.as_slice() else {
        return None;
    };
    if count as usize != n
        || !WHIRLPOOL_POOLS.contains(&denomination)
        || view.tx.inputs.iter().any(|c| c.value < denomination)
    {
        return None;
    }
    found(CoinJoinKind::Whirlpool, WHIRLPOOL_CONFIDENCE, denomination, count)
}

/// WabiSabi: at least 50 inputs and 50 outputs, at least 70% of the outputs at standard
/// denominations, and at least 3 standard denominations occurring more than once.
fn wabisabi(view: &View) -> Option<CoinJoin> {
    if view.inputs < WABISABI_MIN_SIZE || view.outputs < WABISABI_MIN_SIZE {
        return None;
    }
    let standard = || view.counts.iter().filter(|&&(value, _)| is_wabisabi_standard(value));
    let at_standard: usize = standard().map(|&(_, n)| n as usize).sum();
    if at_standard * 100 < view.outputs * WABISABI_MIN_STANDARD_PERCENT
        || standard().filter(|&&(_, n)| n >= 2).count() < WABISABI_MIN_REPEATED
    {
        return None;
    }
    let &(denomination, count) = standard().next()?;
    found(CoinJoinKind::WabiSabi, WABISABI_CONFIDENCE, denomination, count)
}

/// Wasabi 1.x: at least 10 equal outputs within 0.1 BTC ± 2%, at least as many inputs, and at
/// least one other output (the coordinator fee; usually change outputs too).
fn wasabi1(view: &View) -> Option<CoinJoin> {
    let &(denomination, count) = view.counts.iter().find(|(value, _)| WASABI1_WINDOW.contains(value))?;
    let n = count as usize;
    if count < WASABI1_MIN_EQUAL || view.inputs < n || view.outputs <= n {
        return None;
    }
    found(CoinJoinKind::Wasabi1, WASABI1_CONFIDENCE, denomination, count)
}

/// JoinMarket: n equal outputs (3 ≤ n ≤ 20), no other value as frequent, at least n inputs, and
/// 2n - 1 or 2n outputs in all (a change output per maker, maybe one for the taker).
fn joinmarket(view: &View) -> Option<CoinJoin> {
    let (denomination, count) = view.unique_top()?;
    let n = count as usize;
    if !JOINMARKET_PARTICIPANTS.contains(&count)
        || view.inputs < n
        || (view.outputs != 2 * n - 1 && view.outputs != 2 * n)
        || WHIRLPOOL_POOLS.contains(&denomination)
        || is_dust(denomination)
    {
        return None;
    }
    found(CoinJoinKind::JoinMarket, JOINMARKET_CONFIDENCE, denomination, count)
}

/// BlockSci's rule: at least 2 inputs and 3 outputs; with p = (outputs + 1) / 2 participants,
/// p ≤ inputs and the most frequent output value (not dust, no other value as frequent) occurs
/// exactly p times. Also the same round with a coordinator's fee output: n ≥ 3 equal outputs,
/// n ≤ inputs, and at most one change output per participant plus the fee (n < outputs ≤ 2n + 1).
fn generic(view: &View) -> Option<CoinJoin> {
    if view.inputs < 2 || view.outputs < 3 {
        return None;
    }
    let (denomination, count) = view.unique_top().or_else(|| view.denomination_of_a_tie())?;
    let n = count as usize;
    let blocksci = n == view.outputs.div_ceil(2);
    let coordinated = n >= COORDINATED_MIN_EQUAL && view.outputs > n && view.outputs <= 2 * n + 1;
    if n > view.inputs || !(blocksci || coordinated) || is_dust(denomination) {
        return None;
    }
    found(CoinJoinKind::Generic, GENERIC_CONFIDENCE, denomination, count)
}

/// Values too small to be a CoinJoin denomination: below 1000 sat (which covers the 546 sat dust
/// limit) and 2730 sat, the old dust limit that spam and protocol marker outputs used.
fn is_dust(value: u64) -> bool {
    value < 1_000 || value == 2_730
}

/// Whether `value` is one of the WabiSabi client's standard denominations: at least 5000 sat and
/// 2^k, 3^k, 2·3^k, 10^k, 2·10^k or 5·10^k sat.
pub fn is_wabisabi_standard(value: u64) -> bool {
    if value < WABISABI_MIN_OUTPUT {
        return false;
    }
    let three = strip_factor(value, 3);
    let ten = strip_factor(value, 10);
    value.is_power_of_two() || three == 1 || three == 2 || matches!(ten, 1 | 2 | 5)
}

/// `value` with every factor of `base` divided out.
fn strip_factor(mut value: u64, base: u64) -> u64 {
    while value != 0 && value % base == 0 {
        value /= base;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::super::{Coin, OutCoin, ScriptType};
    use super::*;

    fn coin(value: u64, script: u64) -> Coin {
        Coin { value, script: Some(script), kind: ScriptType::Other }
    }

    /// A transaction from input values and output values; every input and output has its own
    /// script (inputs from 1, outputs from 1000).
    fn tx(inputs: &[u64], outputs: &[u64]) -> TxShape {
        TxShape {
            inputs: inputs.iter().enumerate().map(|(i, &v)| coin(v, 1 + i as u64)).collect(),
            outputs: outputs
                .iter()
                .enumerate()
                .map(|(i, &v)| OutCoin { coin: coin(v, 1000 + i as u64), fresh: true })
                .collect(),
        }
    }

    /// `n` copies of `value`, then `rest`.
    fn equal_then(n: usize, value: u64, rest: &[u64]) -> Vec<u64> {
        let mut values = vec![value; n];
        values.extend_from_slice(rest);
        values
    }

    /// Distinct, non-round values that match no denomination.
    fn distinct(n: usize, start: u64) -> Vec<u64> {
        (0..n as u64).map(|i| start + 7_919 * i + 13).collect()
    }

    fn kind_of(tx: &TxShape) -> Option<CoinJoinKind> {
        detect(tx).map(|c| c.kind)
    }

    #[test]
    fn kind_names_are_stable() {
        let kinds = [
            CoinJoinKind::Generic,
            CoinJoinKind::Wasabi1,
            CoinJoinKind::WabiSabi,
            CoinJoinKind::Whirlpool,
            CoinJoinKind::JoinMarket,
        ];
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        assert_eq!(names, ["generic", "wasabi1", "wabisabi", "whirlpool", "joinmarket"]);
    }

    #[test]
    fn whirlpool_mix_is_detected_with_its_pool() {
        let mix = tx(&[1_000_000, 1_000_000, 1_000_170, 1_000_170, 1_000_170], &[1_000_000; 5]);
        let found = detect(&mix).unwrap();
        assert_eq!(found.kind, CoinJoinKind::Whirlpool);
        assert_eq!(found.denomination, 1_000_000);
        assert_eq!(found.participants, 5);
        assert_eq!(found.confidence, WHIRLPOOL_CONFIDENCE);
    }

    #[test]
    fn whirlpool_needs_a_pool_value_and_inputs_covering_it() {
        let not_a_pool = tx(&[2_000_100; 5], &[2_000_000; 5]);
        assert_ne!(kind_of(&not_a_pool), Some(CoinJoinKind::Whirlpool));
        let short_input = tx(&[1_000_100, 1_000_100, 1_000_100, 1_000_100, 999_999], &[1_000_000; 5]);
        assert_ne!(kind_of(&short_input), Some(CoinJoinKind::Whirlpool));
        let four = tx(&[1_000_100; 4], &[1_000_000; 4]);
        assert_ne!(kind_of(&four), Some(CoinJoinKind::Whirlpool));
        let extra_output = tx(&[1_000_100; 5], &equal_then(5, 1_000_000, &[400]));
        assert_ne!(kind_of(&extra_output), Some(CoinJoinKind::Whirlpool));
    }

    /// A WabiSabi-like round: 60 inputs; outputs at standard denominations (several repeated)
    /// plus `odd` change outputs.
    fn wabisabi_round(odd: usize) -> TxShape {
        let mut outputs = Vec::new();
        for (value, n) in [(1_048_576, 12), (5_000_000, 10), (2_000_000, 8), (1_594_323, 6), (131_072, 4)] {
            outputs.extend(vec![value; n]);
        }
        outputs.extend([20_000_000, 4_782_969, 65_536, 10_000]);
        outputs.extend(distinct(odd, 333_333));
        tx(&distinct(60, 3_000_000), &outputs)
    }

    #[test]
    fn wabisabi_round_is_detected_with_its_most_common_denomination() {
        let found = detect(&wabisabi_round(10)).unwrap();
        assert_eq!(found.kind, CoinJoinKind::WabiSabi);
        assert_eq!(found.denomination, 1_048_576);
        assert_eq!(found.participants, 12);
        assert_eq!(found.confidence, WABISABI_CONFIDENCE);
    }

    #[test]
    fn wabisabi_needs_mostly_standard_outputs() {
        // 44 standard outputs out of 74: under 70%.
        assert_ne!(kind_of(&wabisabi_round(30)), Some(CoinJoinKind::WabiSabi));
        let few_inputs = TxShape { inputs: wabisabi_round(10).inputs[..40].to_vec(), ..wabisabi_round(10) };
        assert_ne!(kind_of(&few_inputs), Some(CoinJoinKind::WabiSabi));
    }

    #[test]
    fn wabisabi_standard_denominations_follow_the_client() {
        for value in [5_000, 8_192, 6_561, 13_122, 10_000, 20_000, 50_000, 1_048_576, 100_000_000] {
            assert!(is_wabisabi_standard(value), "{value}");
        }
        for value in [0, 4_096, 4_999, 30_000, 12_345, 1_000_001, 7_000_000] {
            assert!(!is_wabisabi_standard(value), "{value}");
        }
    }

    #[test]
    fn wasabi1_round_is_detected_with_fee_and_change_outputs() {
        let outputs = equal_then(12, 9_950_112, &distinct(8, 1_234_567));
        let found = detect(&tx(&distinct(15, 10_500_000), &outputs)).unwrap();
        assert_eq!(found.kind, CoinJoinKind::Wasabi1);
        assert_eq!(found.denomination, 9_950_112);
        assert_eq!(found.participants, 12);
        assert_eq!(found.confidence, WASABI1_CONFIDENCE);
    }

    #[test]
    fn wasabi1_needs_ten_equal_outputs_near_a_tenth_of_a_bitcoin() {
        let nine = equal_then(9, 9_950_112, &distinct(8, 1_234_567));
        assert_ne!(kind_of(&tx(&distinct(15, 10_500_000), &nine)), Some(CoinJoinKind::Wasabi1));
        let off_window = equal_then(12, 9_700_000, &distinct(8, 1_234_567));
        assert_ne!(kind_of(&tx(&distinct(15, 10_500_000), &off_window)), Some(CoinJoinKind::Wasabi1));
        // An exchange paying 12 customers 0.1 BTC each from one input is a batch, not a round.
        let batch = equal_then(12, 10_000_000, &[55_555_555]);
        assert_eq!(kind_of(&tx(&[200_000_000], &batch)), None);
    }

    #[test]
    fn joinmarket_is_detected_with_and_without_taker_change() {
        let with_taker_change = equal_then(4, 12_345_678, &distinct(4, 2_000_000));
        let found = detect(&tx(&distinct(6, 20_000_000), &with_taker_change)).unwrap();
        assert_eq!(found.kind, CoinJoinKind::JoinMarket);
        assert_eq!(found.denomination, 12_345_678);
        assert_eq!(found.participants, 4);
        assert_eq!(found.confidence, JOINMARKET_CONFIDENCE);
        let sweep = equal_then(4, 12_345_678, &distinct(3, 2_000_000));
        assert_eq!(kind_of(&tx(&distinct(4, 20_000_000), &sweep)), Some(CoinJoinKind::JoinMarket));
    }

    #[test]
    fn joinmarket_rejects_pools_ties_and_too_many_outputs() {
        let pool = equal_then(4, 5_000_000, &distinct(4, 2_000_000));
        assert_ne!(kind_of(&tx(&distinct(6, 20_000_000), &pool)), Some(CoinJoinKind::JoinMarket));
        // A tie is no JoinMarket shape (the generic rule takes it as a round with equal change).
        let tie = equal_then(4, 12_345_678, &[3_000_001; 4]);
        assert_ne!(kind_of(&tx(&distinct(6, 20_000_000), &tie)), Some(CoinJoinKind::JoinMarket));
        let wide = equal_then(4, 12_345_678, &distinct(6, 2_000_000));
        assert_eq!(kind_of(&tx(&distinct(6, 20_000_000), &wide)), None);
        let few_inputs = equal_then(4, 12_345_678, &distinct(4, 2_000_000));
        assert_eq!(kind_of(&tx(&distinct(3, 50_000_000), &few_inputs)), None);
    }

    #[test]
    fn generic_two_party_coinjoin_is_detected() {
        let found = detect(&tx(&[3_000_000, 4_000_000], &[2_500_000, 2_500_000, 1_499_000])).unwrap();
        assert_eq!(found.kind, CoinJoinKind::Generic);
        assert_eq!(found.denomination, 2_500_000);
        assert_eq!(found.participants, 2);
        assert_eq!(found.confidence, GENERIC_CONFIDENCE);
    }

    #[test]
    fn generic_round_with_a_coordinator_fee_is_detected() {
        // Five participants, four with change, and the coordinator's fee: 10 outputs.
        let mut outs = equal_then(5, 5_000_000, &distinct(4, 300_000));
        outs.push(75_000);
        let found = detect(&tx(&distinct(5, 5_500_000), &outs)).unwrap();
        assert_eq!((found.kind, found.participants, found.denomination), (CoinJoinKind::Generic, 5, 5_000_000));
        // The same outputs from too few inputs are a batch payment, not a round.
        assert_eq!(kind_of(&tx(&distinct(4, 30_000_000), &outs)), None);
    }

    #[test]
    fn a_round_whose_equal_inputs_left_equal_change_is_detected_by_its_rounder_value() {
        // Five inputs of 0.1 BTC, five outputs of 0.05 BTC, five equal changes and the fee.
        let mut outs = equal_then(5, 5_000_000, &[4_983_700; 5]);
        outs.push(75_000);
        let found = detect(&tx(&[10_000_000; 5], &outs)).unwrap();
        assert_eq!((found.kind, found.participants, found.denomination), (CoinJoinKind::Generic, 5, 5_000_000));
        // Two values twice each is no round.
        assert_eq!(kind_of(&tx(&distinct(4, 3_000_000), &[2_000_000, 2_000_000, 1_234_567, 1_234_567])), None);
    }

    #[test]
    fn generic_rejects_dust_and_too_few_inputs() {
        assert_eq!(kind_of(&tx(&[3_000_000, 4_000_000], &[546, 546, 6_998_000])), None);
        assert_eq!(kind_of(&tx(&[3_000_000, 4_000_000], &[2_730, 2_730, 6_994_000])), None);
        assert_eq!(kind_of(&tx(&[3_000_000, 4_000_000], &[999, 999, 6_997_000])), None);
        assert_eq!(kind_of(&tx(&[7_000_000], &[2_500_000, 2_500_000, 1_999_000])), None);
    }

    #[test]
    fn inputs_from_one_script_are_not_a_coinjoin() {
        let mut shape = tx(&[3_000_000, 4_000_000], &[2_500_000, 2_500_000, 1_499_000]);
        for input in &mut shape.inputs {
            input.script = Some(7);
        }
        assert_eq!(detect(&shape), None);
        for input in &mut shape.inputs {
            input.script = None;
        }
        assert_eq!(kind_of(&shape), Some(CoinJoinKind::Generic));
    }

    #[test]
    fn a_denomination_output_paying_an_input_script_is_not_a_coinjoin() {
        let mut shape = tx(&[3_000_000, 4_000_000], &[2_500_000, 2_500_000, 1_499_000]);
        shape.outputs[1].coin.script = shape.inputs[0].script;
        assert_eq!(detect(&shape), None);
    }

    #[test]
    fn script_kinds_do_not_change_the_answer() {
        let mut shape = tx(&[1_000_100; 5], &[1_000_000; 5]);
        let before = detect(&shape);
        for input in &mut shape.inputs {
            input.kind = ScriptType::P2wpkh;
        }
        assert_eq!(detect(&shape), before);
        assert!(before.is_some());
    }

    #[test]
    fn op_return_outputs_are_ignored() {
        let mut shape = tx(&[3_000_000, 4_000_000], &[2_500_000, 2_500_000, 1_499_000, 0]);
        shape.outputs[3].coin.script = None;
        assert_eq!(kind_of(&shape), Some(CoinJoinKind::Generic));
    }

    #[test]
    fn coinbase_is_not_a_coinjoin() {
        assert_eq!(detect(&tx(&[], &[1_000_000; 5])), None);
    }

    #[test]
    fn ordinary_transactions_are_not_coinjoins() {
        let payment = tx(&[5_000_000], &[1_234_000, 3_765_000]);
        let payment_three_inputs = tx(&[1_000_000, 2_000_000, 3_000_000], &[4_500_000, 1_499_000]);
        let consolidation = tx(&distinct(40, 100_000), &[9_000_000]);
        let batch = tx(&[90_000_000], &distinct(20, 1_000_000));
        let mut fan_out_values = distinct(28, 500_000);
        fan_out_values.extend([2_000_000, 2_000_000]);
        let fan_out = tx(&distinct(5, 20_000_000), &fan_out_values);
        for shape in [payment, payment_three_inputs, consolidation, batch, fan_out] {
            assert_eq!(detect(&shape), None, "{shape:?}");
        }
    }
}
