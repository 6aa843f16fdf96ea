//! Taint over small chains built block by block: the four models through a peel and a mixing tx
//! where tainted and clean inputs meet, the limits, and the sources.

use bitcoin::hashes::Hash;
use bitcoin::{ScriptBuf, Txid};
use indexer::storage::schema::TxNum;
use indexer::storage::store::Store;

use super::*;
use crate::fixture::{out, script, TestChain};

fn num(store: &Store, txid: Txid) -> TxNum {
    store.txnums(txid.as_byte_array()).unwrap()[0]
}

/// A coin of 10,000 is stolen by T (9,900 to wallet 2, fee 100). P peels 2,000 off it (to wallet 3)
/// and keeps 7,800 (wallet 4; fee 100). M mixes that 7,800 with a clean coin of 6,000 (that input
/// first) into 5,000, 5,000 and 3,600 (fee 200). X spends M:2 and P:0 into 5,500 (fee 100).
struct Mix {
    chain: TestChain,
    t: TxNum,
    p: TxNum,
    m: TxNum,
    x: TxNum,
}

fn mix() -> Mix {
    let mut chain = TestChain::new();
    let stolen = chain.coin(script(1), 10_000);
    let clean = chain.coin(script(5), 6_000);
    let t = chain.send(&[stolen], &[(script(2), 9_900)]);
    let p = chain.send(&[out(t, 0)], &[(script(3), 2_000), (script(4), 7_800)]);
    chain.mine();
    let m = chain.send(&[clean, out(p, 1)], &[(script(6), 5_000), (script(7), 5_000), (script(8), 3_600)]);
    chain.mine();
    let x = chain.send(&[out(m, 2), out(p, 0)], &[(script(9), 5_500)]);
    chain.mine();
    let s = chain.store();
    let (t, p, m, x) = (num(s, t), num(s, p), num(s, m), num(s, x));
    Mix { chain, t, p, m, x }
}

fn limits(model: TaintModel) -> TaintLimits {
    TaintLimits { model, hops: 10, max_txs: 1000, min_sat: 1 }
}

fn run(store: &Store, source: TaintSource, limits: &TaintLimits) -> Taint {
    let t = taint(store, source, limits, &mut super::Untagged, None).unwrap();
    let listed: u64 = t.outputs.iter().map(|o| o.tainted).sum();
    assert!(t.outputs.iter().all(|o| o.tainted > 0 && o.tainted <= o.value), "{t:?}");
    assert!(t.frontier <= listed);
    if limits.model != TaintModel::Poison {
        assert_eq!(t.source, t.frontier + t.fees, "{t:?}");
    }
    t
}

/// (tx, vout, tainted, hop, spent) of each output.
fn rows(t: &Taint) -> Vec<(TxNum, u32, u64, u32, bool)> {
    t.outputs.iter().map(|o| (o.num, o.vout, o.tainted, o.hop, o.spent)).collect()
}

#[test]
fn each_model_splits_the_mixing_tx_its_own_way_and_the_books_balance() {
    let g = mix();
    let s = g.chain.store();
    let (t, p, m, x) = (g.t, g.p, g.m, g.x);
    let peel = [(t, 0, 9_900, 0, true), (p, 0, 2_000, 1, true), (p, 1, 7_800, 1, true)];
    let expected = [
        // Every output of a tx with a tainted input, wholly; the fees too (100 + 200 + 100).
        (
            TaintModel::Poison,
            vec![(m, 0, 5_000, 2, false), (m, 1, 5_000, 2, false), (m, 2, 3_600, 2, true)],
            5_500,
            400,
        ),
        // M: 7,800 of 13,800 over 5,000 / 5,000 / 3,600 / fee 200 is 2,826.09, 2,826.09,
        // 2,034.78 and 113.04: the leftover satoshi to the largest remainder, output 2. X: 4,035
        // (2,035 + 2,000) of 5,600 over 5,500 / fee 100 is 3,962.95 and 72.05.
        (
            TaintModel::Haircut,
            vec![(m, 0, 2_826, 2, false), (m, 1, 2_826, 2, false), (m, 2, 2_035, 2, true)],
            3_963,
            285,
        ),
        // M's line: clean 0..6000, tainted 6000..13800. Output 1 (5000..10000) holds 4,000,
        // output 2 and the fee all of theirs. X: everything it spends is tainted.
        (TaintModel::Fifo, vec![(m, 1, 4_000, 2, false), (m, 2, 3_600, 2, true)], 5_500, 400),
        // M's line: tainted 0..7800 first. Output 0 is all tainted, output 1 holds 2,800, output 2
        // and the fee nothing. X: P:0 (tainted) is laid first: 2,000 of its output.
        (TaintModel::Lifo, vec![(m, 0, 5_000, 2, false), (m, 1, 2_800, 2, false)], 2_000, 100),
    ];
    for (model, mixed, last, fees) in expected {
        let got = run(s, TaintSource::Tx(t), &limits(model));
        let mut want = peel.to_vec();
        want.extend(mixed);
        want.push((x, 0, last, 2, false));
        assert_eq!(rows(&got), want, "{model:?}");
        assert_eq!((got.fees, got.txs, got.truncated), (fees, 3, false), "{model:?}");
        assert_eq!(got.source, 9_900);
        let unspent: u64 = got.outputs.iter().filter(|o| !o.spent).map(|o| o.tainted).sum();
        assert_eq!(got.frontier, unspent, "{model:?}");
    }
    // Poison's outputs and fees add up to more than was stolen.
    let poison = run(s, TaintSource::Tx(t), &limits(TaintModel::Poison));
    assert_eq!(poison.frontier + poison.fees, 15_900);
}

