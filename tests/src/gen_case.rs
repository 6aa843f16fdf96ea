//! The investigation case built into every generated chain: a victim is robbed, and the thief
//! launders the coins through a peel chain, a fan-out and a CoinJoin, then consolidates what is
//! left into an exchange deposit address.

use anyhow::{bail, Context, Result};
use rand::Rng;

use crate::gen_activity::{coinjoin, fund, peel_hop, split, sweep};
use crate::gen_world::{feerate, pick, Dest, Out, TxKind, Utxo, World, DUST};
use crate::truth::CaseInfo;
use crate::wallet::ScriptKind;

/// Activity run between two steps of the case, so the story spreads over the chain.
pub(crate) type Interleave<'f> = &'f mut dyn FnMut(&mut World<'_>) -> Result<()>;

/// Two exchange withdrawals of 5-10 BTC each land on the victim's one (reused) address.
pub(crate) fn fund_victim(w: &mut World<'_>) -> Result<()> {
    let victim = w.layout.victim;
    let to = w.new_script(victim, ScriptKind::P2pkh);
    for _ in 0..2 {
        let exchange = w.layout.exchanges.clone().max_by_key(|&e| (w.balance(e), e)).context("no exchanges")?;
        let amount = w.rng.gen_range(500_000_000..=1_000_000_000).min(w.balance(exchange) / 3);
        let rate = feerate(&mut w.rng);
        let dests = [Dest::Script(to)];
        let inputs = fund(w, exchange, amount, &dests, rate).context("exchange cannot pay the victim")?;
        let change = w.change_script(exchange, &inputs);
        w.send(TxKind::Withdrawal, &inputs, vec![Out { dest: Dest::Script(to), value: amount }], change, rate)?;
    }
    Ok(())
}

/// Runs the whole case and describes it.
pub(crate) fn run_case(w: &mut World<'_>, interleave: Interleave<'_>) -> Result<CaseInfo> {
    let (victim, thief) = (w.layout.victim, w.layout.thief);
    let victim_script = *w.actors[victim as usize].scripts.first().context("the victim has no address")?;
    let count = w.actors[victim as usize].utxos.len();
    let loot = w.take_random(victim, count);
    if loot.is_empty() {
        bail!("the victim was never funded");
    }
    let thief_script = w.new_script(thief, ScriptKind::P2wpkh);
    let stolen = sweep(w, TxKind::Theft, loot, thief_script, 12)?.context("the loot does not cover the fee")?;
    let mut coin = w.take(&stolen)?;
    interleave(w)?;

    let hops = w.rng.gen_range(12..=18);
    let rate = feerate(&mut w.rng);
    let mut peel_chain = Vec::with_capacity(hops);
    for _ in 0..hops {
        let (txid, next) = peel_hop(w, thief, coin, rate)?;
        peel_chain.push(txid.to_string());
        coin = next.context("a peel hop left no change")?;
        interleave(w)?;
    }

    let (fanout_txid, mut pieces) = fan_out(w, thief, coin)?;
    interleave(w)?;

    let (coinjoin_txid, mixed) = join_round(w, &mut pieces, interleave)?;
    pieces.extend(mixed);
    interleave(w)?;

    let exchange = pick(&mut w.rng, &w.layout.exchanges.clone());
    let deposit = w.deposit_script(exchange, thief);
    let consolidation = sweep(w, TxKind::Consolidation, pieces, deposit, 2)?
        .context("the thief's coins do not cover the consolidation fee")?;
    Ok(CaseInfo {
        theft_txid: stolen.outpoint.txid.to_string(),
        victim_address: w.address(victim_script),
        thief_address: w.address(thief_script),
        stolen_sat: stolen.value,
        victim_entity: victim,
        thief_entity: thief,
        peel_chain,
        fanout_txid: fanout_txid.to_string(),
        coinjoin_txid: coinjoin_txid.to_string(),
        consolidation_txid: consolidation.outpoint.txid.to_string(),
        exchange_deposit_address: w.address(deposit),
        exchange_entity: exchange,
    })
}

/// Splits `coin` over 20-30 fresh thief scripts; returns the txid and the pieces (taken).
fn fan_out(w: &mut World<'_>, thief: u32, coin: Utxo) -> Result<(bitcoin::Txid, Vec<Utxo>)> {
    let k = w.rng.gen_range(20..=30);
    let kinds = [ScriptKind::P2wpkh, ScriptKind::P2tr, ScriptKind::P2shP2wpkh];
    let dests: Vec<Dest> = (0..k)
        .map(|_| {
            let kind = kinds[w.rng.gen_range(0..kinds.len())];
            Dest::Script(w.new_script(thief, kind))
        })
        .collect();
    let rate = feerate(&mut w.rng);
    let fee = w.fee(&[coin], &dests, rate);
    let amounts = split(&mut w.rng, coin.value.saturating_sub(fee), k, 100 * DUST)
        .context("too little left for the thief's fan-out")?;
    let outs = dests.into_iter().zip(amounts).map(|(dest, value)| Out { dest, value }).collect();
    let sent = w.emit(TxKind::Fanout, &[coin], outs)?;
    let mut pieces = Vec::with_capacity(k);
    for piece in sent.outputs.iter().flatten() {
        pieces.push(w.take(piece)?);
    }
    Ok((sent.txid, pieces))
}

/// The thief's largest piece goes through one CoinJoin round; returns its txid and the thief's
/// outputs of it (taken). Retries after more activity if too few users can join.
fn join_round(
    w: &mut World<'_>,
    pieces: &mut Vec<Utxo>,
    interleave: Interleave<'_>,
) -> Result<(bitcoin::Txid, Vec<Utxo>)> {
    let largest = (0..pieces.len()).max_by_key(|&i| (pieces[i].value, i)).context("no pieces")?;
    let piece = pieces.swap_remove(largest);
    for _ in 0..10 {
        if let Some(joined) = coinjoin(w, Some(piece))? {
            let mut mine = Vec::new();
            for coin in joined.mixed.iter().chain(joined.change.iter()) {
                mine.push(w.take(coin)?);
            }
            return Ok((joined.txid, mine));
        }
        interleave(w)?;
    }
    bail!("no CoinJoin round could be formed for the thief's {} sat", piece.value)
}
