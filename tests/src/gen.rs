//! Generates a realistic regtest chain with known ground truth: a few hundred entities pay each
//! other, use exchanges, consolidate, peel, fan out and CoinJoin, and a thief launders a theft.
//!
//! Everything is decided by a seeded RNG and built and signed locally; blocks of many
//! transactions go to the node with `generateblock`, so 100k transactions take minutes.

use std::collections::BTreeMap;

use anyhow::{ensure, Context, Result};
use bitcoincore_rpc::Client;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::gen_activity::{fund, random_activity, spend_coin};
use crate::gen_case::{fund_victim, run_case};
use crate::gen_chain::{BlockSink, Chain, RpcSink};
use crate::gen_world::{feerate, pick, Actor, Dest, Layout, Out, Role, TxKind, World, NETWORK};
use crate::truth::{Entity, Truth};
use crate::wallet::{ScriptKind, Wallet};

/// Blocks mined before any activity, so that coinbases mature.
pub const BOOTSTRAP_BLOCKS: u32 = 110;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenParams {
    /// Same seed, same activities, owners and amounts.
    pub seed: u64,
    /// Stop once this many transactions (coinbases not counted) were made.
    pub target_txs: usize,
    /// Transactions per block (fewer if a block would exceed the weight or sigop limit).
    pub txs_per_block: usize,
    pub users: u32,
    pub exchanges: u32,
}

impl Default for GenParams {
    fn default() -> Self {
        GenParams { seed: 1, target_txs: 3_000, txs_per_block: 1_500, users: 250, exchanges: 6 }
    }
}

/// Generates the chain on `rpc`, a node on a fresh regtest chain (height 0).
pub fn generate(rpc: &Client, params: &GenParams) -> Result<Truth> {
    let mut sink = RpcSink::new(rpc)?;
    generate_with(&mut sink, params)
}

/// Generates the chain into any block sink.
pub fn generate_with(sink: &mut dyn BlockSink, params: &GenParams) -> Result<Truth> {
    ensure!(params.users >= 20, "need at least 20 users, got {}", params.users);
    ensure!(params.exchanges >= 1, "need at least one exchange");
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let (actors, layout) = create_actors(&mut rng, params);
    let chain = Chain::new(sink, params.txs_per_block);
    let mut w = World::new(rng, Wallet::new(params.seed, NETWORK), actors, layout, chain);

    bootstrap(&mut w).context("mining the first blocks")?;
    distribute(&mut w).context("paying out the first coinbases")?;
    fund_victim(&mut w).context("funding the victim")?;
    kind_tour(&mut w).context("paying to and spending every script kind")?;

    let case_at = (params.target_txs / 4).max(w.generated());
    let mut case = None;
    let mut idle = 0;
    while w.generated() < params.target_txs || case.is_none() {
        if case.is_none() && w.generated() >= case_at {
            case = Some(run_case(&mut w, &mut interleave).context("building the investigation case")?);
            continue;
        }
        let before = w.generated();
        random_activity(&mut w)?;
        idle = if w.generated() == before { idle + 1 } else { 0 };
        ensure!(idle < 10_000, "the economy ran dry after {} transactions", w.generated());
    }
    if w.chain.has_pending() {
        w.mine_block()?;
    }
    let case = case.context("the case was not built")?;
    Ok(into_truth(w, params.seed, case))
}

/// A few random activities between two steps of the case.
fn interleave(w: &mut World<'_>) -> Result<()> {
    for _ in 0..w.rng.gen_range(1..=4) {
        random_activity(w)?;
    }
    Ok(())
}

fn create_actors(rng: &mut ChaCha8Rng, params: &GenParams) -> (Vec<Actor>, Layout) {
    let exchanges = 1..1 + params.exchanges;
    let mixer = exchanges.end;
    let users = mixer + 3..mixer + 3 + params.users;
    let layout = Layout { miner: 0, exchanges, mixer, victim: mixer + 1, thief: mixer + 2, users };
    let user_kinds = [
        (35, ScriptKind::P2wpkh),
        (20, ScriptKind::P2tr),
        (15, ScriptKind::P2pkh),
        (20, ScriptKind::P2shP2wpkh),
        (10, ScriptKind::P2wshMultisig),
    ];
    let mut actors = Vec::with_capacity(layout.users.end as usize);
    let mut add = |role: Role, name: String, preferred: ScriptKind| {
        // One user in four runs a wallet that never reuses an address.
        let never_reuses = role == Role::User && actors.len() % 4 == 0;
        actors.push(Actor { role, name, preferred, never_reuses, scripts: Vec::new(), utxos: Vec::new() });
    };
    add(Role::Miner, "miner".into(), ScriptKind::P2wpkh);
    for i in layout.exchanges.clone() {
        let kind = if i % 2 == 1 { ScriptKind::P2wpkh } else { ScriptKind::P2shP2wpkh };
        add(Role::Exchange, format!("exchange-{i}"), kind);
    }
    add(Role::Mixer, "mixer".into(), ScriptKind::P2tr);
    add(Role::Victim, "victim".into(), ScriptKind::P2pkh);
    add(Role::Thief, "thief".into(), ScriptKind::P2wpkh);
    for i in 0..params.users {
        let mut roll = rng.gen_range(0..100);
        let kind = user_kinds
            .iter()
            .find(|(weight, _)| {
                let hit = roll < *weight;
                roll -= if hit { 0 } else { *weight };
                hit
            })
            .map_or(ScriptKind::P2wpkh, |(_, kind)| *kind);
        add(Role::User, format!("user-{i:04}"), kind);
    }
    (actors, layout)
}

