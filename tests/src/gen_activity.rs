//! Everyday activity of the generated economy: payments, exchange deposits and withdrawals,
//! OP_RETURN payments, consolidations, peel chains, fan-outs, CoinJoins and miner payouts.

use anyhow::Result;
use bitcoin::Txid;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::gen_world::{feerate, pick, Dest, Out, Role, TxKind, Utxo, World, DUST};
use crate::wallet::ScriptKind;

/// CoinJoin denominations in sat, largest first.
const DENOMINATIONS: [u64; 4] = [50_000_000, 10_000_000, 5_000_000, 1_000_000];

/// Runs one randomly chosen activity (which may make zero, one or many transactions).
pub(crate) fn random_activity(w: &mut World<'_>) -> Result<()> {
    match w.rng.gen_range(0..1000u32) {
        0..140 => deposit(w),
        140..240 => withdrawal(w),
        240..270 => op_return(w),
        270..300 => consolidation(w),
        300..308 => peel_chain(w),
        308..323 => fanout(w),
        323..343 => coinjoin(w, None).map(|_| ()),
        343..360 => miner_payout(w),
        _ => payment(w),
    }
}

/// A user with at least one coin, if one is found quickly.
fn funded(w: &mut World<'_>, role: Role) -> Option<u32> {
    let range = match role {
        Role::Exchange => w.layout.exchanges.clone(),
        _ => w.layout.users.clone(),
    };
    (0..40).map(|_| pick(&mut w.rng, &range)).find(|&id| !w.actors[id as usize].utxos.is_empty())
}

/// A random user other than `not`.
fn other_user(w: &mut World<'_>, not: u32) -> u32 {
    loop {
        let user = pick(&mut w.rng, &w.layout.users.clone());
        if user != not {
            return user;
        }
    }
}

/// 1 input most of the time, sometimes 2 or 3.
fn input_count(rng: &mut ChaCha8Rng) -> usize {
    match rng.gen_range(0..10) {
        0..6 => 1,
        6..9 => 2,
        _ => 3,
    }
}

/// An amount out of `avail`: a random share, sometimes rounded the way people round.
fn pay_amount(rng: &mut ChaCha8Rng, avail: u64) -> u64 {
    let share = rng.gen_range(0.05..0.95);
    let mut amount = (avail as f64 * share) as u64;
    if rng.gen_bool(0.3) && amount > 10 * DUST {
        let mut unit = 1u64;
        while unit * 10 <= amount {
            unit *= 10;
        }
        amount = amount / unit * unit;
    }
    amount.max(DUST)
}

/// Splits `total` into `k` random parts of at least `min` each.
pub(crate) fn split(rng: &mut ChaCha8Rng, total: u64, k: usize, min: u64) -> Option<Vec<u64>> {
    if k == 0 || total < k as u64 * min {
        return None;
    }
    let weights: Vec<f64> = (0..k).map(|_| rng.gen_range(0.2..1.0)).collect();
    let sum: f64 = weights.iter().sum();
    let spare = total - k as u64 * min;
    Some(weights.iter().map(|w| min + (spare as f64 * w / sum) as u64).collect())
}

/// Takes coins of `owner` until they pay `amount` plus the fee for `dests` and a change output.
pub(crate) fn fund(w: &mut World<'_>, owner: u32, amount: u64, dests: &[Dest], rate: u64) -> Option<Vec<Utxo>> {
    let change = Dest::Script(0);
    let mut coins = Vec::new();
    let mut total = 0;
    loop {
        if total >= amount + w.fee(&coins, dests.iter().chain([&change]), rate) {
            return Some(coins);
        }
        match w.take_random(owner, 1).pop() {
            Some(coin) => {
                total += coin.value;
                coins.push(coin);
            }
            None => {
                w.give_back(coins);
                return None;
            }
        }
    }
}

/// `payer` pays part of a few of its coins to `to`, plus an optional OP_RETURN, with change.
fn pay(w: &mut World<'_>, kind: TxKind, payer: u32, to: u32, memo: Option<Vec<u8>>) -> Result<()> {
    let n = input_count(&mut w.rng);
    let inputs = w.take_random(payer, n);
    let rate = feerate(&mut w.rng);
    let change = w.change_script(payer, &inputs);
    let mut dests = vec![Dest::Script(to)];
    dests.extend(memo.map(Dest::Data));
    let fee = w.fee(&inputs, dests.iter().chain([&Dest::Script(change)]), rate);
    let total: u64 = inputs.iter().map(|u| u.value).sum();
    if total < fee + 2 * DUST {
        w.give_back(inputs);
        return Ok(());
    }
    let avail = total - fee;
    // Now and then a wallet is swept: everything goes to the payee, no change.
    let amount = if w.rng.gen_bool(0.1) { avail } else { pay_amount(&mut w.rng, avail) };
    let payments = dests
        .into_iter()
        .map(|dest| {
            let value = if matches!(dest, Dest::Data(_)) { 0 } else { amount };
            Out { dest, value }
        })
        .collect();
    w.send(kind, &inputs, payments, change, rate)?;
    Ok(())
}

