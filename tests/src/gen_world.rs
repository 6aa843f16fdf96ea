//! The generator's model of the economy: who exists, which scripts each one owns, which coins each
//! one can spend, and turning planned outputs into signed transactions recorded for the truth.

use std::collections::HashMap;
use std::ops::Range;

use anyhow::{bail, Context, Result};
use bitcoin::{Amount, Network, OutPoint, Script, ScriptBuf, Transaction, TxOut, Txid};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::gen_chain::Chain;
use crate::truth::{OutPointInfo, OutputInfo, ScriptInfo, TxInfo};
use crate::wallet::{op_return_script, unsigned_tx, OwnedScript, ScriptKind, Spent, Wallet};

/// Outputs below this are never created; change below it is left to the fee.
pub(crate) const DUST: u64 = 1_000;
pub(crate) const NETWORK: Network = Network::Regtest;

/// A coin the generator can spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Utxo {
    pub outpoint: OutPoint,
    pub value: u64,
    /// Index into the world's scripts.
    pub script: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Miner,
    Exchange,
    Mixer,
    Victim,
    Thief,
    User,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Miner => "miner",
            Role::Exchange => "exchange",
            Role::Mixer => "mixer",
            Role::Victim => "victim",
            Role::Thief => "thief",
            Role::User => "user",
        }
    }
}

/// One entity: its scripts and its spendable coins.
#[derive(Debug)]
pub(crate) struct Actor {
    pub role: Role,
    pub name: String,
    pub preferred: ScriptKind,
    /// Never hands out or sends change to an address it used before (a privacy-minded wallet).
    pub never_reuses: bool,
    pub scripts: Vec<u32>,
    pub utxos: Vec<Utxo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxKind {
    Payment,
    Deposit,
    Withdrawal,
    OpReturn,
    Consolidation,
    Peel,
    Fanout,
    Coinjoin,
    Theft,
}

impl TxKind {
    pub fn name(self) -> &'static str {
        match self {
            TxKind::Payment => "payment",
            TxKind::Deposit => "deposit",
            TxKind::Withdrawal => "withdrawal",
            TxKind::OpReturn => "op_return",
            TxKind::Consolidation => "consolidation",
            TxKind::Peel => "peel",
            TxKind::Fanout => "fanout",
            TxKind::Coinjoin => "coinjoin",
            TxKind::Theft => "theft",
        }
    }
}

/// Where an output goes: a tracked script, or an OP_RETURN with data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    Script(u32),
    Data(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Out {
    pub dest: Dest,
    pub value: u64,
}

/// A transaction the world made: its txid, the coins it created (per vout) and its change.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub txid: Txid,
    pub outputs: Vec<Option<Utxo>>,
    pub change: Option<Utxo>,
}

/// Entity ids by role; the ranges are contiguous.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub miner: u32,
    pub exchanges: Range<u32>,
    pub mixer: u32,
    pub victim: u32,
    pub thief: u32,
    pub users: Range<u32>,
}

/// The whole economy plus the chain it is written to.
pub(crate) struct World<'s> {
    pub rng: ChaCha8Rng,
    pub actors: Vec<Actor>,
    pub layout: Layout,
    pub chain: Chain<'s>,
    wallet: Wallet,
    scripts: Vec<OwnedScript>,
    pub infos: Vec<ScriptInfo>,
    deposits: HashMap<(u32, u32), u32>,
}

impl<'s> World<'s> {
    pub fn new(rng: ChaCha8Rng, wallet: Wallet, actors: Vec<Actor>, layout: Layout, chain: Chain<'s>) -> Self {
        World { rng, actors, layout, chain, wallet, scripts: Vec::new(), infos: Vec::new(), deposits: HashMap::new() }
    }

    pub fn script(&self, id: u32) -> &OwnedScript {
        &self.scripts[id as usize]
    }

    pub fn owner(&self, script: u32) -> u32 {
        self.infos[script as usize].owner
    }

    pub fn address(&self, script: u32) -> String {
        self.infos[script as usize].address.clone().unwrap_or_default()
    }

