//! `--format csv`: the rows of an answer as comma-separated values for spreadsheets and scripts.
//!
//! UTF-8, RFC 4180 quoting (a cell holding a comma, a quote or a line break is quoted, its quotes
//! doubled), records ending in `\n` (readers that expect `\r\n` accept it). One header row, then
//! one row per record. Amounts come twice: `*_sat` in satoshis and `*_btc` with 8 decimals. Times
//! are the block's, UTC, ISO 8601. A missing value (JSON `null`) is an empty cell. `tags` holds
//! the tags' labels, best first, joined with `; `. `percent` is written as Rust prints an `f64`
//! (`12.5`, `100`).
//!
//! - `tx`: one row per input, then one per output (a coinbase has no input rows):
//!   `kind,txid,height,time,index,value_sat,value_btc,address,script_hex,prev_txid,prev_vout,`
//!   `spent_by_txid,spent_by_vin,spent_by_height,spent_by_time,tags`. `kind` is `input` or
//!   `output`, `index` the vin or vout; `prev_*` are filled for inputs, `spent_by_*` for spent
//!   outputs; `tags` are those of the address.
//! - `address`: the page of history, one row per event:
//!   `address,txid,height,time,kind,index,value_sat,value_btc,script_hex,cursor`. `kind` is
//!   `funded` or `spent`; `script_hex` is the script paid or spent from (the address's own or one
//!   of its key's other scripts).
//! - `trace` and `path`: edges and destinations in one table, edges first, told apart by `row`
//!   (`edge` or `destination`):
//!   `row,hop,from_txid,vout,to_txid,vin,address,value_sat,value_btc,traced_sat,traced_btc,`
//!   `percent,state,spent_by,prev_output,height,time,tags`.
//!   An edge fills `from_txid:vout` (the output) and `to_txid:vin` (the input spending it);
//!   `hop` is the hop (path: position) of the paying tx `from_txid`, `height` and `time` those of
//!   the spending tx `to_txid`; `traced_*`, `percent`, `state`, `spent_by` and `prev_output` are
//!   empty. A destination fills `hop`, `height` and `time` from its tx; forward (and in paths)
//!   `from_txid` is its tx, `vout` its output and `to_txid` the tx that spent it (`spent_by`,
//!   empty while unspent); backward `to_txid` is its tx, `vin` its input and `from_txid:vout`
//!   the output it spent (`prev_output`, empty for a coinbase). Paths have no `traced_*` or
//!   `percent`.
//! - `cluster`: the page of members: `cluster_id,address,balance_sat,balance_btc,tags`.
//! - `clusters`: `rank,cluster_id,size,balance_sat,balance_btc`, `rank` counting from 1.
//! - `taint`: one row per tainted output, by hop, chain order and output index:
//!   `txid,vout,hop,address,value_sat,value_btc,tainted_sat,tainted_btc,spent,height,time,tags`;
//!   `spent` is `true` or `false`, `height` and `time` are the output's block's.
//!
//! `cluster --why`, `exposure` and the `tags` commands have no rows to give: a usage error.

use std::collections::HashMap;

use csv::Writer;

use crate::error::UsageError;
use crate::model::{
    btc, AddressView, Body, ClusterView, ClustersView, DestinationView, EdgeView, TagView, TaintView, TxNode, TxView,
};

/// The header of `tx`.
pub const TX_COLUMNS: [&str; 16] = [
    "kind",
    "txid",
    "height",
    "time",
    "index",
    "value_sat",
    "value_btc",
    "address",
    "script_hex",
    "prev_txid",
    "prev_vout",
    "spent_by_txid",
    "spent_by_vin",
    "spent_by_height",
    "spent_by_time",
    "tags",
];

/// The header of `address`.
pub const ADDRESS_COLUMNS: [&str; 10] =
    ["address", "txid", "height", "time", "kind", "index", "value_sat", "value_btc", "script_hex", "cursor"];

