//! End-to-end tests of `TestEnv` and the wallet against a real regtest `bitcoind`: start and stop,
//! mining, paying to and spending every script kind, node-side signing, reorgs and restarts.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use bitcoin::consensus::encode::serialize;
use bitcoin::{Amount, BlockHash, OutPoint, Transaction, TxOut};
use bitcoincore_rpc::json::SignRawTransactionInput;
use bitcoincore_rpc::RpcApi;
use chaintrail_tests::wallet::unsigned_tx;
use chaintrail_tests::{OwnedScript, ScriptKind, Spent, TestEnv, Wallet};
use serde_json::{json, Value};

const COIN: u64 = 100_000_000;

/// A spendable output of ours.
struct Coin {
    outpoint: OutPoint,
    value: u64,
    script: OwnedScript,
}

/// Mines 101 blocks to a fresh P2WPKH of `wallet` and returns the now mature first coinbase.
fn mature_coinbase(env: &TestEnv, wallet: &mut Wallet) -> Result<Coin> {
    let script = wallet.new_script(ScriptKind::P2wpkh);
    let address = script.address(env.network()).context("p2wpkh has an address")?;
    let hashes = env.mine(101, &address)?;
    let coinbase = env.rpc().get_block(&hashes[0])?.txdata.swap_remove(0);
    let vout = coinbase
        .output
        .iter()
        .position(|o| o.script_pubkey.as_script() == script.script_pubkey())
        .context("coinbase pays our script")?;
    let outpoint = OutPoint { txid: coinbase.compute_txid(), vout: vout as u32 };
    Ok(Coin { outpoint, value: coinbase.output[vout].value.to_sat(), script })
}

/// Spends `coin` into one output of `value` per script (the rest, less 10k sat, is fee).
fn pay_to(wallet: &Wallet, coin: &Coin, scripts: Vec<OwnedScript>, value: u64) -> Result<(Transaction, Vec<Coin>)> {
    let outputs = scripts
        .iter()
        .map(|s| TxOut { value: Amount::from_sat(value), script_pubkey: s.script_pubkey().to_owned() })
        .collect();
    let mut tx = unsigned_tx(&[coin.outpoint], outputs);
    let change = coin.value - value * scripts.len() as u64 - 10_000;
    tx.output.push(TxOut { value: Amount::from_sat(change), script_pubkey: coin.script.script_pubkey().to_owned() });
    wallet.sign(&mut tx, &[Spent { script: &coin.script, value: Amount::from_sat(coin.value) }])?;
    let txid = tx.compute_txid();
    let coins = scripts
        .into_iter()
        .enumerate()
        .map(|(vout, script)| Coin { outpoint: OutPoint { txid, vout: vout as u32 }, value, script })
        .collect();
    Ok((tx, coins))
}

/// An unsigned transaction spending all `coins` to one throwaway output (10k sat fee).
fn sweep_unsigned(env: &TestEnv, coins: &[Coin]) -> Transaction {
    let total: u64 = coins.iter().map(|c| c.value).sum();
    let out = TxOut { value: Amount::from_sat(total - 10_000), script_pubkey: env.new_address().script_pubkey() };
    unsigned_tx(&coins.iter().map(|c| c.outpoint).collect::<Vec<_>>(), vec![out])
}

fn spent_of(coins: &[Coin]) -> Vec<Spent<'_>> {
    coins.iter().map(|c| Spent { script: &c.script, value: Amount::from_sat(c.value) }).collect()
}

/// Total the node's UTXO set holds for one script.
fn scanned(env: &TestEnv, script: &OwnedScript) -> Result<Amount> {
    Ok(env.scan(&[script.scan_descriptor(env.network())])?.total_amount)
}

fn in_best_chain(env: &TestEnv, hash: &BlockHash) -> Result<bool> {
    let header: Value = env.rpc().call("getblockheader", &[json!(hash)])?;
    Ok(header["confirmations"].as_i64().context("confirmations")? >= 0)
}

