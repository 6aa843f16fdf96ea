//! Exposure over small chains built block by block, with tags given by a map instead of a store.

use std::collections::HashMap;

use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, Txid};
use indexer::storage::schema::{ScriptNum, TxNum};
use indexer::storage::store::{Store, StoreError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::fixture::{out, script, TestChain};

/// Tags by script number.
#[derive(Default)]
struct Tags {
    by_script: HashMap<ScriptNum, Entity>,
    asked: Vec<ScriptNum>,
}

impl Attribution for Tags {
    type Error = StoreError;

    fn entity(&mut self, script: ScriptNum) -> Result<Option<Entity>, StoreError> {
        self.asked.push(script);
        Ok(self.by_script.get(&script).cloned())
    }
}

fn sn(store: &Store, n: u32) -> ScriptNum {
    store.script_num(script(n).as_bytes()).unwrap().expect("the chain paid it")
}

fn num(store: &Store, txid: Txid) -> TxNum {
    store.txnums(txid.as_byte_array()).unwrap()[0]
}

/// Tags wallets `(n, label, category)`.
fn tags(store: &Store, tagged: &[(u32, &str, &str)]) -> Tags {
    let by_script = tagged
        .iter()
        .map(|(n, label, category)| {
            (sn(store, *n), Entity { label: label.to_string(), category: category.to_string() })
        })
        .collect();
    Tags { by_script, asked: Vec::new() }
}

fn limits(direction: Direction, hops: u32) -> ExposureLimits {
    ExposureLimits { direction, hops, max_txs: 1000 }
}

fn run(store: &Store, source: Source, limits: &ExposureLimits, tags: &mut Tags) -> Exposure {
    let e = exposure(store, source, limits, tags).unwrap();
    assert_identity(&e);
    e
}

fn sum(categories: &[CategoryValue]) -> u64 {
    categories.iter().map(|c| c.value).sum()
}

fn assert_identity(e: &Exposure) {
    for c in e.direct.iter().chain(&e.indirect) {
        assert_eq!(c.value, c.entities.iter().map(|x| x.value).sum::<u64>(), "{c:?}");
        assert!(c.entities.iter().all(|x| x.value > 0));
        assert!(c.entities.windows(2).all(|w| w[0].value >= w[1].value));
    }
    assert!(e.direct.windows(2).all(|w| w[0].value >= w[1].value));
    assert!(e.indirect.windows(2).all(|w| w[0].value >= w[1].value));
    let parts = sum(&e.direct) + sum(&e.indirect) + e.unattributed.total() + e.fees;
    assert_eq!(parts, e.total, "{e:?}");
    // The attributed outputs add up to the entities' values, hop 0 to direct exposure.
    let at = |direct: bool| e.attributions.iter().filter(|a| (a.hop == 0) == direct).map(|a| a.value).sum::<u64>();
    assert_eq!((at(true), at(false)), (sum(&e.direct), sum(&e.indirect)), "{e:?}");
    assert!(e.attributions.iter().all(|a| a.value > 0));
    assert!(e.attributions.windows(2).all(|w| w[0].value >= w[1].value));
}

/// (category, [(label, value)]) of each category, for comparing.
fn flat(categories: &[CategoryValue]) -> Vec<(&str, Vec<(&str, u64)>)> {
    categories
        .iter()
        .map(|c| (c.category.as_str(), c.entities.iter().map(|e| (e.label.as_str(), e.value)).collect()))
        .collect()
}

/// Wallet 1 gets a coin of 10,000; `pay` sends 3,000 to wallet 2 (an exchange), 4,000 to wallet 3
/// and 2,900 back to wallet 1 (fee 100); `onward` spends wallet 3's 4,000 into 1,000 for wallet 4
/// (a mixer) and 2,950 for wallet 5, which stays unspent (fee 50).
struct Payment {
    chain: TestChain,
    coinbase: TxNum,
    pay: TxNum,
    onward: TxNum,
}

fn payment() -> Payment {
    let mut chain = TestChain::new();
    let coin = chain.coin(script(1), 10_000);
    let pay = chain.send(&[coin], &[(script(2), 3000), (script(3), 4000), (script(1), 2900)]);
    let onward = chain.send(&[out(pay, 1)], &[(script(4), 1000), (script(5), 2950)]);
    chain.mine();
    let s = chain.store();
    let (coinbase, pay, onward) = (num(s, coin.txid), num(s, pay), num(s, onward));
    Payment { chain, coinbase, pay, onward }
}

fn payment_tags(store: &Store) -> Tags {
    tags(store, &[(2, "Exchange A", "exchange"), (4, "Mixer M", "mixer")])
}

#[test]
fn direct_and_indirect_exposure_stop_at_the_first_tagged_address() {
    let p = payment();
    let s = p.chain.store();
    let mut tags = payment_tags(s);
    let e = run(s, Source::Script(sn(s, 1)), &limits(Direction::Forward, 3), &mut tags);
    assert_eq!(e.total, 7100);
    assert_eq!(flat(&e.direct), vec![("exchange", vec![("Exchange A", 3000)])]);
    assert_eq!(flat(&e.indirect), vec![("mixer", vec![("Mixer M", 1000)])]);
    assert_eq!(e.unattributed, Unattributed { unspent: 2950, ..Unattributed::default() });
    assert_eq!(e.fees, 150);
    assert_eq!((e.roots, e.txs, e.truncated), (1, 1, false));
    // Where: output 0 of the payment at hop 0, output 0 of the onward tx at hop 1.
    let at: Vec<(TxNum, u32, u32, &str, &str, u64)> =
        e.attributions.iter().map(|a| (a.num, a.vout, a.hop, a.label.as_str(), a.category.as_str(), a.value)).collect();
    assert_eq!(at, vec![(p.pay, 0, 0, "Exchange A", "exchange", 3000), (p.onward, 0, 1, "Mixer M", "mixer", 1000)]);
    // The change output is left out before any lookup; so is everything past a tagged output.
    assert!(!tags.asked.contains(&sn(s, 1)));
    let mut asked = tags.asked.clone();
    asked.sort_unstable();
    assert_eq!(asked, vec![sn(s, 2), sn(s, 3), sn(s, 4), sn(s, 5)]);
}

#[test]
fn change_back_to_the_address_is_neither_sent_nor_followed() {
    let p = payment();
    let s = p.chain.store();
    // Tagging the sender itself changes nothing: its change is not part of what it sent.
    let mut tags = tags(s, &[(1, "Self", "exchange"), (2, "Exchange A", "exchange"), (4, "Mixer M", "mixer")]);
    let e = run(s, Source::Script(sn(s, 1)), &limits(Direction::Forward, 3), &mut tags);
    assert_eq!(e.total, 7100);
    assert_eq!(flat(&e.direct), vec![("exchange", vec![("Exchange A", 3000)])]);
    // From the tx instead, the change output is an output like the others: 9,900 in all.
    let e = run(s, Source::Tx(p.pay), &limits(Direction::Forward, 3), &mut tags);
    assert_eq!(e.total, 9900);
    assert_eq!(flat(&e.direct), vec![("exchange", vec![("Exchange A", 3000), ("Self", 2900)])]);
}

#[test]
fn out_from_a_txid_counts_its_outputs_not_its_fee_and_unspent_outputs_stay_unattributed() {
    let p = payment();
    let s = p.chain.store();
    let e = run(s, Source::Tx(p.pay), &limits(Direction::Forward, 3), &mut payment_tags(s));
    assert_eq!(e.total, 9900);
    assert_eq!(sum(&e.direct), 3000);
    assert_eq!(sum(&e.indirect), 1000);
    // Wallet 5's 2,950 and the change (spent by nothing) are unspent; only the onward fee counts.
    assert_eq!(e.unattributed, Unattributed { unspent: 2950 + 2900, ..Unattributed::default() });
    assert_eq!(e.fees, 50);
    // Nothing tagged at all: everything is unspent or fees.
    let e = run(s, Source::Tx(p.onward), &limits(Direction::Forward, 3), &mut Tags::default());
    assert_eq!((e.total, e.unattributed.unspent, e.fees), (3950, 3950, 0));
}

#[test]
fn the_hop_limit_leaves_untagged_spent_outputs_unattributed() {
    let p = payment();
    let s = p.chain.store();
    let e = run(s, Source::Script(sn(s, 1)), &limits(Direction::Forward, 0), &mut payment_tags(s));
    assert_eq!(e.total, 7100);
    assert_eq!(sum(&e.direct), 3000);
    assert!(e.indirect.is_empty());
    assert_eq!(e.unattributed, Unattributed { hop_limit: 4000, ..Unattributed::default() });
    assert_eq!((e.fees, e.txs), (100, 0));
}

#[test]
fn in_follows_inputs_back_to_a_coinbase() {
    let p = payment();
    let s = p.chain.store();
    // Wallet 5's 2,950 came from wallet 3 (hop 0), which got it from wallet 1 (hop 1), which
    // got it from a coinbase (hop 2).
    let e = run(s, Source::Script(sn(s, 5)), &limits(Direction::Backward, 3), &mut Tags::default());
    assert_eq!(e.total, 2950);
    assert_eq!(e.unattributed, Unattributed { coinbase: 2950, ..Unattributed::default() });
    assert_eq!((e.fees, e.txs), (0, 2));
    let e = run(s, Source::Script(sn(s, 5)), &limits(Direction::Backward, 1), &mut Tags::default());
    assert_eq!(e.unattributed, Unattributed { hop_limit: 2950, ..Unattributed::default() });
    let mut tagged = tags(s, &[(1, "Miner", "mining"), (3, "Broker", "exchange")]);
    let e = run(s, Source::Script(sn(s, 5)), &limits(Direction::Backward, 3), &mut tagged);
    assert_eq!(flat(&e.direct), vec![("exchange", vec![("Broker", 2950)])]);
    let mut tagged = tags(s, &[(1, "Miner", "mining")]);
    let e = run(s, Source::Script(sn(s, 5)), &limits(Direction::Backward, 3), &mut tagged);
    assert!(e.direct.is_empty());
    assert_eq!(flat(&e.indirect), vec![("mining", vec![("Miner", 2950)])]);
    // In, the tagged output is the one the flow came from: the coinbase's, at hop 1.
    let at: Vec<(TxNum, u32, u32, u64)> = e.attributions.iter().map(|a| (a.num, a.vout, a.hop, a.value)).collect();
    assert_eq!(at, vec![(p.coinbase, 0, 1, 2950)]);
    // From the txid: its input total; a coinbase has none.
    let e = run(s, Source::Tx(p.onward), &limits(Direction::Backward, 3), &mut Tags::default());
    assert_eq!((e.total, e.unattributed.coinbase), (4000, 4000));
    let e = run(s, Source::Tx(p.coinbase), &limits(Direction::Backward, 3), &mut Tags::default());
    assert_eq!((e.total, e.roots), (0, 1));
}

#[test]
fn in_to_an_address_leaves_out_its_own_change() {
    let p = payment();
    let s = p.chain.store();
    // Wallet 1 was paid the 10,000 coin and 2,900 of change from itself: only the coin counts.
    let e = run(s, Source::Script(sn(s, 1)), &limits(Direction::Backward, 3), &mut Tags::default());
    assert_eq!(e.total, 10_000);
    assert_eq!(e.unattributed, Unattributed { coinbase: 10_000, ..Unattributed::default() });
    assert_eq!(e.roots, 2);
}

/// Wallet 10 (1,000) and wallet 11 (2,000) pay together 1,001 to wallet 12 (tagged) and 1,998 to
/// wallet 13 (fee 1); wallet 13's output then pays 1,000 to wallet 14 (tagged) and 997 to wallet
/// 15 (fee 1).
#[test]
fn a_multi_input_tx_splits_in_proportion_and_rounding_keeps_the_sum_exact() {
    let mut chain = TestChain::new();
    let a = chain.coin(script(10), 1000);
    let b = chain.coin(script(11), 2000);
    let joint = chain.send(&[a, b], &[(script(12), 1001), (script(13), 1998)]);
    chain.send(&[out(joint, 1)], &[(script(14), 1000), (script(15), 997)]);
    chain.mine();
    let s = chain.store();
    let mut tags = tags(s, &[(12, "Twelve", "gambling"), (14, "Fourteen", "darknet")]);
    let e = run(s, Source::Script(sn(s, 10)), &limits(Direction::Forward, 3), &mut tags);
    // A third of each part: 333.67, 666 and 0.33; the leftover satoshi goes to the largest
    // remainder (the first output), not the fee.
    assert_eq!(e.total, 1000);
    assert_eq!(flat(&e.direct), vec![("gambling", vec![("Twelve", 334)])]);
    // 666 of 1,998 onward: 333.33, 332.33 and 0.33; equal remainders, so the first output.
    assert_eq!(flat(&e.indirect), vec![("darknet", vec![("Fourteen", 334)])]);
    assert_eq!(e.unattributed.unspent, 332);
    assert_eq!(e.fees, 0);
    // The other sender's two thirds, by the same rule.
    let e = run(s, Source::Script(sn(s, 11)), &limits(Direction::Forward, 3), &mut tags);
    assert_eq!(e.total, 2000);
    assert_eq!(sum(&e.direct) + sum(&e.indirect) + e.unattributed.unspent + e.fees, 2000);
    assert_eq!(sum(&e.direct), 1001 - 334);
}

/// Wallet 20's 10,000 is split in two halves that one tx spends together.
fn rejoin() -> (TestChain, TxNum) {
    let mut chain = TestChain::new();
    let coin = chain.coin(script(20), 10_000);
    let split = chain.send(&[coin], &[(script(21), 5000), (script(22), 5000)]);
    let join = chain.send(&[out(split, 0), out(split, 1)], &[(script(23), 9999)]);
    chain.mine();
    let join = num(chain.store(), join);
    (chain, join)
}

#[test]
fn flows_into_one_tx_are_merged_and_split_once() {
    let (chain, _) = rejoin();
    let s = chain.store();
    let mut tags = tags(s, &[(23, "Desk", "otc")]);
    let e = run(s, Source::Script(sn(s, 20)), &limits(Direction::Forward, 3), &mut tags);
    assert_eq!(flat(&e.indirect), vec![("otc", vec![("Desk", 9999)])]);
    assert_eq!((e.total, e.fees, e.txs), (10_000, 1, 1));
    // Backward, the two inputs lead to one output each, then both to the same tx.
    let e = run(s, Source::Script(sn(s, 23)), &limits(Direction::Backward, 5), &mut Tags::default());
    assert_eq!((e.total, e.unattributed.coinbase, e.txs), (9999, 9999, 2));
}

#[test]
fn max_txs_leaves_the_rest_unattributed_and_says_so() {
    let (chain, join) = rejoin();
    let s = chain.store();
    let mut tags = tags(s, &[(23, "Desk", "otc")]);
    let mut l = limits(Direction::Forward, 3);
    l.max_txs = 0;
    let e = run(s, Source::Script(sn(s, 20)), &l, &mut tags);
    assert!(e.truncated);
    assert_eq!(e.unattributed, Unattributed { max_txs: 10_000, ..Unattributed::default() });
    // The target's own txs are always read: from the txid, hop 0 is checked without the cap.
    let e = run(s, Source::Tx(join), &l, &mut tags);
    assert_eq!(flat(&e.direct), vec![("otc", vec![("Desk", 9999)])]);
    assert!(!e.truncated);
}

/// A random chain: a few coins, then txs spending 1–3 random unspent outputs into 1–4 outputs
/// of random wallets (some of them tagged) with a random fee.
fn random_chain(rng: &mut ChaCha8Rng) -> (TestChain, Vec<Txid>) {
    let mut chain = TestChain::new();
    let mut unspent: Vec<(OutPoint, u64)> = Vec::new();
    for _ in 0..rng.gen_range(1..4) {
        let value = rng.gen_range(1_000..1_000_000);
        unspent.push((chain.coin(script(rng.gen_range(1..8)), value), value));
    }
    let mut txids = Vec::new();
    for _ in 0..rng.gen_range(3..25) {
        let take = rng.gen_range(1..=unspent.len().min(3));
        let mut inputs = Vec::new();
        let mut total = 0;
        for _ in 0..take {
            let (outpoint, value) = unspent.swap_remove(rng.gen_range(0..unspent.len()));
            inputs.push(outpoint);
            total += value;
        }
        let fee = rng.gen_range(0..=total / 50);
        let count = rng.gen_range(1..=4u64).min(total - fee).max(1);
        let mut left = total - fee;
        let mut outputs = Vec::new();
        for i in 0..count {
            let value = if i + 1 == count { left } else { rng.gen_range(0..=left) };
            left -= value;
            outputs.push((script(rng.gen_range(1..12)), value));
        }
        let txid = chain.send(&inputs, &outputs);
        for (vout, (_, value)) in outputs.iter().enumerate() {
            unspent.push((out(txid, vout as u32), *value));
        }
        txids.push(txid);
        if rng.gen_bool(0.3) {
            chain.mine();
        }
    }
    chain.mine();
    (chain, txids)
}

#[test]
fn the_identity_holds_on_random_graphs() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xe7905);
    // How often each way a flow can end was met, so the graphs are known to exercise them all.
    let mut seen = [0u32; 7];
    for _ in 0..40 {
        let (chain, txids) = random_chain(&mut rng);
        let s = chain.store();
        let tagged: Vec<(u32, &str, &str)> =
            [(2, "Two", "exchange"), (5, "Five", "mixer"), (7, "Seven", "exchange"), (9, "Nine", "darknet")]
                .into_iter()
                .filter(|(n, ..)| s.script_num(script(*n).as_bytes()).unwrap().is_some() && rng.gen_bool(0.6))
                .collect();
        let mut tags = tags(s, &tagged);
        let mut sources: Vec<Source> = txids.iter().map(|t| Source::Tx(num(s, *t))).collect();
        sources.extend((1..12).filter_map(|n| s.script_num(script(n).as_bytes()).unwrap()).map(Source::Script));
        for source in sources {
            for direction in [Direction::Forward, Direction::Backward] {
                let l = ExposureLimits { direction, hops: rng.gen_range(1..6), max_txs: rng.gen_range(0..30) };
                let e = run(s, source, &l, &mut tags);
                if let Source::Tx(n) = source {
                    let expected: u64 = match direction {
                        Direction::Forward => s.output_entries(n).unwrap().unwrap().0.iter().map(|o| o.value).sum(),
                        Direction::Backward => s.inputs(n).unwrap().iter().map(|(_, i)| i.value).sum(),
                    };
                    assert_eq!(e.total, expected);
                }
                assert_eq!(e.truncated, e.unattributed.max_txs > 0);
                assert!(e.txs <= l.max_txs);
                let u = e.unattributed;
                let ends = [sum(&e.direct), sum(&e.indirect), u.unspent, u.hop_limit, u.max_txs, u.coinbase, e.fees];
                for (count, value) in seen.iter_mut().zip(ends) {
                    *count += u32::from(value > 0);
                }
            }
        }
    }
    assert!(seen.iter().all(|&n| n >= 10), "{seen:?}");
}
