//! Traces and paths over small chains built block by block.

use bitcoin::hashes::Hash;
use bitcoin::Txid;
use indexer::storage::schema::{OutScript, TxNum};
use indexer::storage::store::Store;

use super::*;
use crate::fixture::{out, script, TestChain};

fn num(store: &Store, txid: Txid) -> TxNum {
    store.txnums(txid.as_byte_array()).unwrap()[0]
}

/// coin -> A; A:0 -> B; A:1 and B:1 -> C; B:0 and C:0 -> D; A:2 and D:0 -> E.
/// E is one hop from A directly and three hops through D.
struct Diamond {
    chain: TestChain,
    coin: TxNum,
    a: TxNum,
    b: TxNum,
    c: TxNum,
    d: TxNum,
    e: TxNum,
}

fn diamond() -> Diamond {
    let mut chain = TestChain::new();
    let coin = chain.coin(script(1), 10_000);
    let a = chain.send(&[coin], &[(script(2), 1000), (script(3), 2000), (script(4), 500)]);
    let b = chain.send(&[out(a, 0)], &[(script(5), 900), (script(6), 50)]);
    let c = chain.send(&[out(a, 1), out(b, 1)], &[(script(7), 1900), (script(8), 100)]);
    let d = chain.send(&[out(b, 0), out(c, 0)], &[(script(9), 2700)]);
    let e = chain.send(&[out(a, 2), out(d, 0)], &[(script(10), 3100)]);
    chain.mine();
    let s = chain.store();
    let (coin, a, b, c, d, e) = (num(s, coin.txid), num(s, a), num(s, b), num(s, c), num(s, d), num(s, e));
    Diamond { chain, coin, a, b, c, d, e }
}

fn limits(direction: Direction, hops: u32) -> TraceLimits {
    TraceLimits { direction, hops, min_value: 0, select: Select::All, max_txs: 1000, stop: Vec::new() }
}

/// Roots that bring all their value in.
fn whole(nums: &[TxNum]) -> Vec<Root> {
    nums.iter().map(|&num| Root { num, amount: Amount::Whole }).collect()
}

fn hops_of(t: &Trace) -> Vec<(TxNum, u32)> {
    t.nodes.iter().map(|n| (n.num, n.hop)).collect()
}

fn edge(from: TxNum, vout: u32, to: TxNum, vin: u32, value: u64) -> Edge {
    Edge { from, vout, to, vin, value }
}

#[test]
fn forward_trace_reports_each_tx_at_its_smallest_hop_with_every_edge() {
    let g = diamond();
    let t = trace(g.chain.store(), &whole(&[g.a]), &limits(Direction::Forward, 3)).unwrap();
    let mut expected = vec![(g.a, 0), (g.b, 1), (g.c, 1), (g.e, 1), (g.d, 2)];
    expected[1..4].sort();
    assert_eq!(hops_of(&t), expected);
    let mut edges = vec![
        edge(g.a, 0, g.b, 0, 1000),
        edge(g.a, 1, g.c, 0, 2000),
        edge(g.a, 2, g.e, 0, 500),
        edge(g.b, 0, g.d, 0, 900),
        edge(g.b, 1, g.c, 1, 50),
        edge(g.c, 0, g.d, 1, 1900),
        edge(g.d, 0, g.e, 1, 2700),
    ];
    edges.sort();
    assert_eq!(t.edges, edges);
    assert!(!t.truncated);
}

#[test]
fn the_last_hop_is_not_expanded_but_edges_between_its_txs_are_listed() {
    let g = diamond();
    let t = trace(g.chain.store(), &whole(&[g.a]), &limits(Direction::Forward, 1)).unwrap();
    assert_eq!(t.nodes.len(), 4);
    assert!(t.nodes.iter().all(|n| n.num != g.d));
    // B:1 -> C joins two hop-1 txs; B:0 -> D leaves the result and is not listed.
    assert!(t.edges.contains(&edge(g.b, 1, g.c, 1, 50)));
    assert_eq!(t.edges.len(), 4);
}