/// The header of `trace` and `path`.
pub const FLOW_COLUMNS: [&str; 18] = [
    "row",
    "hop",
    "from_txid",
    "vout",
    "to_txid",
    "vin",
    "address",
    "value_sat",
    "value_btc",
    "traced_sat",
    "traced_btc",
    "percent",
    "state",
    "spent_by",
    "prev_output",
    "height",
    "time",
    "tags",
];

/// The header of `cluster`.
pub const MEMBER_COLUMNS: [&str; 5] = ["cluster_id", "address", "balance_sat", "balance_btc", "tags"];

/// The header of `clusters`.
pub const CLUSTERS_COLUMNS: [&str; 5] = ["rank", "cluster_id", "size", "balance_sat", "balance_btc"];

/// The header of `taint`.
pub const TAINT_COLUMNS: [&str; 12] = [
    "txid",
    "vout",
    "hop",
    "address",
    "value_sat",
    "value_btc",
    "tainted_sat",
    "tainted_btc",
    "spent",
    "height",
    "time",
    "tags",
];

type Out = Writer<Vec<u8>>;

/// The CSV text of a body, or the usage error for a command that has no rows to give.
pub(super) fn write(body: &Body) -> Result<String, UsageError> {
    let mut out = Writer::from_writer(Vec::new());
    let written = match body {
        Body::Tx(v) => tx(&mut out, v),
        Body::Address(v) => address(&mut out, v),
        Body::Trace(v) => flow(&mut out, &v.txs, &v.edges, &v.destinations),
        Body::Path(v) => flow(&mut out, &v.nodes, &v.edges, &v.destinations),
        Body::Cluster(v) => members(&mut out, v),
        Body::Clusters(v) => clusters(&mut out, v),
        Body::Taint(v) => taint(&mut out, v),
        Body::Why(_) => return Err(UsageError::CsvFormat { command: "cluster --why" }),
        other => return Err(UsageError::CsvFormat { command: other.command() }),
    };
    written.expect("every row has as many cells as its header, and writing into memory cannot fail");
    let bytes = out.into_inner().map_err(|e| e.into_error()).expect("flushing into memory cannot fail");
    Ok(String::from_utf8(bytes).expect("every cell is a Rust string, so the whole is UTF-8"))
}

/// A value, or an empty cell for none.
fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The labels of tags, best first.
fn labels(tags: &[TagView]) -> String {
    tags.iter().map(|t| t.label.as_str()).collect::<Vec<_>>().join("; ")
}

fn tx(out: &mut Out, v: &TxView) -> csv::Result<()> {
    out.write_record(TX_COLUMNS)?;
    let block = [v.txid.clone(), v.height.to_string(), v.time.clone()];
    for i in &v.inputs {
        let mut row = vec!["input".to_string()];
        row.extend(block.iter().cloned());
        row.extend([
            i.vin.to_string(),
            i.value_sat.to_string(),
            btc(i.value_sat),
            opt(i.address.as_ref()),
            i.script_hex.clone(),
            i.prev_txid.clone(),
            i.prev_vout.to_string(),
        ]);
        row.extend(std::iter::repeat_n(String::new(), 4));
        row.push(labels(&i.tags));
        out.write_record(&row)?;
    }
    for o in &v.outputs {
        let spent = o.spent_by.as_ref();
        let mut row = vec!["output".to_string()];
        row.extend(block.iter().cloned());
        row.extend([
            o.vout.to_string(),
            o.value_sat.to_string(),
            btc(o.value_sat),
            opt(o.address.as_ref()),
            o.script_hex.clone(),
            String::new(),
            String::new(),
            opt(spent.map(|s| &s.txid)),
            opt(spent.map(|s| s.vin)),
            opt(spent.map(|s| s.height)),
            opt(spent.map(|s| &s.time)),
            labels(&o.tags),
        ]);
        out.write_record(&row)?;
    }
    Ok(())
}

fn address(out: &mut Out, v: &AddressView) -> csv::Result<()> {
    out.write_record(ADDRESS_COLUMNS)?;
    for h in &v.history {
        out.write_record([
            v.address.clone(),
            h.txid.clone(),
            h.height.to_string(),
            h.time.clone(),
            h.kind.to_string(),
            h.index.to_string(),
            h.value_sat.to_string(),
            btc(h.value_sat),
            h.script.clone(),
            h.cursor.clone(),
        ])?;
    }
    Ok(())
}