    /// A new script of `kind` owned by `owner`.
    pub fn new_script(&mut self, owner: u32, kind: ScriptKind) -> u32 {
        let script = self.wallet.new_script(kind);
        let id = self.scripts.len() as u32;
        self.infos.push(ScriptInfo {
            script_hex: hex::encode(script.script_pubkey().as_bytes()),
            address: script.address(NETWORK).map(|a| a.to_string()),
            kind: kind.name().to_string(),
            owner,
        });
        self.scripts.push(script);
        self.actors[owner as usize].scripts.push(id);
        id
    }

    /// A fresh script of the owner's usual kind (sometimes another kind, rarely bare multisig).
    pub fn fresh_script(&mut self, owner: u32) -> u32 {
        let roll: f64 = self.rng.gen();
        let actor = &self.actors[owner as usize];
        let kind = if actor.role == Role::User && roll < 0.015 {
            if roll < 0.0075 {
                ScriptKind::BareMultisig1of2
            } else {
                ScriptKind::BareMultisig2of3
            }
        } else if roll < 0.8 {
            actor.preferred
        } else {
            ScriptKind::WITH_ADDRESS[self.rng.gen_range(0..ScriptKind::WITH_ADDRESS.len())]
        };
        self.new_script(owner, kind)
    }

    /// A script `receiver` hands out to be paid on: often fresh, sometimes one it used before.
    pub fn receive_script(&mut self, receiver: u32) -> u32 {
        let known = self.actors[receiver as usize].scripts.len();
        if known > 0 && !self.actors[receiver as usize].never_reuses && self.rng.gen_bool(0.35) {
            return self.actors[receiver as usize].scripts[self.rng.gen_range(0..known)];
        }
        self.fresh_script(receiver)
    }

    /// Change for `owner`: usually fresh, sometimes back to the script of its first input (never
    /// for a wallet that does not reuse addresses).
    pub fn change_script(&mut self, owner: u32, inputs: &[Utxo]) -> u32 {
        let reuses = !self.actors[owner as usize].never_reuses;
        match inputs.first() {
            Some(first) if reuses && self.rng.gen_bool(0.3) && self.owner(first.script) == owner => first.script,
            _ => self.fresh_script(owner),
        }
    }

    /// The deposit script `exchange` gave `customer`; the same one on every call.
    pub fn deposit_script(&mut self, exchange: u32, customer: u32) -> u32 {
        if let Some(&id) = self.deposits.get(&(exchange, customer)) {
            return id;
        }
        let kind = self.actors[exchange as usize].preferred;
        let id = self.new_script(exchange, kind);
        self.deposits.insert((exchange, customer), id);
        id
    }

    /// The one static address a payment processor (the first exchange) takes payments on for all
    /// its merchants: a script paid by very many, the hub an investigator keeps running into.
    pub fn hub_script(&mut self) -> u32 {
        let processor = self.layout.exchanges.start;
        self.deposit_script(processor, u32::MAX)
    }

    pub fn balance(&self, owner: u32) -> u64 {
        self.actors[owner as usize].utxos.iter().map(|u| u.value).sum()
    }

    /// Removes up to `n` random coins of `owner`.
    pub fn take_random(&mut self, owner: u32, n: usize) -> Vec<Utxo> {
        let mut taken = Vec::with_capacity(n);
        for _ in 0..n {
            let len = self.actors[owner as usize].utxos.len();
            if len == 0 {
                break;
            }
            let i = self.rng.gen_range(0..len);
            taken.push(self.actors[owner as usize].utxos.swap_remove(i));
        }
        taken
    }

    /// Removes one coin of `owner` worth at least `min`, if it has one.
    pub fn take_one_at_least(&mut self, owner: u32, min: u64) -> Option<Utxo> {
        let utxos = &mut self.actors[owner as usize].utxos;
        let i = utxos.iter().position(|u| u.value >= min)?;
        Some(utxos.swap_remove(i))
    }

    /// Removes a specific coin (searching from the newest).
    pub fn take(&mut self, coin: &Utxo) -> Result<Utxo> {
        let owner = self.owner(coin.script);
        let utxos = &mut self.actors[owner as usize].utxos;
        let i = utxos.iter().rposition(|u| u.outpoint == coin.outpoint).context("coin is not spendable")?;
        Ok(utxos.swap_remove(i))
    }