#[test]
fn node_answers_on_loopback_and_is_gone_with_its_datadir_after_drop() -> Result<()> {
    let env = TestEnv::new()?;
    let info: Value = env.rpc().call("getblockchaininfo", &[])?;
    assert_eq!(info["chain"], "regtest");
    assert_eq!(info["blocks"], 0);
    assert_eq!(env.rpc_url(), format!("http://127.0.0.1:{}", env.rpc_port()));
    assert_eq!(env.cookie_path(), env.datadir().join("regtest").join(".cookie"));
    assert!(env.cookie_path().is_file());
    let network: Value = env.rpc().call("getnetworkinfo", &[])?;
    let local = network["localaddresses"].as_array().map_or(0, Vec::len);
    assert_eq!(local, 0, "no public addresses are advertised");
    let pid = env.pid().context("running node has a pid")?;
    let datadir = env.datadir().to_path_buf();
    drop(env);
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "bitcoind {pid} still runs");
    assert!(!datadir.exists(), "{} was not removed", datadir.display());
    Ok(())
}

#[test]
fn mining_raises_the_block_count_and_pays_the_address() -> Result<()> {
    let env = TestEnv::new()?;
    let mut wallet = Wallet::new(1, env.network());
    let script = wallet.new_script(ScriptKind::P2tr);
    let address = script.address(env.network()).context("address")?;
    let hashes = env.mine(12, &address)?;
    assert_eq!(hashes.len(), 12);
    assert_eq!(env.height()?, 12);
    assert_eq!(env.tip()?, hashes[11]);
    let scan = env.scan(&[script.scan_descriptor(env.network())])?;
    assert_eq!(scan.unspents.len(), 12);
    assert_eq!(scan.total_amount, Amount::from_sat(12 * 50 * COIN));
    env.mine_to_new(3)?;
    assert_eq!(env.height()?, 15);
    assert_eq!(scanned(&env, &script)?, Amount::from_sat(12 * 50 * COIN), "other blocks paid elsewhere");
    Ok(())
}

#[test]
fn every_script_kind_is_received_and_then_spent_through_the_mempool() -> Result<()> {
    let env = TestEnv::builder().txindex(true).build()?;
    let mut wallet = Wallet::new(2, env.network());
    let coin = mature_coinbase(&env, &mut wallet)?;
    let scripts: Vec<OwnedScript> = ScriptKind::ALL.iter().map(|&k| wallet.new_script(k)).collect();
    let (fund, coins) = pay_to(&wallet, &coin, scripts, COIN)?;
    assert_eq!(env.send(&fund)?, fund.compute_txid());
    env.mine_to_new(1)?;
    for c in &coins {
        assert_eq!(scanned(&env, &c.script)?, Amount::ONE_BTC, "{} output not in the UTXO set", c.script.kind().name());
    }
    let mut spend = sweep_unsigned(&env, &coins);
    wallet.sign(&mut spend, &spent_of(&coins))?;
    let txid = env.send(&spend)?;
    let block = env.mine_to_new(1)?[0];
    for c in &coins {
        assert_eq!(scanned(&env, &c.script)?, Amount::ZERO, "{} output still unspent", c.script.kind().name());
    }
    let info = env.rpc().get_raw_transaction_info(&txid, None)?;
    assert_eq!(info.blockhash, Some(block));
    let vins: Vec<OutPoint> = info
        .vin
        .iter()
        .map(|v| Ok(OutPoint { txid: v.txid.context("vin txid")?, vout: v.vout.context("vin vout")? }))
        .collect::<Result<_>>()?;
    let expected: Vec<OutPoint> = coins.iter().map(|c| c.outpoint).collect();
    assert_eq!(vins, expected);
    Ok(())
}