/// Edges, then destinations, of a trace or a path; `nodes` are its txs.
fn flow(out: &mut Out, nodes: &[TxNode], edges: &[EdgeView], destinations: &[DestinationView]) -> csv::Result<()> {
    out.write_record(FLOW_COLUMNS)?;
    let by_txid: HashMap<&str, &TxNode> = nodes.iter().map(|n| (n.txid.as_str(), n)).collect();
    for e in edges {
        out.write_record(edge_row(e, &by_txid))?;
    }
    for d in destinations {
        out.write_record(destination_row(d))?;
    }
    Ok(())
}

fn edge_row(e: &EdgeView, by_txid: &HashMap<&str, &TxNode>) -> [String; 18] {
    let payer = by_txid.get(e.from_txid.as_str());
    let spender = by_txid.get(e.to_txid.as_str());
    [
        "edge".into(),
        opt(payer.map(|n| n.hop)),
        e.from_txid.clone(),
        e.vout.to_string(),
        e.to_txid.clone(),
        e.vin.to_string(),
        opt(e.address.as_ref()),
        e.value_sat.to_string(),
        btc(e.value_sat),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        opt(spender.map(|n| n.height)),
        opt(spender.map(|n| &n.time)),
        labels(&e.tags),
    ]
}

fn destination_row(d: &DestinationView) -> [String; 18] {
    let (from_txid, vout, to_txid, vin) = match d.vin {
        // Backward: an input of the tx; what it spent is on the paying side.
        Some(vin) => {
            let spent = d.prev_output.as_deref().and_then(|p| p.rsplit_once(':'));
            let (from, vout) = spent.map(|(t, v)| (t.to_string(), v.to_string())).unwrap_or_default();
            (from, vout, d.txid.clone(), vin.to_string())
        }
        // Forward and path: an output of the tx; whatever spent it is on the spending side.
        None => (d.txid.clone(), opt(d.vout), opt(d.spent_by.as_ref()), String::new()),
    };
    [
        "destination".into(),
        d.hop.to_string(),
        from_txid,
        vout,
        to_txid,
        vin,
        opt(d.address.as_ref()),
        d.value_sat.to_string(),
        btc(d.value_sat),
        opt(d.traced_sat),
        opt(d.traced_sat.map(btc)),
        opt(d.percent),
        d.state.to_string(),
        opt(d.spent_by.as_ref()),
        opt(d.prev_output.as_ref()),
        d.height.to_string(),
        d.time.clone(),
        labels(&d.tags),
    ]
}

fn members(out: &mut Out, v: &ClusterView) -> csv::Result<()> {
    out.write_record(MEMBER_COLUMNS)?;
    for m in &v.addresses {
        out.write_record([
            v.cluster_id.clone(),
            m.address.clone(),
            m.balance_sat.to_string(),
            btc(m.balance_sat),
            labels(&m.tags),
        ])?;
    }
    Ok(())
}

fn clusters(out: &mut Out, v: &ClustersView) -> csv::Result<()> {
    out.write_record(CLUSTERS_COLUMNS)?;
    for (rank, c) in (1u64..).zip(&v.clusters) {
        out.write_record([
            rank.to_string(),
            c.cluster_id.clone(),
            c.size.to_string(),
            c.balance_sat.to_string(),
            btc(c.balance_sat),
        ])?;
    }
    Ok(())
}

fn taint(out: &mut Out, v: &TaintView) -> csv::Result<()> {
    out.write_record(TAINT_COLUMNS)?;
    for o in &v.outputs {
        out.write_record([
            o.txid.clone(),
            o.vout.to_string(),
            o.hop.to_string(),
            opt(o.address.as_ref()),
            o.value_sat.to_string(),
            btc(o.value_sat),
            o.tainted_sat.to_string(),
            btc(o.tainted_sat),
            o.spent.to_string(),
            o.height.to_string(),
            o.time.clone(),
            labels(&o.tags),
        ])?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "csv_tests.rs"]
mod csv_tests;