#[test]
fn backward_trace_mirrors_hops_over_inputs() {
    let g = diamond();
    let t = trace(g.chain.store(), &whole(&[g.e]), &limits(Direction::Backward, 2)).unwrap();
    let mut expected = vec![(g.e, 0), (g.a, 1), (g.d, 1), (g.coin, 2), (g.b, 2), (g.c, 2)];
    expected[1..3].sort();
    expected[3..].sort();
    assert_eq!(hops_of(&t), expected);
    assert!(t.edges.contains(&edge(g.coin, 0, g.a, 0, 10_000)));
    assert!(t.edges.contains(&edge(g.d, 0, g.e, 1, 2700)));
    // Every edge points the way money flows.
    assert!(t.edges.iter().all(|e| e.from < e.to));
    assert_eq!(t.edges.len(), 8);
}

#[test]
fn min_value_skips_small_edges_so_txs_are_reached_later_or_not_at_all() {
    let g = diamond();
    let mut l = limits(Direction::Forward, 3);
    l.min_value = 600;
    let t = trace(g.chain.store(), &whole(&[g.a]), &l).unwrap();
    // E is no longer one hop away through the 500-sat output; it is three hops away via D.
    assert!(hops_of(&t).contains(&(g.e, 3)));
    assert!(t.edges.iter().all(|e| e.value >= 600));
    assert!(!t.edges.contains(&edge(g.b, 1, g.c, 1, 50)));
    l.hops = 2;
    let t = trace(g.chain.store(), &whole(&[g.a]), &l).unwrap();
    assert!(t.nodes.iter().all(|n| n.num != g.e));
}

#[test]
fn max_txs_truncates_and_keeps_edges_among_what_was_found() {
    let g = diamond();
    let mut l = limits(Direction::Forward, 3);
    l.max_txs = 3;
    let t = trace(g.chain.store(), &whole(&[g.a]), &l).unwrap();
    assert!(t.truncated);
    assert_eq!(hops_of(&t), vec![(g.a, 0), (g.b, 1), (g.c, 1)]);
    assert_eq!(t.edges, vec![edge(g.a, 0, g.b, 0, 1000), edge(g.a, 1, g.c, 0, 2000), edge(g.b, 1, g.c, 1, 50)]);
    l.max_txs = 5;
    assert!(!trace(g.chain.store(), &whole(&[g.a]), &l).unwrap().truncated);
}

#[test]
fn a_stop_script_ends_its_own_branch_and_the_txs_other_outputs_go_on() {
    let g = diamond();
    let s = g.chain.store();
    let mut l = limits(Direction::Forward, 3);
    let stop = s.script_num(script(5).as_bytes()).unwrap().expect("paid");
    l.stop = vec![stop];
    let t = trace(s, &whole(&[g.a]), &l).unwrap();
    // B:0 pays the stop script: that branch ends there, named; B:1 still reaches C.
    let b = t.nodes.iter().find(|n| n.num == g.b).unwrap();
    assert_eq!(b.stops, vec![stop]);
    assert!(t.edges.contains(&edge(g.b, 1, g.c, 1, 50)));
    assert!(!t.edges.iter().any(|e| e.from == g.b && e.vout == 0));
    let ended = t.destinations.iter().find(|d| d.num == g.b && d.index == 0).unwrap();
    assert_eq!((ended.end, ended.other.map(|o| o.0)), (End::Stopped, Some(g.d)));
    // D is still reached, through C.
    assert!(hops_of(&t).contains(&(g.d, 2)));
    assert!(t.nodes.iter().filter(|n| n.num != g.b).all(|n| n.stops.is_empty()));
    // Backward: E's input from D (script 9) ends; its input from A goes on.
    let mut l = limits(Direction::Backward, 3);
    l.stop = vec![s.script_num(script(9).as_bytes()).unwrap().expect("paid")];
    let t = trace(s, &whole(&[g.e]), &l).unwrap();
    assert_eq!(hops_of(&t), vec![(g.e, 0), (g.a, 1), (g.coin, 2)]);
    let ended = t.destinations.iter().find(|d| d.num == g.e).unwrap();
    assert_eq!((ended.index, ended.end, ended.other), (1, End::Stopped, Some((g.d, 0))));
}

/// Destinations plus fees add up to the source, whatever the limits.
fn conserved(t: &Trace) {
    let reached: u64 = t.destinations.iter().map(|d| d.traced).sum();
    assert_eq!(reached + t.fees, t.source, "{t:?}");
}

