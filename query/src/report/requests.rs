//! The part of a case file an exchange or a court acts on: for every tagged entity the stolen
//! value reached, each deposit (the output paying it where taint arrived from outside it) with
//! its taint under each of the four models, and every output still holding taint at the tip.
//!
//! It is `taint --compare` from the case's source with the case's hops, followed only through the
//! transactions of the case's own flow (a trace's txs, a taint's tainted outputs' txs: the scope
//! the analyst chose), recorded with what was asked so that `verify` computes it again from the
//! case file's outputs like the answer.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::chain::Chain;
use crate::cmd::taint;
use crate::error::Result;
use crate::model::{Body, ByModel, TaintCompareView};
use crate::target::parse_txid;

/// Holders listed in the page; the JSON and CSV list them all.
pub const PAGE_HOLDERS: usize = 100;

/// What the section was computed from: a taint from `target`, up to `hops`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asked {
    pub target: String,
    pub hops: u32,
    pub max_txs: u64,
    pub min_sat: u64,
}

impl Asked {
    /// For the answers that start from a source and follow it forward: a forward trace and a
    /// taint. Paths, exposure and backward traces ask something else.
    pub fn of(body: &Body) -> Option<Asked> {
        match body {
            Body::Trace(t) if t.direction == "forward" => {
                Some(Asked { target: t.root.clone(), hops: t.hops, max_txs: t.max_txs, min_sat: 1 })
            }
            Body::Taint(t) => {
                Some(Asked { target: t.source.target.clone(), hops: t.hops, max_txs: t.max_txs, min_sat: t.min_sat })
            }
            _ => None,
        }
    }

    /// The same question as typed after `query`.
    pub fn command(&self) -> Vec<String> {
        [
            "taint",
            &self.target,
            "--compare",
            "--hops",
            &self.hops.to_string(),
            "--max-txs",
            &self.max_txs.to_string(),
            "--min-sat",
            &format!("{}sat", self.min_sat.max(1)),
        ]
        .iter()
        .map(|w| w.to_string())
        .collect()
    }
}

/// The section as the case file carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    pub asked: Asked,
    /// [`Asked::command`], for people.
    pub command: Vec<String>,
    /// The value the taint starts from.
    pub source_sat: u64,
    /// By entity (category, then label), then chain order.
    pub deposits: Vec<Deposit>,
    /// Every output unspent at the tip that carries taint under some model, most taint (haircut)
    /// first.
    pub holders: Vec<Holder>,
    /// The txs where outside value joins the taint and the models part.
    pub diverging: Vec<String>,
}

/// An output paying a tagged entity where the taint reached it from outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    pub entity: String,
    pub category: String,
    pub address: Option<String>,
    pub txid: String,
    pub vout: u32,
    /// The block's time, UTC (ISO 8601).
    pub time: String,
    pub value_sat: u64,
    /// The taint arriving there, under each model.
    pub tainted_sat: ByModel,
    /// Spent by the tip of the index (the entity moved it on).
    pub spent: bool,
}

/// An output still holding taint at the tip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub address: Option<String>,
    /// The entity it pays, if tagged.
    pub entity: Option<String>,
    pub txid: String,
    pub vout: u32,
    pub time: String,
    pub hop: u32,
    pub value_sat: u64,
    pub tainted_sat: ByModel,
}

/// The txids of the case's flow, from its answer (JSON): a trace's txs, or the txs of a taint's
/// tainted outputs.
fn flow(answer: &serde_json::Value) -> Vec<String> {
    let list = |key: &str| answer[key].as_array().cloned().unwrap_or_default();
    let mut txids: Vec<String> =
        list("txs").iter().chain(list("outputs").iter()).filter_map(|t| t["txid"].as_str().map(String::from)).collect();
    txids.sort_unstable();
    txids.dedup();
    txids
}

/// Computes the section on `chain`, within the flow of `answer` (the case's answer as JSON).
pub fn compute(chain: &Chain, asked: &Asked, answer: &serde_json::Value) -> Result<Requests> {
    let mut within = HashSet::new();
    for txid in flow(answer) {
        let txid = parse_txid(&txid)?;
        within.extend(chain.txnums(&txid)?.first().copied());
    }
    let request = taint::Request::compared(&asked.target, asked.hops, asked.max_txs, asked.min_sat, within)?;
    let (source_sat, compare) = request.run_compared(chain)?;
    Ok(from_compare(asked, source_sat, compare))
}

