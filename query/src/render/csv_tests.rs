//! CSV of hand-made results, read back with a standard CSV reader and checked cell by cell.

use super::{ADDRESS_COLUMNS, CLUSTERS_COLUMNS, FLOW_COLUMNS, MEMBER_COLUMNS, TAINT_COLUMNS, TX_COLUMNS};
use crate::cli::Format;
use crate::error::UsageError;
use crate::model::{
    AddressView, Body, ClusterSummary, ClusterView, ClustersView, DestinationView, EdgeView, HistoryView, InputView,
    MemberView, OutputView, Report, SpentBy, TagRemoveView, TagView, TraceView, TxView, WhyView,
};
use crate::render::render;
use crate::render::samples::{self, block_time as time, heuristics, trace, tx_node, txid};

/// A label a naive reader would split: a comma, a quote and a line break.
const AWKWARD: &str = "Shady, \"Mixer\"\nLtd";

fn tag(label: &str) -> TagView {
    samples::tag(label, "mixer")
}

/// Output 1 of tx `from` paying `address` (a bare script when `None`), spent by input 0 of tx `to`.
fn edge(from: char, to: char, value: u64, address: Option<&str>) -> EdgeView {
    samples::edge(&txid(from), &txid(to), value, address.unwrap_or("script:51ae"))
}

/// Output 2 of tx `c` (at `hop`, of the block at `height`) paying 0.8 BTC to `bcrt1qdest`.
fn destination(c: char, hop: u32, height: u32, state: &'static str) -> DestinationView {
    DestinationView {
        vout: Some(2),
        hop,
        height,
        time: time(height),
        ..samples::destination(&txid(c), "bcrt1qdest", 80_000_000, state)
    }
}

/// The CSV of a body, as its header and its rows.
fn table(body: Body) -> (Vec<String>, Vec<Vec<String>>) {
    let out = render(&Report { body, notes: vec![] }, Format::Csv, &Default::default()).unwrap();
    assert!(out.ends_with('\n') && !out.contains("\r\n"), "{out:?}");
    let mut reader = csv::ReaderBuilder::new().from_reader(out.as_bytes());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
    (header, rows)
}

/// A row as (column, cell) pairs, to compare with what the view says.
fn cells<'a>(header: &'a [String], row: &'a [String]) -> Vec<(&'a str, &'a str)> {
    assert_eq!(header.len(), row.len());
    header.iter().map(String::as_str).zip(row.iter().map(String::as_str)).collect()
}

fn expect(header: &[String], row: &[String], want: &[(&str, &str)]) {
    let got = cells(header, row);
    for (column, value) in want {
        let cell = got.iter().find(|(c, _)| c == column).unwrap_or_else(|| panic!("no column {column}"));
        assert_eq!(cell.1, *value, "column {column} of {got:?}");
    }
    // Every column not named is empty.
    for (column, cell) in got {
        if !want.iter().any(|(c, _)| *c == column) {
            assert_eq!(cell, "", "column {column} should be empty");
        }
    }
}

fn tx_view() -> TxView {
    let input = |vin: u32, prev: char, value: u64| InputView {
        vin,
        prev_txid: txid(prev),
        prev_vout: vin + 3,
        value_sat: value,
        address: Some(format!("bcrt1qin{vin}")),
        script_hex: "0014aa".into(),
        tags: Vec::new(),
    };
    let spent = SpentBy { txid: txid('f'), vin: 4, height: 130, time: time(130) };
    TxView {
        txid: txid('e'),
        height: 120,
        time: time(120),
        block_hash: txid('0'),
        position: 3,
        coinbase: false,
        input_sat: 300_000_000,
        output_sat: 299_990_000,
        fee_sat: Some(10_000),
        inputs: vec![input(0, 'a', 100_000_000), input(1, 'b', 200_000_000)],
        outputs: vec![
            OutputView {
                vout: 0,
                value_sat: 250_000_000,
                address: Some("bcrt1qpaid".into()),
                script_hex: "0014bb".into(),
                tags: vec![tag(AWKWARD), tag("second")],
                spent_by: Some(spent),
            },
            OutputView {
                vout: 1,
                value_sat: 0,
                address: None,
                script_hex: "6a04beef".into(),
                tags: Vec::new(),
                spent_by: None,
            },
        ],
        duplicate_heights: Vec::new(),
        coinjoin: None,
        change: None,
        tags: Vec::new(),
    }
}