/// Payout scripts for the miner and the mixer, then enough blocks for the first coinbases to mature.
fn bootstrap(w: &mut World<'_>) -> Result<()> {
    let miner = w.layout.miner;
    for kind in [ScriptKind::P2wpkh, ScriptKind::P2pkh, ScriptKind::P2tr] {
        w.new_script(miner, kind);
    }
    w.new_script(w.layout.mixer, ScriptKind::P2tr);
    for _ in 0..BOOTSTRAP_BLOCKS {
        w.mine_block()?;
    }
    Ok(())
}

/// The miner pays its matured coinbases to the exchanges (45%) and the users (50%).
fn distribute(w: &mut World<'_>) -> Result<()> {
    let miner = w.layout.miner;
    let budget = w.balance(miner);
    let mut payments = Vec::new();
    let exchanges = w.layout.exchanges.clone();
    let per_exchange = budget * 45 / 100 / (3 * exchanges.len() as u64);
    for exchange in exchanges {
        for _ in 0..3 {
            payments.push(Out { dest: Dest::Script(w.fresh_script(exchange)), value: per_exchange });
        }
    }
    let users: Vec<u32> = w.layout.users.clone().collect();
    let weights: Vec<f64> = users.iter().map(|_| 10f64.powf(w.rng.gen_range(0.0..2.0))).collect();
    let sum: f64 = weights.iter().sum();
    for (&user, weight) in users.iter().zip(&weights) {
        let value = (budget as f64 * 0.5 * weight / sum) as u64;
        payments.push(Out { dest: Dest::Script(w.fresh_script(user)), value });
    }
    for batch in payments.chunks(100) {
        let rate = feerate(&mut w.rng);
        let needed: u64 = batch.iter().map(|o| o.value).sum();
        let dests: Vec<Dest> = batch.iter().map(|o| o.dest.clone()).collect();
        let inputs = fund(w, miner, needed, &dests, rate).context("the miner ran out of coinbases")?;
        let change = w.change_script(miner, &inputs);
        w.send(TxKind::Fanout, &inputs, batch.to_vec(), change, rate)?;
    }
    Ok(())
}

/// A rich user pays one output of every script kind to random users, who then spend them.
fn kind_tour(w: &mut World<'_>) -> Result<()> {
    let users = w.layout.users.clone();
    let payer = users.clone().max_by_key(|&u| (w.balance(u), u)).context("no users")?;
    let mut payments = Vec::new();
    for kind in ScriptKind::ALL {
        let receiver = loop {
            let user = pick(&mut w.rng, &users);
            if user != payer {
                break user;
            }
        };
        let value = w.rng.gen_range(1_000_000..5_000_000);
        payments.push(Out { dest: Dest::Script(w.new_script(receiver, kind)), value });
    }
    let rate = feerate(&mut w.rng);
    let needed: u64 = payments.iter().map(|o| o.value).sum();
    let dests: Vec<Dest> = payments.iter().map(|o| o.dest.clone()).collect();
    let inputs = fund(w, payer, needed, &dests, rate).context("the richest user cannot pay the tour")?;
    let change = w.change_script(payer, &inputs);
    let sent = w.send(TxKind::Payment, &inputs, payments, change, rate)?;
    let change_vout = sent.change.map(|c| c.outpoint.vout);
    for coin in sent.outputs.iter().flatten().filter(|c| Some(c.outpoint.vout) != change_vout) {
        let coin = w.take(coin)?;
        spend_coin(w, coin)?;
    }
    Ok(())
}

fn into_truth(w: World<'_>, seed: u64, case: crate::truth::CaseInfo) -> Truth {
    let mut balances: BTreeMap<String, u64> = w.infos.iter().map(|i| (i.script_hex.clone(), 0)).collect();
    for coin in w.all_unspent() {
        if let Some(balance) = balances.get_mut(&w.infos[coin.script as usize].script_hex) {
            *balance += coin.value;
        }
    }
    let tip_height = w.chain.height();
    let tip_hash = w.chain.tip().map(|h| h.to_string()).unwrap_or_default();
    let (actors, scripts, chain) = w.into_parts();
    let entities = actors
        .iter()
        .enumerate()
        .map(|(id, a)| Entity { id: id as u32, name: a.name.clone(), kind: a.role.name().to_string() })
        .collect();
    Truth { seed, tip_height, tip_hash, entities, scripts, txs: chain.into_txs(), balances, case }
}

#[cfg(test)]
#[path = "gen_tests.rs"]
mod tests;