/// One user pays another.
pub(crate) fn payment(w: &mut World<'_>) -> Result<()> {
    let Some(payer) = funded(w, Role::User) else {
        return miner_payout(w);
    };
    let receiver = other_user(w, payer);
    // One payment in five goes to a merchant through the payment processor's hub address.
    let to = if w.rng.gen_bool(0.2) { w.hub_script() } else { w.receive_script(receiver) };
    pay(w, TxKind::Payment, payer, to, None)
}

/// The owner of `coin` spends exactly that coin in a payment to another user.
pub(crate) fn spend_coin(w: &mut World<'_>, coin: Utxo) -> Result<()> {
    let payer = w.owner(coin.script);
    let receiver = other_user(w, payer);
    let to = w.receive_script(receiver);
    let change = w.fresh_script(payer);
    let rate = feerate(&mut w.rng);
    let fee = w.fee(&[coin], [&Dest::Script(to), &Dest::Script(change)], rate);
    let avail = coin.value.saturating_sub(fee);
    anyhow::ensure!(avail >= 2 * DUST, "coin of {} sat is too small to spend", coin.value);
    let amount = pay_amount(&mut w.rng, avail).min(avail);
    w.send(TxKind::Payment, &[coin], vec![Out { dest: Dest::Script(to), value: amount }], change, rate)?;
    Ok(())
}

/// A payment that also carries an OP_RETURN memo.
fn op_return(w: &mut World<'_>) -> Result<()> {
    let Some(payer) = funded(w, Role::User) else {
        return Ok(());
    };
    let receiver = other_user(w, payer);
    let to = w.receive_script(receiver);
    let mut memo = b"chaintrail:".to_vec();
    memo.extend((0..w.rng.gen_range(4..=29)).map(|_| w.rng.gen::<u8>()));
    pay(w, TxKind::OpReturn, payer, to, Some(memo))
}

/// A user pays into the deposit address an exchange gave them (reused every time).
fn deposit(w: &mut World<'_>) -> Result<()> {
    let Some(payer) = funded(w, Role::User) else {
        return Ok(());
    };
    let exchange = pick(&mut w.rng, &w.layout.exchanges.clone());
    let to = w.deposit_script(exchange, payer);
    pay(w, TxKind::Deposit, payer, to, None)
}

/// An exchange pays out a batch of 1-8 withdrawals.
fn withdrawal(w: &mut World<'_>) -> Result<()> {
    let Some(exchange) = funded(w, Role::Exchange) else {
        return Ok(());
    };
    let k = w.rng.gen_range(1..=8);
    let mut dests = Vec::with_capacity(k);
    for _ in 0..k {
        let user = pick(&mut w.rng, &w.layout.users.clone());
        dests.push(Dest::Script(w.receive_script(user)));
    }
    let rate = feerate(&mut w.rng);
    let n = w.rng.gen_range(1..=4);
    let inputs = w.take_random(exchange, n);
    let change = w.change_script(exchange, &inputs);
    let total: u64 = inputs.iter().map(|u| u.value).sum();
    let fee = w.fee(&inputs, dests.iter().chain([&Dest::Script(change)]), rate);
    let share = w.rng.gen_range(0.2..0.9);
    let budget = (total.saturating_sub(fee) as f64 * share) as u64;
    let Some(amounts) = split(&mut w.rng, budget, k, 10 * DUST) else {
        w.give_back(inputs);
        return Ok(());
    };
    let payments = dests.into_iter().zip(amounts).map(|(dest, value)| Out { dest, value }).collect();
    w.send(TxKind::Withdrawal, &inputs, payments, change, rate)?;
    Ok(())
}

/// One owner sweeps 10-50 coins into a single output.
pub(crate) fn consolidation(w: &mut World<'_>) -> Result<()> {
    let owner = if w.rng.gen_bool(0.7) {
        w.layout.exchanges.clone().max_by_key(|&e| (w.actors[e as usize].utxos.len(), e))
    } else {
        let users = w.layout.users.clone();
        (0..20).map(|_| pick(&mut w.rng, &users)).find(|&u| w.actors[u as usize].utxos.len() >= 10)
    };
    let Some(owner) = owner.filter(|&o| w.actors[o as usize].utxos.len() >= 10) else {
        return Ok(());
    };
    let n = w.rng.gen_range(10..=50).min(w.actors[owner as usize].utxos.len());
    let inputs = w.take_random(owner, n);
    let to = if w.actors[owner as usize].role == Role::Exchange && w.rng.gen_bool(0.6) {
        w.new_script(owner, ScriptKind::P2wshMultisig)
    } else {
        w.fresh_script(owner)
    };
    let rate = w.rng.gen_range(1..=3);
    sweep(w, TxKind::Consolidation, inputs, to, rate).map(|_| ())
}