fn from_compare(asked: &Asked, source_sat: u64, compare: TaintCompareView) -> Requests {
    let any = |m: &ByModel| m.poison.max(m.haircut).max(m.fifo).max(m.lifo) > 0;
    let mut deposits: Vec<Deposit> = compare
        .outputs
        .iter()
        .filter_map(|o| {
            let entity = o.entity.as_ref().filter(|e| any(&e.first_arrival_sat))?;
            Some(Deposit {
                entity: entity.label.clone(),
                category: entity.category.clone(),
                address: o.address.clone(),
                txid: o.txid.clone(),
                vout: o.vout,
                time: o.time.clone(),
                value_sat: o.value_sat,
                tainted_sat: entity.first_arrival_sat,
                spent: o.spent,
            })
        })
        .collect();
    deposits.sort_by(|a, b| (&a.category, &a.entity).cmp(&(&b.category, &b.entity)));
    let mut holders: Vec<Holder> = compare
        .outputs
        .iter()
        .filter(|o| !o.spent && any(&o.tainted_sat))
        .map(|o| Holder {
            address: o.address.clone(),
            entity: o.entity.as_ref().map(|e| e.label.clone()),
            txid: o.txid.clone(),
            vout: o.vout,
            time: o.time.clone(),
            hop: o.hop,
            value_sat: o.value_sat,
            tainted_sat: o.tainted_sat,
        })
        .collect();
    holders.sort_by(|a, b| b.tainted_sat.haircut.cmp(&a.tainted_sat.haircut).then(a.hop.cmp(&b.hop)));
    Requests {
        asked: asked.clone(),
        command: asked.command(),
        source_sat,
        deposits,
        holders,
        diverging: compare.diverging,
    }
}

/// The section as CSV (`requests.csv` beside the case file): one row per deposit, then one per
/// holder; amounts in BTC.
pub fn csv(r: &Requests, tip_height: u32) -> String {
    use crate::model::btc;
    let mut out = csv::Writer::from_writer(Vec::new());
    let models = |m: &ByModel| [btc(m.poison), btc(m.haircut), btc(m.fifo), btc(m.lifo)];
    let unspent = format!("unspent at height {tip_height}");
    let header = [
        "section",
        "entity",
        "category",
        "address",
        "txid",
        "vout",
        "time_utc",
        "value_btc",
        "poison_btc",
        "haircut_btc",
        "fifo_btc",
        "lifo_btc",
        "state",
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    for d in &r.deposits {
        let state = if d.spent { "moved on by the entity".to_string() } else { unspent.clone() };
        let mut row =
            vec!["deposit".into(), d.entity.clone(), d.category.clone(), d.address.clone().unwrap_or_default()];
        row.extend([d.txid.clone(), d.vout.to_string(), d.time.clone(), btc(d.value_sat)]);
        row.extend(models(&d.tainted_sat));
        row.push(state);
        rows.push(row);
    }
    for h in &r.holders {
        let mut row = vec!["holder".into(), h.entity.clone().unwrap_or_default(), String::new()];
        row.extend([h.address.clone().unwrap_or_default(), h.txid.clone(), h.vout.to_string(), h.time.clone()]);
        row.push(btc(h.value_sat));
        row.extend(models(&h.tainted_sat));
        row.push(unspent.clone());
        rows.push(row);
    }
    for row in rows {
        out.write_record(&row).expect("writing into memory cannot fail");
    }
    let bytes = out.into_inner().map_err(|e| e.into_error()).expect("flushing into memory cannot fail");
    String::from_utf8(bytes).expect("every cell is a Rust string, so the whole is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_has_a_row_per_deposit_and_holder_and_quotes_what_needs_it() {
        let taint = ByModel { poison: 100, haircut: 50, fifo: 0, lifo: 100 };
        let asked = Asked { target: "t".into(), hops: 3, max_txs: 10, min_sat: 1 };
        let r = Requests {
            command: asked.command(),
            asked,
            source_sat: 100,
            deposits: vec![Deposit {
                entity: "Exchange, \"A\"".into(),
                category: "exchange".into(),
                address: Some("bcrt1qa".into()),
                txid: "ab".repeat(32),
                vout: 1,
                time: "2024-01-01T00:00:00Z".into(),
                value_sat: 100,
                tainted_sat: taint,
                spent: true,
            }],
            holders: vec![Holder {
                address: None,
                entity: None,
                txid: "cd".repeat(32),
                vout: 0,
                time: "2024-01-02T00:00:00Z".into(),
                hop: 2,
                value_sat: 100,
                tainted_sat: taint,
            }],
            diverging: Vec::new(),
        };
        let text = csv(&r, 7);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("section,entity,category,address,txid,vout,time_utc,value_btc,poison_btc"));
        assert_eq!(
            lines[1],
            format!(
                "deposit,\"Exchange, \"\"A\"\"\",exchange,bcrt1qa,{},1,2024-01-01T00:00:00Z,0.00000100,0.00000100,\
                 0.00000050,0.00000000,0.00000100,moved on by the entity",
                "ab".repeat(32)
            )
        );
        assert!(lines[2].starts_with("holder,,,,") && lines[2].ends_with(",unspent at height 7"), "{text}");
    }
}
