//! End-to-end tests of the chain generator against a real node: the ground truth it records
//! agrees with the node's UTXO set and transactions, and a seed always gives the same chain.

use std::collections::HashMap;

use anyhow::{Context, Result};
use bitcoin::consensus::encode::deserialize;
use bitcoin::{Amount, Transaction, Txid};
use bitcoincore_rpc::RpcApi;
use chaintrail_tests::{generate, GenParams, ScriptInfo, TestEnv, Truth, TxInfo};

fn params(seed: u64, target_txs: usize) -> GenParams {
    GenParams { seed, target_txs, txs_per_block: 300, ..GenParams::default() }
}

fn descriptor(script: &ScriptInfo) -> String {
    match &script.address {
        Some(address) => format!("addr({address})"),
        None => format!("raw({})", script.script_hex),
    }
}

/// Scripts to check: 60 with a balance spread over the list, a spent-out one and a funded one of
/// every kind, and every script of the case.
fn sample_scripts(truth: &Truth) -> Vec<&ScriptInfo> {
    let funded: Vec<&ScriptInfo> = truth.scripts.iter().filter(|s| truth.balances[&s.script_hex] > 0).collect();
    let step = (funded.len() / 60).max(1);
    let mut sample: Vec<&ScriptInfo> = funded.iter().step_by(step).take(60).copied().collect();
    for kind in ["p2pkh", "p2sh_p2wpkh", "p2wpkh", "p2wsh_multisig", "p2tr", "bare_multisig"] {
        let of_kind = |spent: bool| {
            truth.scripts.iter().find(|s| s.kind == kind && (truth.balances[&s.script_hex] == 0) == spent)
        };
        sample.extend(of_kind(true));
        sample.extend(of_kind(false));
    }
    let case = &truth.case;
    for address in [&case.victim_address, &case.thief_address, &case.exchange_deposit_address] {
        sample.extend(truth.script_by_address(address));
    }
    sample
}

#[test]
fn balances_in_the_truth_equal_the_nodes_utxo_set() -> Result<()> {
    let env = TestEnv::new()?;
    let truth = generate(env.rpc(), &params(11, 3_000))?;
    assert_eq!(env.height()?, u64::from(truth.tip_height));
    assert_eq!(env.tip()?.to_string(), truth.tip_hash);

    let sample = sample_scripts(&truth);
    let funded = sample.iter().filter(|s| truth.balances[&s.script_hex] > 0).count();
    assert!(funded >= 50, "only {funded} funded scripts sampled");
    let descriptors: Vec<String> = sample.iter().map(|s| descriptor(s)).collect();
    let scan = env.scan(&descriptors)?;
    let mut on_node: HashMap<String, Amount> = HashMap::new();
    for utxo in &scan.unspents {
        *on_node.entry(hex::encode(utxo.script_pub_key.as_bytes())).or_default() += utxo.amount;
    }
    for script in &sample {
        let node = on_node.get(&script.script_hex).copied().unwrap_or(Amount::ZERO);
        let expected = Amount::from_sat(truth.balances[&script.script_hex]);
        assert_eq!(node, expected, "{} script {} ({:?})", script.kind, script.script_hex, script.address);
    }
    let deposit = truth.script_by_address(&truth.case.exchange_deposit_address).context("deposit script")?;
    assert_eq!(truth.entities[deposit.owner as usize].kind, "exchange");
    Ok(())
}

/// Every 50th transaction, every coinbase of the last blocks, and all of the case.
fn sample_txs(truth: &Truth) -> Vec<&TxInfo> {
    let case = &truth.case;
    let mut wanted: Vec<&str> =
        vec![&case.theft_txid, &case.fanout_txid, &case.coinjoin_txid, &case.consolidation_txid];
    wanted.extend(case.peel_chain.iter().map(String::as_str));
    let mut sample: Vec<&TxInfo> = truth.txs.iter().step_by(50).collect();
    sample.extend(truth.txs.iter().rev().filter(|t| t.kind == "coinbase").take(5));
    sample.extend(wanted.iter().filter_map(|txid| truth.tx(txid)));
    sample
}