/// Spends all of `inputs` into one output to `to`.
pub(crate) fn sweep(w: &mut World<'_>, kind: TxKind, inputs: Vec<Utxo>, to: u32, rate: u64) -> Result<Option<Utxo>> {
    let total: u64 = inputs.iter().map(|u| u.value).sum();
    let fee = w.fee(&inputs, [&Dest::Script(to)], rate);
    if total < fee + DUST {
        w.give_back(inputs);
        return Ok(None);
    }
    let sent = w.emit(kind, &inputs, vec![Out { dest: Dest::Script(to), value: total - fee }])?;
    Ok(sent.outputs[0])
}

/// Where a peel hop's small payment goes: a user, or a user's exchange deposit address.
pub(crate) fn peel_payee(w: &mut World<'_>, payer: u32) -> u32 {
    let user = other_user(w, payer);
    if w.rng.gen_bool(0.3) {
        let exchange = pick(&mut w.rng, &w.layout.exchanges.clone());
        w.deposit_script(exchange, user)
    } else {
        w.receive_script(user)
    }
}

/// One hop of a peel chain: a small payment off `coin`, the rest to a fresh script of the payer.
/// Returns the txid and the change coin, already taken out of the payer's coins.
pub(crate) fn peel_hop(w: &mut World<'_>, payer: u32, coin: Utxo, rate: u64) -> Result<(Txid, Option<Utxo>)> {
    let to = peel_payee(w, payer);
    let amount = ((coin.value as f64 * w.rng.gen_range(0.005..0.05)) as u64).max(10 * DUST);
    let change = w.fresh_script(payer);
    let sent = w.send(TxKind::Peel, &[coin], vec![Out { dest: Dest::Script(to), value: amount }], change, rate)?;
    let next = match sent.change {
        Some(change) => Some(w.take(&change)?),
        None => None,
    };
    Ok((sent.txid, next))
}

/// A chain of 10-30 peel hops from one large coin of a user or an exchange.
fn peel_chain(w: &mut World<'_>) -> Result<()> {
    let role = if w.rng.gen_bool(0.5) { Role::User } else { Role::Exchange };
    let Some(payer) = funded(w, role) else {
        return Ok(());
    };
    let Some(mut coin) = w.take_one_at_least(payer, 20_000_000) else {
        return Ok(());
    };
    let hops = w.rng.gen_range(10..=30);
    let rate = feerate(&mut w.rng);
    for _ in 0..hops {
        if coin.value < 1_000_000 {
            break;
        }
        match peel_hop(w, payer, coin, rate)? {
            (_, Some(next)) => coin = next,
            (_, None) => return Ok(()),
        }
    }
    w.give_back(vec![coin]);
    Ok(())
}

/// An exchange pays 20-100 users in one transaction.
fn fanout(w: &mut World<'_>) -> Result<()> {
    let Some(payer) = funded(w, Role::Exchange) else {
        return Ok(());
    };
    let k = w.rng.gen_range(20..=100);
    let mut payments = Vec::with_capacity(k);
    for _ in 0..k {
        let user = pick(&mut w.rng, &w.layout.users.clone());
        let value = 10f64.powf(w.rng.gen_range(4.5..6.5)) as u64;
        payments.push(Out { dest: Dest::Script(w.receive_script(user)), value });
    }
    let rate = feerate(&mut w.rng);
    let needed: u64 = payments.iter().map(|o| o.value).sum();
    let dests: Vec<Dest> = payments.iter().map(|o| o.dest.clone()).collect();
    let Some(inputs) = fund(w, payer, needed, &dests, rate) else {
        return Ok(());
    };
    let change = w.change_script(payer, &inputs);
    w.send(TxKind::Fanout, &inputs, payments, change, rate)?;
    Ok(())
}