#[test]
fn destinations_hold_every_branch_end_and_add_up_to_the_source_with_fees() {
    let g = diamond();
    let s = g.chain.store();
    // Forward from A (3,500 sat out): everything ends at E's unspent output, less the fees
    // on the way, or at the unspent outputs left behind (C:1).
    let t = trace(s, &whole(&[g.a]), &limits(Direction::Forward, 3)).unwrap();
    assert_eq!(t.source, 3500);
    conserved(&t);
    let ends: Vec<(TxNum, u32, End)> = t.destinations.iter().map(|d| (d.num, d.index, d.end)).collect();
    assert_eq!(ends, vec![(g.c, 1, End::Unspent), (g.e, 0, End::Unspent)]);
    // B pays a 50-sat fee on 1,000 in; C 50 on 2,050; D 100 on 2,800; E 100 on 3,200: all of
    // their inputs come from A.
    assert_eq!(t.fees, 50 + 50 + 100 + 100);
    let traced: Vec<u64> = t.destinations.iter().map(|d| d.traced).collect();
    assert_eq!(traced, vec![100, 3100]);
    // Cut at one hop: the spent outputs of hop-1 txs end at the hop limit, with their spenders.
    let t = trace(s, &whole(&[g.a]), &limits(Direction::Forward, 1)).unwrap();
    conserved(&t);
    let b0 = t.destinations.iter().find(|d| d.num == g.b && d.index == 0).unwrap();
    assert_eq!((b0.end, b0.other, b0.traced), (End::HopLimit, Some((g.d, 0)), 900));
    // A part of a tx's input: split over its outputs and fee in proportion.
    let part = [Root { num: g.b, amount: Amount::Part(500) }];
    let t = trace(s, &part, &limits(Direction::Forward, 0)).unwrap();
    conserved(&t);
    let traced: Vec<u64> = t.destinations.iter().map(|d| d.traced).collect();
    assert_eq!((traced, t.fees), (vec![450, 25], 25));
    // Backward from E: all of it comes from the coinbase coin.
    let t = trace(s, &whole(&[g.e]), &limits(Direction::Backward, 5)).unwrap();
    conserved(&t);
    assert_eq!(t.source, 3200);
    let origins: Vec<(TxNum, End, u64)> = t.destinations.iter().map(|d| (d.num, d.end, d.traced)).collect();
    assert_eq!(origins, vec![(g.coin, End::Coinbase, 3200)]);
    // Cut at the first hop, E's inputs end there, named by the scripts they spend from.
    let t = trace(s, &whole(&[g.e]), &limits(Direction::Backward, 0)).unwrap();
    conserved(&t);
    let scripts: Vec<Option<OutScript>> = t.destinations.iter().map(|d| d.script.clone()).collect();
    let num = |n: u32| s.script_num(script(n).as_bytes()).unwrap().map(OutScript::Num);
    assert_eq!(scripts, vec![num(4), num(9)]);
    assert!(t.destinations.iter().all(|d| d.end == End::HopLimit));
}

#[test]
fn follow_largest_walks_the_main_flow_and_ends_the_rest_as_not_followed() {
    let g = diamond();
    let s = g.chain.store();
    let mut l = limits(Direction::Forward, 5);
    l.select = Select::Top(1);
    let t = trace(s, &whole(&[g.a]), &l).unwrap();
    conserved(&t);
    // A's largest output goes to C, C's to D, D's only one to E.
    assert_eq!(hops_of(&t), vec![(g.a, 0), (g.c, 1), (g.d, 2), (g.e, 3)]);
    let not_followed: Vec<(TxNum, u32)> =
        t.destinations.iter().filter(|d| d.end == End::NotFollowed).map(|d| (d.num, d.index)).collect();
    assert_eq!(not_followed, vec![(g.a, 0), (g.a, 2)]);
    // A:2 is spent by E, which the trace reaches anyway: not followed is not listed as an edge.
    assert!(!t.edges.iter().any(|e| e.from == g.a && e.vout == 2));
}