#[test]
fn headers_are_the_documented_columns() {
    let join = |c: &[&str]| c.join(",");
    assert_eq!(
        join(&TX_COLUMNS),
        "kind,txid,height,time,index,value_sat,value_btc,address,script_hex,prev_txid,prev_vout,\
         spent_by_txid,spent_by_vin,spent_by_height,spent_by_time,tags"
    );
    assert_eq!(join(&ADDRESS_COLUMNS), "address,txid,height,time,kind,index,value_sat,value_btc,script_hex,cursor");
    assert_eq!(
        join(&FLOW_COLUMNS),
        "row,hop,from_txid,vout,to_txid,vin,address,value_sat,value_btc,traced_sat,traced_btc,\
         percent,state,spent_by,prev_output,height,time,tags"
    );
    assert_eq!(join(&MEMBER_COLUMNS), "cluster_id,address,balance_sat,balance_btc,tags");
    assert_eq!(join(&CLUSTERS_COLUMNS), "rank,cluster_id,size,balance_sat,balance_btc");
    let out = render(&Report { body: Body::Tx(tx_view()), notes: vec![] }, Format::Csv, &Default::default()).unwrap();
    assert_eq!(out.lines().next(), Some(join(&TX_COLUMNS).as_str()));
    // RFC 4180: the awkward label is quoted whole, its quotes doubled, its line break kept.
    assert!(out.contains(",\"Shady, \"\"Mixer\"\"\nLtd; second\"\n"), "{out}");
}

#[test]
fn tx_has_a_row_per_input_and_output_and_quoted_labels_round_trip() {
    let v = tx_view();
    let (header, rows) = table(Body::Tx(v.clone()));
    assert_eq!(header, TX_COLUMNS);
    assert_eq!(rows.len(), v.inputs.len() + v.outputs.len());
    let (e, height, when) = (txid('e'), "120".to_string(), time(120));
    let block = [("txid", e.as_str()), ("height", height.as_str()), ("time", when.as_str())];
    let with = |extra: &[(&'static str, &'static str)]| [&block[..], extra].concat();
    let (a, b, f, spent_time) = (txid('a'), txid('b'), txid('f'), time(130));
    let input0 = [("kind", "input"), ("index", "0"), ("value_sat", "100000000"), ("value_btc", "1.00000000")];
    let mut want = with(&input0);
    want.extend([("address", "bcrt1qin0"), ("script_hex", "0014aa"), ("prev_txid", &a), ("prev_vout", "3")]);
    expect(&header, &rows[0], &want);
    let input1 = [("kind", "input"), ("index", "1"), ("value_sat", "200000000"), ("value_btc", "2.00000000")];
    let mut want = with(&input1);
    want.extend([("address", "bcrt1qin1"), ("script_hex", "0014aa"), ("prev_txid", &b), ("prev_vout", "4")]);
    expect(&header, &rows[1], &want);
    let labels = format!("{AWKWARD}; second");
    let mut want = with(&[("kind", "output"), ("index", "0"), ("value_sat", "250000000"), ("value_btc", "2.50000000")]);
    want.extend([("address", "bcrt1qpaid"), ("script_hex", "0014bb"), ("spent_by_txid", &f), ("spent_by_vin", "4")]);
    want.extend([("spent_by_height", "130"), ("spent_by_time", &spent_time), ("tags", &labels)]);
    expect(&header, &rows[2], &want);
    let op_return = [("kind", "output"), ("index", "1"), ("value_sat", "0"), ("value_btc", "0.00000000")];
    let mut want = with(&op_return);
    want.push(("script_hex", "6a04beef"));
    expect(&header, &rows[3], &want);
}

#[test]
fn a_coinbase_has_only_output_rows() {
    let mut v = tx_view();
    v.coinbase = true;
    v.inputs.clear();
    v.fee_sat = None;
    let (_, rows) = table(Body::Tx(v));
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r[0] == "output"));
}