#[test]
fn truth_transactions_match_the_nodes_inputs_outputs_and_heights() -> Result<()> {
    let env = TestEnv::builder().txindex(true).build()?;
    let truth = generate(env.rpc(), &params(12, 3_000))?;
    let sample = sample_txs(&truth);
    assert!(sample.len() >= 60);
    for info in sample {
        let txid: Txid = info.txid.parse()?;
        let node = env.rpc().get_raw_transaction_info(&txid, None)?;
        let tx: Transaction = deserialize(&node.hex)?;
        let confirmations = node.confirmations.context("confirmed")?;
        assert_eq!(truth.tip_height + 1 - confirmations, info.height, "height of {txid}");
        let inputs: Vec<(String, u32)> = if tx.is_coinbase() {
            Vec::new()
        } else {
            tx.input.iter().map(|i| (i.previous_output.txid.to_string(), i.previous_output.vout)).collect()
        };
        let expected: Vec<(String, u32)> = info.inputs.iter().map(|i| (i.txid.clone(), i.vout)).collect();
        assert_eq!(inputs, expected, "inputs of {} tx {txid}", info.kind);
        let outputs: Vec<(u64, String)> =
            tx.output.iter().map(|o| (o.value.to_sat(), hex::encode(o.script_pubkey.as_bytes()))).collect();
        let expected: Vec<(u64, String)> = info.outputs.iter().map(|o| (o.value_sat, o.script_hex.clone())).collect();
        assert_eq!(outputs, expected, "outputs of {} tx {txid}", info.kind);
    }
    let peel_start = env.rpc().get_raw_transaction_info(&truth.case.peel_chain[0].parse()?, None)?;
    assert_eq!(peel_start.vin[0].txid.map(|t| t.to_string()), Some(truth.case.theft_txid.clone()));
    Ok(())
}

#[test]
fn same_seed_on_two_nodes_gives_the_same_kinds_values_scripts_and_txids() -> Result<()> {
    let (first, second) = (TestEnv::new()?, TestEnv::new()?);
    let a = generate(first.rpc(), &params(13, 1_000))?;
    let b = generate(second.rpc(), &params(13, 1_000))?;
    let shape = |t: &Truth| -> Vec<(String, Vec<u64>)> {
        t.txs.iter().map(|tx| (tx.kind.clone(), tx.outputs.iter().map(|o| o.value_sat).collect())).collect()
    };
    assert_eq!(shape(&a), shape(&b));
    assert_eq!(a.scripts, b.scripts);
    assert_eq!(a.balances, b.balances);
    assert_eq!(a.tip_height, b.tip_height);
    // Coinbases do not depend on block time, so even the txids agree.
    assert_eq!(a.txs, b.txs);
    assert_eq!(a.case.stolen_sat, b.case.stolen_sat);
    Ok(())
}

#[test]
fn chaingen_binary_fills_the_node_and_writes_a_loadable_truth_file() -> Result<()> {
    let env = TestEnv::new()?;
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("truth.json");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_chaingen"))
        .args(["--rpc-url", &env.rpc_url(), "--seed", "14", "--txs", "600", "--txs-per-block", "200"])
        .arg("--rpc-cookie")
        .arg(env.cookie_path())
        .arg("--out")
        .arg(&out)
        .env("RUST_LOG", "warn")
        .output()?;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "chaingen failed: {stderr}");
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), out.display().to_string());
    let truth = Truth::load(&out)?;
    let generated = truth.txs.len() - truth.blocks();
    assert!(generated >= 600);
    assert!(stderr.contains(&format!("{generated} txs in {} blocks", truth.blocks())), "summary: {stderr}");
    assert_eq!(env.tip()?.to_string(), truth.tip_hash);
    assert_eq!(truth.seed, 14);
    Ok(())
}