#[test]
fn outputs_of_the_last_hop_stay_in_the_frontier_though_spent() {
    let g = mix();
    let l = TaintLimits { hops: 1, ..limits(TaintModel::Fifo) };
    let got = run(g.chain.store(), TaintSource::Tx(g.t), &l);
    assert_eq!(rows(&got), [(g.t, 0, 9_900, 0, true), (g.p, 0, 2_000, 1, true), (g.p, 1, 7_800, 1, true)]);
    assert_eq!((got.frontier, got.fees, got.txs, got.truncated), (9_800, 100, 1, false));
}

#[test]
fn the_cap_on_txs_leaves_the_rest_in_the_frontier_and_truncates() {
    let g = mix();
    let l = TaintLimits { max_txs: 1, ..limits(TaintModel::Haircut) };
    let got = run(g.chain.store(), TaintSource::Tx(g.t), &l);
    assert_eq!(got.outputs.len(), 3);
    assert_eq!((got.frontier, got.fees, got.txs, got.truncated), (9_800, 100, 1, true));
}

#[test]
fn outputs_below_min_sat_are_not_followed_and_count_as_clean_where_spent() {
    let g = mix();
    let l = TaintLimits { min_sat: 2_001, ..limits(TaintModel::Haircut) };
    let got = run(g.chain.store(), TaintSource::Tx(g.t), &l);
    // P:0 (2,000) stops; X gets only M:2's 2,035 of 5,600: 1,998.66 and 36.34, the leftover
    // satoshi to the output. X is at hop 3, through M alone.
    let x = got.outputs.iter().find(|o| o.num == g.x).unwrap();
    assert_eq!((x.tainted, x.hop), (1_999, 3));
    assert_eq!(got.fees, 100 + 113 + 36);
    assert_eq!(got.frontier, 2_826 + 2_826 + 2_000 + 1_999);
}

#[test]
fn an_outpoint_taints_that_output_alone() {
    let g = mix();
    let got = run(g.chain.store(), TaintSource::Output(g.p, 0), &limits(TaintModel::Fifo));
    // X's line: M:2 clean 0..3600, P:0 tainted 3600..5600; the output takes 0..5500.
    // The tx spending the output is hop 0, as in a trace from it.
    assert_eq!(rows(&got), [(g.p, 0, 2_000, 0, true), (g.x, 0, 1_900, 0, false)]);
    assert_eq!((got.source, got.frontier, got.fees), (2_000, 1_900, 100));
}

#[test]
fn an_address_paid_by_its_own_change_is_not_counted_twice() {
    let mut chain = TestChain::new();
    let own = chain.coin(script(10), 3_000);
    let clean = chain.coin(script(11), 2_000);
    let y = chain.send(&[own, clean], &[(script(10), 2_500), (script(12), 2_400)]);
    chain.mine();
    let s = chain.store();
    let (y, coin) = (num(s, y), num(s, own.txid));
    let script10 = s.script_num(script(10).as_bytes()).unwrap().unwrap();
    // Haircut: Y passes 3,000 of 5,000 on: 1,500 to its output 0, which the address owned
    // already, 1,440 to output 1 and 60 to the fee. The new taint is 3,000 + 2,500 - 1,500.
    let got = run(s, TaintSource::Script(script10), &limits(TaintModel::Haircut));
    assert_eq!(rows(&got), [(coin, 0, 3_000, 0, true), (y, 0, 2_500, 0, false), (y, 1, 1_440, 0, false)]);
    assert_eq!((got.source, got.frontier, got.fees), (4_000, 3_940, 60));
    // FIFO: output 0 takes the 2,500 first satoshis, all from the address: no new taint.
    let got = run(s, TaintSource::Script(script10), &limits(TaintModel::Fifo));
    assert_eq!(rows(&got), [(coin, 0, 3_000, 0, true), (y, 0, 2_500, 0, false), (y, 1, 500, 0, false)]);
    assert_eq!((got.source, got.frontier, got.fees), (3_000, 3_000, 0));
}

#[test]
fn taint_paid_to_op_return_stays_in_the_frontier() {
    let mut chain = TestChain::new();
    let coin = chain.coin(script(1), 10_000);
    let burn = ScriptBuf::from_bytes(vec![0x6a, 0x01, 0x2a]);
    let r = chain.send(&[coin], &[(burn, 1_000), (script(2), 8_900)]);
    chain.mine();
    let s = chain.store();
    let (r, coin) = (num(s, r), num(s, coin.txid));
    let got = run(s, TaintSource::Tx(coin), &limits(TaintModel::Haircut));
    assert_eq!(rows(&got), [(coin, 0, 10_000, 0, true), (r, 0, 1_000, 1, false), (r, 1, 8_900, 1, false)]);
    assert!(matches!(got.outputs[1].script, indexer::storage::schema::OutScript::Unspendable(_)));
    assert_eq!((got.frontier, got.fees), (9_900, 100));
}
