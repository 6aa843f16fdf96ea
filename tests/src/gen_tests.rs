//! Unit tests of the generator against a stub block sink (no node): determinism, value
//! conservation, coverage of every activity and script kind, and the shape of the case.

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::Result;
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::script::Builder;
use bitcoin::{
    absolute, transaction, Amount, BlockHash, OutPoint, Script, Sequence, Transaction, TxIn, TxOut, Witness,
};

use super::*;
use crate::gen_chain::MinedBlock;
use crate::truth::TxInfo;

/// Mines nothing: makes up a coinbase per block, like regtest would.
struct StubSink {
    height: u32,
}

impl BlockSink for StubSink {
    fn mine(&mut self, coinbase_script: &Script, _txs: &[Transaction]) -> Result<MinedBlock> {
        self.height += 1;
        let subsidy = (50 * 100_000_000u64) >> (self.height / 150);
        let coinbase = Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: Builder::new().push_int(i64::from(self.height)).push_int(0).into_script(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut { value: Amount::from_sat(subsidy), script_pubkey: coinbase_script.to_owned() }],
        };
        let hash = BlockHash::from_raw_hash(sha256d::Hash::hash(&self.height.to_le_bytes()));
        Ok(MinedBlock { hash, height: self.height, coinbase })
    }
}

fn run(seed: u64, target_txs: usize) -> Truth {
    let params = GenParams { seed, target_txs, txs_per_block: 150, ..GenParams::default() };
    generate_with(&mut StubSink { height: 0 }, &params).expect("generation succeeds")
}

/// Outputs by outpoint, over the whole chain.
fn outputs(truth: &Truth) -> HashMap<(String, u32), (u64, String)> {
    let mut map = HashMap::new();
    for tx in &truth.txs {
        for (vout, out) in tx.outputs.iter().enumerate() {
            map.insert((tx.txid.clone(), vout as u32), (out.value_sat, out.script_hex.clone()));
        }
    }
    map
}

#[test]
fn same_seed_gives_the_same_chain_and_another_seed_does_not() {
    let a = run(42, 600);
    let b = run(42, 600);
    let c = run(43, 600);
    assert_eq!(a, b);
    assert_ne!(a.txs, c.txs);
}

#[test]
fn every_input_spends_an_earlier_unspent_output_and_every_tx_pays_a_fee() {
    let truth = run(5, 1_500);
    let outs = outputs(&truth);
    let mut seen = HashSet::new();
    let mut spent = HashSet::new();
    for tx in &truth.txs {
        if tx.kind == "coinbase" {
            assert!(tx.inputs.is_empty());
            seen.insert(tx.txid.clone());
            continue;
        }
        let mut value_in = 0;
        for input in &tx.inputs {
            let key = (input.txid.clone(), input.vout);
            assert!(seen.contains(&input.txid), "{} spends a later or unknown tx", tx.txid);
            assert!(spent.insert(key.clone()), "{} double-spends {}:{}", tx.txid, input.txid, input.vout);
            value_in += outs[&key].0;
        }
        let value_out: u64 = tx.outputs.iter().map(|o| o.value_sat).sum();
        assert!(value_in > value_out, "{} ({}) pays no fee", tx.txid, tx.kind);
        seen.insert(tx.txid.clone());
    }
}

#[test]
fn balances_equal_the_unspent_outputs_of_each_tracked_script() {
    let truth = run(6, 1_500);
    let mut unspent: HashMap<(String, u32), (u64, String)> = outputs(&truth);
    for tx in &truth.txs {
        for input in &tx.inputs {
            unspent.remove(&(input.txid.clone(), input.vout));
        }
    }
    let mut expected: BTreeMap<String, u64> = truth.scripts.iter().map(|s| (s.script_hex.clone(), 0)).collect();
    for (value, script) in unspent.values() {
        if let Some(balance) = expected.get_mut(script) {
            *balance += value;
        }
    }
    assert_eq!(truth.balances, expected);
    assert!(truth.balances.values().filter(|&&v| v > 0).count() > 100);
}