#[test]
fn address_history_rows_carry_the_page_and_its_cursors() {
    let event = |n: u64, kind: &'static str, value: u64| HistoryView {
        txid: txid('a'),
        txnum: n,
        height: 100 + n as u32,
        time: time(100 + n as u32),
        kind,
        index: n as u32,
        value_sat: value,
        script: "0014cc".into(),
        cursor: format!("c{n}"),
    };
    let view = AddressView {
        script_hex: "0014cc".into(),
        received_sat: 5,
        sent_sat: 5,
        tx_count: 2,
        first_seen_height: Some(101),
        first_seen_time: Some(time(101)),
        last_seen_height: Some(102),
        last_seen_time: Some(time(102)),
        history: vec![event(1, "funded", 5), event(2, "spent", 5)],
        ..samples::address("bcrt1qme")
    };
    let (header, rows) = table(Body::Address(view.clone()));
    assert_eq!(header, ADDRESS_COLUMNS);
    assert_eq!(rows.len(), 2);
    for (row, h) in rows.iter().zip(&view.history) {
        let (height, index, value, when) =
            (h.height.to_string(), h.index.to_string(), h.value_sat.to_string(), &h.time);
        expect(
            &header,
            row,
            &[
                ("address", "bcrt1qme"),
                ("txid", &h.txid),
                ("height", &height),
                ("time", when),
                ("kind", h.kind),
                ("index", &index),
                ("value_sat", &value),
                ("value_btc", "0.00000005"),
                ("script_hex", "0014cc"),
                ("cursor", &h.cursor),
            ],
        );
    }
}

fn trace_view(direction: &'static str, destinations: Vec<DestinationView>) -> TraceView {
    let tagged = EdgeView { tags: vec![tag(AWKWARD)], ..edge('a', 'b', 150_000_000, Some("bcrt1qexample")) };
    let txs = vec![tx_node(&txid('a'), 101, 0), tx_node(&txid('b'), 102, 1), tx_node(&txid('c'), 1234, 2)];
    let view = trace(direction, txs, vec![tagged, edge('b', 'c', 7, None)], destinations);
    TraceView { hops: 2, source_sat: 160_000_000, ..view }
}

#[test]
fn trace_edges_take_the_payers_hop_and_the_spenders_block() {
    let (header, rows) = table(Body::Trace(trace_view("forward", Vec::new())));
    assert_eq!(header, FLOW_COLUMNS);
    assert_eq!(rows.len(), 2);
    let (a, b, c, t102, t1234) = (txid('a'), txid('b'), txid('c'), time(102), time(1234));
    let common = [("row", "edge"), ("vout", "1"), ("vin", "0")];
    let mut want = common.to_vec();
    want.extend([("hop", "0"), ("from_txid", &a), ("to_txid", &b), ("address", "bcrt1qexample")]);
    want.extend([("value_sat", "150000000"), ("value_btc", "1.50000000"), ("height", "102"), ("time", &t102)]);
    want.push(("tags", AWKWARD));
    expect(&header, &rows[0], &want);
    let mut want = common.to_vec();
    want.extend([("hop", "1"), ("from_txid", &b), ("to_txid", &c), ("value_sat", "7"), ("value_btc", "0.00000007")]);
    want.extend([("height", "1234"), ("time", &t1234)]);
    expect(&header, &rows[1], &want);
}

#[test]
fn forward_destinations_follow_the_edges_with_their_traced_share() {
    let mut spent = destination('c', 2, 1234, "hop_limit");
    spent.spent_by = Some(txid('d'));
    spent.traced_sat = Some(20_000_000);
    spent.percent = Some(12.5);
    spent.tags = vec![tag("exchange"), tag("hot wallet")];
    let mut unspent = destination('b', 1, 102, "unspent");
    unspent.vout = Some(0);
    unspent.address = None;
    unspent.traced_sat = Some(140_000_000);
    unspent.percent = Some(87.5);
    let view = trace_view("forward", vec![spent.clone(), unspent.clone()]);
    let (header, rows) = table(Body::Trace(view));
    assert_eq!(rows.len(), 4);
    assert_eq!(rows.iter().filter(|r| r[0] == "destination").count(), 2);
    let (c, d, t1234, t102, b) = (txid('c'), txid('d'), time(1234), time(102), txid('b'));
    let mut want = vec![("row", "destination"), ("hop", "2"), ("from_txid", c.as_str()), ("vout", "2")];
    want.extend([("to_txid", d.as_str()), ("address", "bcrt1qdest"), ("value_sat", "80000000")]);
    want.extend([("value_btc", "0.80000000"), ("traced_sat", "20000000"), ("traced_btc", "0.20000000")]);
    want.extend([("percent", "12.5"), ("state", "hop_limit"), ("spent_by", &d), ("height", "1234")]);
    want.extend([("time", t1234.as_str()), ("tags", "exchange; hot wallet")]);
    expect(&header, &rows[2], &want);
    assert_eq!(rows[2][9], spent.traced_sat.unwrap().to_string());
    let mut want = vec![("row", "destination"), ("hop", "1"), ("from_txid", b.as_str()), ("vout", "0")];
    want.extend([("value_sat", "80000000"), ("value_btc", "0.80000000"), ("traced_sat", "140000000")]);
    want.extend([("traced_btc", "1.40000000"), ("percent", "87.5"), ("state", "unspent"), ("height", "102")]);
    want.push(("time", &t102));
    expect(&header, &rows[3], &want);
    assert_eq!(rows[3][9], unspent.traced_sat.unwrap().to_string());
}