#[test]
fn the_cap_keeps_the_txs_the_largest_flows_reach() {
    let g = diamond();
    let mut l = limits(Direction::Forward, 3);
    l.max_txs = 2;
    let t = trace(g.chain.store(), &whole(&[g.a]), &l).unwrap();
    assert!(t.truncated);
    conserved(&t);
    // Of B (1,000), C (2,000) and E (500), C carries the most.
    assert_eq!(hops_of(&t), vec![(g.a, 0), (g.c, 1)]);
    // The flows into B, E and (from C) D end at the cap.
    let capped: Vec<(TxNum, u32)> =
        t.destinations.iter().filter(|d| d.end == End::MaxTxs).map(|d| (d.num, d.index)).collect();
    assert_eq!(capped, vec![(g.a, 0), (g.a, 2), (g.c, 0)]);
}

/// A chain of `len` txs, each spending output 0 of the one before and paying a side output.
fn long_chain(chain: &mut TestChain, len: u32, first_script: u32) -> Vec<TxNum> {
    let mut prev = chain.coin(script(first_script), 100_000_000);
    let mut txids = Vec::new();
    for i in 0..len {
        let value = 100_000_000 - u64::from(i + 1) * 1000;
        let txid = chain.send(&[prev], &[(script(first_script + 1 + i), value), (script(9999), 500)]);
        prev = out(txid, 0);
        txids.push(txid);
        if i % 7 == 6 {
            chain.mine();
        }
    }
    chain.mine();
    txids.into_iter().map(|t| num(chain.store(), t)).collect()
}

fn path_limits(max_hops: u32) -> PathLimits {
    PathLimits { max_hops, min_value: 0, max_txs: 100_000 }
}

#[test]
fn path_is_found_at_depth_24_and_not_beyond_max_hops() {
    let mut chain = TestChain::new();
    let txs = long_chain(&mut chain, 25, 100);
    let p = shortest_path(chain.store(), &[txs[0]], &[txs[24]], &path_limits(30)).unwrap();
    assert_eq!(p.txs, txs);
    assert!(!p.truncated);
    let p = shortest_path(chain.store(), &[txs[0]], &[txs[24]], &path_limits(23)).unwrap();
    assert!(p.txs.is_empty());
    assert!(!p.truncated);
    let p = shortest_path(chain.store(), &[txs[0]], &[txs[24]], &path_limits(24)).unwrap();
    assert_eq!(p.txs.len(), 25);
}

#[test]
fn path_is_not_found_between_disconnected_or_reversed_ends() {
    let mut chain = TestChain::new();
    let one = long_chain(&mut chain, 5, 100);
    let two = long_chain(&mut chain, 5, 200);
    let s = chain.store();
    assert!(shortest_path(s, &[one[0]], &[two[4]], &path_limits(30)).unwrap().txs.is_empty());
    assert!(shortest_path(s, &[one[4]], &[one[0]], &path_limits(30)).unwrap().txs.is_empty());
    assert_eq!(shortest_path(s, &[one[2]], &[one[2]], &path_limits(30)).unwrap().txs, vec![one[2]]);
}

#[test]
fn path_takes_the_shortest_route_and_respects_min_value() {
    let g = diamond();
    let s = g.chain.store();
    let p = shortest_path(s, &[g.a], &[g.e], &path_limits(10)).unwrap();
    assert_eq!(p.txs, vec![g.a, g.e]);
    let mut l = path_limits(10);
    l.min_value = 600;
    let p = shortest_path(s, &[g.a], &[g.e], &l).unwrap();
    assert_eq!(p.txs.len(), 4);
    assert_eq!((p.txs[0], p.txs[2], p.txs[3]), (g.a, g.d, g.e));
}

#[test]
fn path_search_gives_up_at_its_cap() {
    let mut chain = TestChain::new();
    let txs = long_chain(&mut chain, 25, 100);
    let mut l = path_limits(30);
    l.max_txs = 10;
    let p = shortest_path(chain.store(), &[txs[0]], &[txs[24]], &l).unwrap();
    assert!(p.txs.is_empty());
    assert!(p.truncated);
}