    /// Puts coins taken but not spent back.
    pub fn give_back(&mut self, coins: Vec<Utxo>) {
        for coin in coins {
            let owner = self.owner(coin.script);
            self.actors[owner as usize].utxos.push(coin);
        }
    }

    /// A coin becomes spendable by the owner of its script.
    pub fn credit(&mut self, coin: Utxo) {
        let owner = self.owner(coin.script);
        self.actors[owner as usize].utxos.push(coin);
    }

    fn dest_script(&self, dest: &Dest) -> ScriptBuf {
        match dest {
            Dest::Script(id) => self.scripts[*id as usize].script_pubkey().to_owned(),
            Dest::Data(data) => op_return_script(data),
        }
    }

    fn dest_vsize(&self, dest: &Dest) -> u64 {
        let script_len = match dest {
            Dest::Script(id) => self.scripts[*id as usize].script_pubkey().len(),
            Dest::Data(data) => data.len() + 2,
        };
        9 + script_len as u64
    }

    /// Fee at `feerate` sat/vB for spending `inputs` into outputs to `dests`.
    pub fn fee<'d>(&self, inputs: &[Utxo], dests: impl IntoIterator<Item = &'d Dest>, feerate: u64) -> u64 {
        let ins: u64 = inputs.iter().map(|u| self.scripts[u.script as usize].kind().input_vsize()).sum();
        let outs: u64 = dests.into_iter().map(|d| self.dest_vsize(d)).sum();
        (11 + ins + outs) * feerate
    }

    /// Pays `payments` from `inputs` and sends what is left (less the fee) to `change`, at a random
    /// position; change below dust goes to the fee.
    pub fn send(
        &mut self,
        kind: TxKind,
        inputs: &[Utxo],
        payments: Vec<Out>,
        change: u32,
        feerate: u64,
    ) -> Result<Sent> {
        let total: u64 = inputs.iter().map(|u| u.value).sum();
        let paid: u64 = payments.iter().map(|o| o.value).sum();
        let change_dest = Dest::Script(change);
        let fee = self.fee(inputs, payments.iter().map(|o| &o.dest).chain([&change_dest]), feerate);
        let Some(left) = total.checked_sub(paid + fee) else {
            bail!("{} pays {paid} + fee {fee} from only {total}", kind.name());
        };
        let mut outs = payments;
        let mut change_vout = None;
        if left >= DUST {
            let at = self.rng.gen_range(0..=outs.len());
            outs.insert(at, Out { dest: change_dest, value: left });
            change_vout = Some(at);
        }
        let mut sent = self.emit(kind, inputs, outs)?;
        sent.change = change_vout.and_then(|v| sent.outputs[v]);
        Ok(sent)
    }

    /// Signs and records a transaction spending `inputs` into exactly `outs`.
    pub fn emit(&mut self, kind: TxKind, inputs: &[Utxo], outs: Vec<Out>) -> Result<Sent> {
        let total_in: u64 = inputs.iter().map(|u| u.value).sum();
        let total_out: u64 = outs.iter().map(|o| o.value).sum();
        if inputs.is_empty() || total_out >= total_in {
            bail!("{} spends {total_in} into {total_out}: no fee left", kind.name());
        }
        let outpoints: Vec<OutPoint> = inputs.iter().map(|u| u.outpoint).collect();
        let txouts: Vec<TxOut> = outs
            .iter()
            .map(|o| TxOut { value: Amount::from_sat(o.value), script_pubkey: self.dest_script(&o.dest) })
            .collect();
        let mut tx = unsigned_tx(&outpoints, txouts);
        let spent: Vec<Spent<'_>> = inputs
            .iter()
            .map(|u| Spent { script: &self.scripts[u.script as usize], value: Amount::from_sat(u.value) })
            .collect();
        self.wallet.sign(&mut tx, &spent).with_context(|| format!("signing a {} tx", kind.name()))?;
        let txid = tx.compute_txid();
        let info = self.tx_info(kind, txid, inputs, &outs);
        let sigops = tx.total_sigop_cost(|op| {
            let coin = inputs.iter().find(|u| u.outpoint == *op)?;
            let script_pubkey = self.scripts[coin.script as usize].script_pubkey().to_owned();
            Some(TxOut { value: Amount::from_sat(coin.value), script_pubkey })
        });
        let weight = tx.weight().to_wu();
        if !self.chain.fits(weight, sigops as u64) {
            self.mine_block()?;
        }
        let outputs = self.credit_outputs(txid, &outs);
        self.chain.push(tx, info, weight, sigops as u64);
        if self.chain.is_full() {
            self.mine_block()?;
        }
        Ok(Sent { txid, outputs, change: None })
    }

    fn credit_outputs(&mut self, txid: Txid, outs: &[Out]) -> Vec<Option<Utxo>> {
        let mut created = Vec::with_capacity(outs.len());
        for (vout, out) in outs.iter().enumerate() {
            let coin = match out.dest {
                Dest::Script(script) => {
                    let coin = Utxo { outpoint: OutPoint { txid, vout: vout as u32 }, value: out.value, script };
                    self.credit(coin);
                    Some(coin)
                }
                Dest::Data(_) => None,
            };
            created.push(coin);
        }
        created
    }

    fn tx_info(&self, kind: TxKind, txid: Txid, inputs: &[Utxo], outs: &[Out]) -> TxInfo {
        let inputs =
            inputs.iter().map(|u| OutPointInfo { txid: u.outpoint.txid.to_string(), vout: u.outpoint.vout }).collect();
        let outputs = outs
            .iter()
            .map(|o| match &o.dest {
                Dest::Script(id) => {
                    let info = &self.infos[*id as usize];
                    OutputInfo {
                        value_sat: o.value,
                        script_hex: info.script_hex.clone(),
                        address: info.address.clone(),
                    }
                }
                Dest::Data(data) => OutputInfo {
                    value_sat: o.value,
                    script_hex: hex::encode(op_return_script(data).as_bytes()),
                    address: None,
                },
            })
            .collect();
        TxInfo { txid: txid.to_string(), height: 0, kind: kind.name().to_string(), inputs, outputs }
    }

    /// Mines the pending transactions (possibly none) into a block.
    pub fn mine_block(&mut self) -> Result<()> {
        let miner = self.layout.miner;
        let payouts = self.actors[miner as usize].scripts.len().min(3);
        let payout = self.actors[miner as usize].scripts[self.rng.gen_range(0..payouts)];
        let script = self.scripts[payout as usize].script_pubkey().to_owned();
        let matured = self.chain.mine(&script, payout)?;
        for coin in matured {
            self.credit(coin);
        }
        Ok(())
    }

    /// The generated transactions so far (coinbases excluded).
    pub fn generated(&self) -> usize {
        self.chain.generated()
    }

    pub fn into_parts(self) -> (Vec<Actor>, Vec<ScriptInfo>, Chain<'s>) {
        (self.actors, self.infos, self.chain)
    }

    /// Every coin not yet spent, including immature coinbases.
    pub fn all_unspent(&self) -> impl Iterator<Item = &Utxo> {
        self.actors.iter().flat_map(|a| a.utxos.iter()).chain(self.chain.immature())
    }
}

/// Draws a transaction fee rate in sat/vB.
pub(crate) fn feerate(rng: &mut ChaCha8Rng) -> u64 {
    if rng.gen_bool(0.7) {
        rng.gen_range(1..=5)
    } else {
        rng.gen_range(6..=30)
    }
}

/// Picks a uniformly random element of a non-empty range.
pub(crate) fn pick(rng: &mut ChaCha8Rng, range: &Range<u32>) -> u32 {
    rng.gen_range(range.clone())
}

/// A coin in a block that was just mined pays the block's miner.
pub(crate) fn coinbase_coin(tx: &Transaction, script: &Script, script_id: u32) -> Option<Utxo> {
    let txid = tx.compute_txid();
    tx.output.iter().enumerate().find(|(_, o)| o.script_pubkey.as_script() == script).map(|(vout, o)| Utxo {
        outpoint: OutPoint { txid, vout: vout as u32 },
        value: o.value.to_sat(),
        script: script_id,
    })
}