#[test]
fn backward_destinations_put_the_spent_output_on_the_paying_side() {
    let mut input = destination('b', 1, 102, "hop_limit");
    input.vout = None;
    input.vin = Some(3);
    input.prev_output = Some(format!("{}:5", txid('9')));
    input.traced_sat = Some(160_000_000);
    input.percent = Some(100.0);
    let mut mined = destination('a', 0, 101, "coinbase");
    mined.vout = None;
    mined.vin = Some(0);
    mined.address = None;
    mined.value_sat = 0;
    let view = trace_view("backward", vec![input.clone(), mined]);
    let (header, rows) = table(Body::Trace(view));
    let (b, nine, prev, t102) = (txid('b'), txid('9'), input.prev_output.clone().unwrap(), time(102));
    let mut want = vec![("row", "destination"), ("hop", "1"), ("from_txid", nine.as_str()), ("vout", "5")];
    want.extend([("to_txid", b.as_str()), ("vin", "3"), ("address", "bcrt1qdest"), ("value_sat", "80000000")]);
    want.extend([("value_btc", "0.80000000"), ("traced_sat", "160000000"), ("traced_btc", "1.60000000")]);
    want.extend([("percent", "100"), ("state", "hop_limit"), ("prev_output", &prev), ("height", "102")]);
    want.push(("time", &t102));
    expect(&header, &rows[2], &want);
    let (a, t101) = (txid('a'), time(101));
    let mut want = vec![("row", "destination"), ("hop", "0"), ("to_txid", a.as_str()), ("vin", "0")];
    want.extend([("value_sat", "0"), ("value_btc", "0.00000000"), ("state", "coinbase"), ("height", "101")]);
    want.push(("time", &t101));
    expect(&header, &rows[3], &want);
}

#[test]
fn paths_use_the_trace_columns_without_a_traced_share() {
    let mut last = destination('b', 1, 102, "spent");
    last.spent_by = Some(txid('f'));
    let nodes = vec![tx_node(&txid('a'), 101, 0), tx_node(&txid('b'), 102, 1)];
    let edges = vec![edge('a', 'b', 90_000_000, Some("bcrt1qmid"))];
    let view = samples::path(&txid('a'), "bcrt1qdest", nodes, edges, vec![last]);
    let (header, rows) = table(Body::Path(view));
    assert_eq!(header, FLOW_COLUMNS);
    assert_eq!(rows.len(), 2);
    let (a, b, f, t102) = (txid('a'), txid('b'), txid('f'), time(102));
    let mut want = vec![("row", "edge"), ("hop", "0"), ("from_txid", a.as_str()), ("vout", "1")];
    want.extend([("to_txid", b.as_str()), ("vin", "0"), ("address", "bcrt1qmid"), ("value_sat", "90000000")]);
    want.extend([("value_btc", "0.90000000"), ("height", "102"), ("time", t102.as_str())]);
    expect(&header, &rows[0], &want);
    let mut want = vec![("row", "destination"), ("hop", "1"), ("from_txid", b.as_str()), ("vout", "2")];
    want.extend([("to_txid", f.as_str()), ("address", "bcrt1qdest"), ("value_sat", "80000000")]);
    want.extend([("value_btc", "0.80000000"), ("state", "spent"), ("spent_by", &f), ("height", "102")]);
    want.push(("time", &t102));
    expect(&header, &rows[1], &want);
}