/// A tx paying `width` outputs, each spent by its own tx, whose output 0 is spent again.
fn fan(width: u32) -> (TestChain, TxNum) {
    let mut chain = TestChain::new();
    let coin = chain.coin(script(1), 10_000_000);
    let outputs: Vec<_> = (0..width).map(|i| (script(1000 + i), 10_000)).collect();
    let fan = chain.send(&[coin], &outputs);
    let firsts: Vec<Txid> =
        (0..width).map(|i| chain.send(&[out(fan, i)], &[(script(5000 + i), 9_000), (script(1), 500)])).collect();
    chain.mine();
    for (i, first) in firsts.into_iter().enumerate() {
        chain.send(&[out(first, 0)], &[(script(9000 + i as u32), 8_000)]);
    }
    chain.mine();
    let root = num(chain.store(), fan);
    (chain, root)
}

#[test]
fn wide_levels_give_the_same_trace_as_a_sequential_walk() {
    let (chain, root) = fan(300);
    let t = trace(chain.store(), &whole(&[root]), &limits(Direction::Forward, 2)).unwrap();
    assert_eq!(t.nodes.len(), 601);
    assert_eq!(t.edges.len(), 600);
    assert_eq!(t.nodes.iter().filter(|n| n.hop == 2).count(), 300);
    // Hop-2 txs come in chain order; each is reached from the hop-1 tx just before it in order.
    let hop1: Vec<TxNum> = t.nodes.iter().filter(|n| n.hop == 1).map(|n| n.num).collect();
    let hop2: Vec<TxNum> = t.nodes.iter().filter(|n| n.hop == 2).map(|n| n.num).collect();
    for (a, b) in hop1.iter().zip(&hop2) {
        assert!(t.edges.contains(&edge(*a, 0, *b, 0, 9_000)));
    }
}

#[test]
fn truncation_inside_a_wide_level_keeps_breadth_first_order() {
    let (chain, root) = fan(300);
    let mut l = limits(Direction::Forward, 2);
    l.max_txs = 450;
    let t = trace(chain.store(), &whole(&[root]), &l).unwrap();
    assert!(t.truncated);
    assert_eq!(t.nodes.len(), 450);
    let hop1: Vec<TxNum> = t.nodes.iter().filter(|n| n.hop == 1).map(|n| n.num).collect();
    assert_eq!(hop1.len(), 300);
    // The first 149 hop-1 txs (in the order they were found) got their spender in.
    let hop2: Vec<TxNum> = t.nodes.iter().filter(|n| n.hop == 2).map(|n| n.num).collect();
    assert_eq!(hop2.len(), 149);
    for (a, b) in hop1.iter().zip(&hop2) {
        assert!(t.edges.contains(&edge(*a, 0, *b, 0, 9_000)));
    }
    assert_eq!(t.edges.len(), 300 + 149);
    // Backward over the same shape, from every hop-2 tx at once.
    let mut l = limits(Direction::Backward, 1);
    l.max_txs = 10_000;
    let all = trace(chain.store(), &whole(&[root]), &limits(Direction::Forward, 2)).unwrap();
    let leaves: Vec<TxNum> = all.nodes.iter().filter(|n| n.hop == 2).map(|n| n.num).collect();
    let back = trace(chain.store(), &whole(&leaves), &l).unwrap();
    assert_eq!(back.nodes.len(), 600);
    assert_eq!(back.edges.len(), 300);
}

#[test]
fn past_their_time_budget_traces_and_path_searches_stop_and_say_so() {
    let g = diamond();
    let s = g.chain.store();
    let past = Some(std::time::Instant::now() - std::time::Duration::from_secs(1));
    let (t, hit) = crate::budget::within(past, || trace(s, &whole(&[g.a]), &limits(Direction::Forward, 3)).unwrap());
    assert!(hit && t.truncated);
    assert_eq!(hops_of(&t), vec![(g.a, 0)]);
    conserved(&t);
    let (p, hit) = crate::budget::within(past, || shortest_path(s, &[g.a], &[g.d], &path_limits(10)).unwrap());
    assert!(hit && p.truncated && p.txs.is_empty());
    // Without a deadline the same calls run to the end.
    assert!(!trace(s, &whole(&[g.a]), &limits(Direction::Forward, 3)).unwrap().truncated);
    assert_eq!(shortest_path(s, &[g.a], &[g.d], &path_limits(10)).unwrap().txs.len(), 3);
}