/// The miner pays its matured coinbases out to 20-100 users and exchanges.
pub(crate) fn miner_payout(w: &mut World<'_>) -> Result<()> {
    let miner = w.layout.miner;
    let balance = w.balance(miner);
    if balance < 100_000_000 {
        return Ok(());
    }
    let k = w.rng.gen_range(20..=100);
    let mut dests = Vec::with_capacity(k);
    for _ in 0..k {
        let to = if w.rng.gen_bool(0.2) {
            let exchange = pick(&mut w.rng, &w.layout.exchanges.clone());
            w.receive_script(exchange)
        } else {
            let user = pick(&mut w.rng, &w.layout.users.clone());
            w.receive_script(user)
        };
        dests.push(Dest::Script(to));
    }
    let count = w.actors[miner as usize].utxos.len();
    let inputs = w.take_random(miner, count);
    let rate = feerate(&mut w.rng);
    let fee = w.fee(&inputs, &dests, rate);
    let budget = (balance - fee) / 10 * 9;
    let Some(amounts) = split(&mut w.rng, budget, k, 10 * DUST) else {
        w.give_back(inputs);
        return Ok(());
    };
    let change = w.change_script(miner, &inputs);
    let payments = dests.into_iter().zip(amounts).map(|(dest, value)| Out { dest, value }).collect();
    w.send(TxKind::Fanout, &inputs, payments, change, rate)?;
    Ok(())
}

/// What a CoinJoin did with the coin of the outside participant, if there was one.
#[derive(Debug, Clone)]
pub(crate) struct Joined {
    pub txid: Txid,
    /// The participant's equal-value output and its change, if any (still in its coins).
    pub mixed: Option<Utxo>,
    pub change: Option<Utxo>,
}

/// A CoinJoin coordinated by the mixer: 5-10 users (plus `extra`, if given) each put in one coin
/// and get one output of the round's denomination to a fresh script plus their change.
pub(crate) fn coinjoin(w: &mut World<'_>, extra: Option<Utxo>) -> Result<Option<Joined>> {
    let rate = w.rng.gen_range(5..=10);
    let cost = |denom: u64| denom + denom * 3 / 1000 + (188 + 2 * 43) * rate + DUST;
    let start = match extra {
        Some(coin) => DENOMINATIONS.iter().position(|&d| cost(d) <= coin.value),
        None => Some(w.rng.gen_range(0..DENOMINATIONS.len())),
    };
    let Some(start) = start else { return Ok(None) };
    let want = w.rng.gen_range(5..=10);
    for &denom in &DENOMINATIONS[start..] {
        let mut coins = Vec::with_capacity(want + 1);
        for _ in 0..60 {
            if coins.len() == want {
                break;
            }
            let user = pick(&mut w.rng, &w.layout.users.clone());
            if coins.iter().any(|c: &Utxo| w.owner(c.script) == user) {
                continue;
            }
            coins.extend(w.take_one_at_least(user, cost(denom)));
        }
        if coins.len() < 5 {
            w.give_back(coins);
            continue;
        }
        coins.extend(extra);
        return join(w, coins, denom, rate, extra).map(Some);
    }
    Ok(None)
}

fn join(w: &mut World<'_>, mut coins: Vec<Utxo>, denom: u64, rate: u64, extra: Option<Utxo>) -> Result<Joined> {
    coins.shuffle(&mut w.rng);
    let coordinator_fee = denom * 3 / 1000;
    // (output, belongs to the outside participant, is its mixed output)
    let mut outs: Vec<(Out, bool, bool)> = Vec::with_capacity(2 * coins.len() + 1);
    for coin in &coins {
        let owner = w.owner(coin.script);
        let is_extra = Some(*coin) == extra;
        let mixed = w.new_script(owner, ScriptKind::P2wpkh);
        outs.push((Out { dest: Dest::Script(mixed), value: denom }, is_extra, true));
        let own_fee = (w.script(coin.script).kind().input_vsize() + 2 * 31) * rate;
        let change = coin.value.saturating_sub(denom + coordinator_fee + own_fee);
        if change >= DUST {
            let to = w.fresh_script(owner);
            outs.push((Out { dest: Dest::Script(to), value: change }, is_extra, false));
        }
    }
    let mixer = w.layout.mixer;
    let fee_script = w.actors[mixer as usize].scripts[0];
    let fee_out = Out { dest: Dest::Script(fee_script), value: coordinator_fee * coins.len() as u64 };
    outs.push((fee_out, false, false));
    outs.shuffle(&mut w.rng);
    let tags: Vec<(bool, bool)> = outs.iter().map(|(_, e, m)| (*e, *m)).collect();
    let sent = w.emit(TxKind::Coinjoin, &coins, outs.into_iter().map(|(o, _, _)| o).collect())?;
    let find = |mixed: bool| tags.iter().position(|&t| t == (true, mixed)).and_then(|v| sent.outputs[v]);
    Ok(Joined { txid: sent.txid, mixed: find(true), change: find(false) })
}