#[test]
fn cluster_members_and_ranked_clusters() {
    let member = |address: &str, balance: u64, tags: Vec<TagView>| MemberView {
        address: address.into(),
        balance_sat: balance,
        tags,
    };
    let view = ClusterView {
        cluster_id: "bcrt1qa".into(),
        size: 2,
        balance_sat: 150_000_001,
        received_sat: 150_000_001,
        tx_count: 3,
        first_height: Some(1),
        first_time: Some(time(1)),
        last_height: Some(2),
        last_time: Some(time(2)),
        tags: vec![tag(AWKWARD)],
        addresses: vec![member("bcrt1qa", 150_000_000, vec![tag(AWKWARD)]), member("script:51ae", 1, Vec::new())],
        ..samples::cluster("bcrt1qb")
    };
    let (header, rows) = table(Body::Cluster(view));
    assert_eq!(header, MEMBER_COLUMNS);
    assert_eq!(rows.len(), 2);
    let first = [("cluster_id", "bcrt1qa"), ("address", "bcrt1qa"), ("balance_sat", "150000000")];
    expect(&header, &rows[0], &[&first[..], &[("balance_btc", "1.50000000"), ("tags", AWKWARD)]].concat());
    let second = [("cluster_id", "bcrt1qa"), ("address", "script:51ae"), ("balance_sat", "1")];
    expect(&header, &rows[1], &[&second[..], &[("balance_btc", "0.00000001")]].concat());

    let summary =
        |id: &str, size: u64, balance: u64| ClusterSummary { cluster_id: id.into(), size, balance_sat: balance };
    let top = ClustersView {
        top: 2,
        heuristics: heuristics(),
        clusters: vec![summary("bcrt1qbig", 12, 2_100_000_000_000_000), summary("bcrt1qsmall", 2, 0)],
    };
    let (header, rows) = table(Body::Clusters(top));
    assert_eq!(header, CLUSTERS_COLUMNS);
    let big = [("rank", "1"), ("cluster_id", "bcrt1qbig"), ("size", "12"), ("balance_sat", "2100000000000000")];
    expect(&header, &rows[0], &[&big[..], &[("balance_btc", "21000000.00000000")]].concat());
    let small = [("rank", "2"), ("cluster_id", "bcrt1qsmall"), ("size", "2"), ("balance_sat", "0")];
    expect(&header, &rows[1], &[&small[..], &[("balance_btc", "0.00000000")]].concat());
}

#[test]
fn taint_has_one_row_per_tainted_output() {
    let mut v = samples::taint();
    v.outputs[2].tags.push(tag(AWKWARD));
    v.outputs[3].address = None;
    let address = |c: char| format!("bcrt1q{}", std::iter::repeat_n(c, 58).collect::<String>());
    let (header, rows) = table(Body::Taint(v));
    assert_eq!(header, TAINT_COLUMNS);
    assert_eq!(rows.len(), 4);
    let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let (t, a) = (time(101), address('c'));
    let tags = format!("Exchange A; {AWKWARD}");
    let exchange = [&txid('c'), "0", "2", &a, "5000", "0.00005000", "4000", "0.00004000", "false", "101", &t, &tags];
    assert_eq!(rows[2], row(&exchange));
    let a = address('a');
    let source = [&txid('a'), "0", "0", &a, "9900", "0.00009900", "9900", "0.00009900", "true", "101", &t, ""];
    assert_eq!(rows[0], row(&source));
    assert_eq!((rows[3][2].as_str(), rows[3][3].as_str()), ("3", ""));
}

#[test]
fn empty_answers_are_a_header_alone() {
    let mut v = trace_view("forward", Vec::new());
    v.edges.clear();
    let out = render(&Report { body: Body::Trace(v), notes: vec![] }, Format::Csv, &Default::default()).unwrap();
    assert_eq!(out, format!("{}\n", FLOW_COLUMNS.join(",")));
}

#[test]
fn commands_without_rows_are_refused_with_a_usage_error() {
    let csv = |body: Body| render(&Report { body, notes: vec![] }, Format::Csv, &Default::default());
    let why = WhyView {
        from: "a".into(),
        to: "b".into(),
        same_cluster: false,
        cluster_id: None,
        links: Vec::new(),
        heuristics: heuristics(),
    };
    let err = csv(Body::Why(why)).unwrap_err();
    assert!(matches!(err, UsageError::CsvFormat { command: "cluster --why" }), "{err}");
    let err = csv(Body::TagRemove(TagRemoveView { pack: "p".into(), removed: 1 })).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--format csv is for tx, address, trace, path, cluster, clusters and taint; use json or table for tags"
    );
}