#[test]
fn node_signs_non_taproot_spends_byte_for_byte_like_the_wallet() -> Result<()> {
    let env = TestEnv::new()?;
    let mut wallet = Wallet::new(3, env.network());
    let coin = mature_coinbase(&env, &mut wallet)?;
    let kinds = ScriptKind::ALL.into_iter().filter(|&k| k != ScriptKind::P2tr);
    let scripts: Vec<OwnedScript> = kinds.map(|k| wallet.new_script(k)).collect();
    let (fund, coins) = pay_to(&wallet, &coin, scripts, 2 * COIN)?;
    env.generate_block(&[fund])?;

    let unsigned = sweep_unsigned(&env, &coins);
    let mut local = unsigned.clone();
    wallet.sign(&mut local, &spent_of(&coins))?;
    let keys: Vec<_> = coins.iter().flat_map(|c| c.script.keys()).map(|k| k.private_key(env.network())).collect();
    let prevtxs: Vec<SignRawTransactionInput> = coins
        .iter()
        .map(|c| SignRawTransactionInput {
            txid: c.outpoint.txid,
            vout: c.outpoint.vout,
            script_pub_key: c.script.script_pubkey().to_owned(),
            redeem_script: c.script.redeem_script().or(c.script.witness_script()).map(ToOwned::to_owned),
            amount: Some(Amount::from_sat(c.value)),
        })
        .collect();
    let signed = env.rpc().sign_raw_transaction_with_key(&unsigned, &keys, Some(&prevtxs), None)?;
    assert!(signed.complete, "node could not sign: {:?}", signed.errors);
    assert_eq!(hex::encode(&signed.hex), hex::encode(serialize(&local)));

    let accepted = env.rpc().test_mempool_accept(&[&signed.hex])?;
    assert!(accepted[0].allowed, "rejected: {:?}", accepted[0].reject_reason);
    let txid = env.send(&signed.transaction()?)?;
    assert_eq!(txid, local.compute_txid());
    let block = env.mine_to_new(1)?[0];
    let txids: Vec<_> = env.rpc().get_block(&block)?.txdata.iter().map(Transaction::compute_txid).collect();
    assert!(txids.contains(&txid));
    Ok(())
}

#[test]
fn generate_block_mines_a_chain_of_spends_that_never_entered_the_mempool() -> Result<()> {
    let env = TestEnv::new()?;
    let mut wallet = Wallet::new(4, env.network());
    let coin = mature_coinbase(&env, &mut wallet)?;
    let multisig = wallet.new_script(ScriptKind::P2wshMultisig);
    let (first, children) = pay_to(&wallet, &coin, vec![multisig], COIN)?;
    let mut second = sweep_unsigned(&env, &children);
    wallet.sign(&mut second, &spent_of(&children))?;
    let hash = env.generate_block(&[first.clone(), second.clone()])?;
    let block = env.rpc().get_block(&hash)?;
    let txids: Vec<_> = block.txdata.iter().map(Transaction::compute_txid).collect();
    assert_eq!(txids[1..], [first.compute_txid(), second.compute_txid()]);
    let mempool: Vec<Value> = env.rpc().call("getrawmempool", &[])?;
    assert!(mempool.is_empty());
    assert_eq!(scanned(&env, &children[0].script)?, Amount::ZERO);
    Ok(())
}

#[test]
fn reorg_by_three_replaces_three_blocks_with_four_new_ones() -> Result<()> {
    let env = TestEnv::new()?;
    let old = env.mine_to_new(10)?;
    let old_tip = old[9];
    let new = env.reorg(3)?;
    assert_eq!(new.len(), 4);
    assert_eq!(env.height()?, 11);
    assert_eq!(env.tip()?, new[3]);
    assert!(!in_best_chain(&env, &old_tip)?, "old tip is still in the best chain");
    for (i, replaced) in old[7..].iter().enumerate() {
        assert!(!in_best_chain(&env, replaced)?);
        assert_ne!(new[i], *replaced);
    }
    assert!(in_best_chain(&env, &old[6])?, "the fork point stays");
    for (height, hash) in (8u64..=11).zip(&new) {
        assert_eq!(env.rpc().get_block_hash(height)?, *hash);
    }
    let tips: Vec<Value> = env.rpc().call("getchaintips", &[])?;
    let stale = tips.iter().find(|t| t["hash"] == json!(old_tip)).context("old tip is a known fork")?;
    assert_eq!(stale["branchlen"], 3);
    Ok(())
}

#[test]
fn restart_keeps_the_chain_and_gives_a_working_client() -> Result<()> {
    let mut env = TestEnv::new()?;
    env.mine_to_new(5)?;
    let tip = env.tip()?;
    let first_pid = env.pid();
    env.restart()?;
    ensure!(env.pid() != first_pid, "restart did not start a new process");
    assert_eq!(env.height()?, 5);
    assert_eq!(env.tip()?, tip);
    env.stop()?;
    assert!(!env.is_running());
    assert!(env.height().is_err(), "a stopped node does not answer");
    env.start()?;
    env.mine_to_new(1)?;
    assert_eq!(env.height()?, 6);
    Ok(())
}