#[test]
fn all_activity_kinds_occur_and_every_script_kind_is_received_and_spent() {
    let truth = run(7, 2_000);
    let counts = truth.kind_counts();
    for kind in [
        "coinbase",
        "payment",
        "deposit",
        "withdrawal",
        "op_return",
        "consolidation",
        "peel",
        "fanout",
        "coinjoin",
        "theft",
    ] {
        assert!(counts.get(kind).copied().unwrap_or(0) > 0, "no {kind} tx in {counts:?}");
    }
    let kind_of: HashMap<&str, &str> = truth.scripts.iter().map(|s| (s.script_hex.as_str(), s.kind.as_str())).collect();
    let outs = outputs(&truth);
    let spent_kinds: BTreeSet<&str> = truth
        .txs
        .iter()
        .flat_map(|t| &t.inputs)
        .filter_map(|i| kind_of.get(outs[&(i.txid.clone(), i.vout)].1.as_str()).copied())
        .collect();
    let expected = BTreeSet::from(["p2pkh", "p2sh_p2wpkh", "p2wpkh", "p2wsh_multisig", "p2tr", "bare_multisig"]);
    assert_eq!(spent_kinds, expected);
    assert!(truth.txs.len() >= 2_000 + BOOTSTRAP_BLOCKS as usize);
    assert_eq!(truth.blocks() as u32, truth.tip_height);
}

#[test]
fn consolidations_fanouts_and_coinjoins_have_their_shapes() {
    let truth = run(8, 3_000);
    for tx in truth.txs_of_kind("consolidation") {
        assert!((10..=50).contains(&tx.inputs.len()), "consolidation with {} inputs", tx.inputs.len());
        assert_eq!(tx.outputs.len(), 1);
    }
    assert!(truth.txs_of_kind("fanout").all(|t| t.outputs.len() >= 20));
    let owner: HashMap<&str, u32> = truth.scripts.iter().map(|s| (s.script_hex.as_str(), s.owner)).collect();
    for tx in truth.txs_of_kind("coinjoin") {
        let mut by_value: HashMap<u64, usize> = HashMap::new();
        for out in &tx.outputs {
            *by_value.entry(out.value_sat).or_default() += 1;
        }
        let owners: HashSet<u32> =
            tx.outputs.iter().filter_map(|o| owner.get(o.script_hex.as_str()).copied()).collect();
        assert!(by_value.values().any(|&n| n >= 5), "no 5 equal outputs in {}", tx.txid);
        assert!(owners.len() >= 6, "coinjoin {} has {} owners", tx.txid, owners.len());
    }
}

#[test]
fn the_case_follows_the_loot_from_victim_to_exchange_deposit() {
    let truth = run(9, 800);
    let case = &truth.case;
    let theft = truth.tx(&case.theft_txid).expect("theft tx");
    assert_eq!(theft.kind, "theft");
    assert_eq!(theft.outputs.len(), 1);
    assert_eq!(theft.outputs[0].address.as_deref(), Some(case.thief_address.as_str()));
    assert_eq!(theft.outputs[0].value_sat, case.stolen_sat);
    assert!(case.peel_chain.len() >= 12);
    let first: &TxInfo = truth.tx(&case.peel_chain[0]).expect("first hop");
    assert_eq!(first.inputs[0].txid, case.theft_txid);
    for pair in case.peel_chain.windows(2) {
        let next = truth.tx(&pair[1]).expect("hop");
        assert_eq!(next.inputs.len(), 1);
        assert_eq!(next.inputs[0].txid, pair[0], "each hop spends the previous hop");
    }
    let fanout = truth.tx(&case.fanout_txid).expect("fan-out");
    assert_eq!(fanout.inputs[0].txid, *case.peel_chain.last().expect("hops"));
    assert!(fanout.outputs.len() >= 20);
    let coinjoin = truth.tx(&case.coinjoin_txid).expect("coinjoin");
    assert!(coinjoin.inputs.iter().any(|i| i.txid == case.fanout_txid));
    let consolidation = truth.tx(&case.consolidation_txid).expect("consolidation");
    assert!(consolidation.inputs.iter().any(|i| i.txid == case.coinjoin_txid));
    assert!(consolidation.inputs.iter().filter(|i| i.txid == case.fanout_txid).count() >= 10);
    assert_eq!(consolidation.outputs.len(), 1);
    assert_eq!(consolidation.outputs[0].address.as_deref(), Some(case.exchange_deposit_address.as_str()));
    let deposit = truth.script_by_address(&case.exchange_deposit_address).expect("deposit script");
    assert_eq!(deposit.owner, case.exchange_entity);
    assert_eq!(truth.entities[case.exchange_entity as usize].kind, "exchange");
    let victim = truth.script_by_address(&case.victim_address).expect("victim script");
    assert_eq!(truth.entities[victim.owner as usize].kind, "victim");
}
