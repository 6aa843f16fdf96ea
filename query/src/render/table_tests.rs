//! Tables on hand-made results: they fit 120 columns, carry dates beside heights, and end traces
//! with where the money went.

use super::samples::{self, tx_node, txid};
use super::table::cut;
use super::{render, Style};
use crate::cli::Format;
use crate::model::{
    AddressView, Body, ClusterView, DestinationView, EdgeView, HistoryView, InputView, KeyScriptView, OutputView,
    PathView, Report, SpentBy, TagView, TraceView, TxNode, TxView, UtxoView,
};

/// A 64-character address, as long as a regtest taproot one.
fn address(c: char) -> String {
    format!("bcrt1p{}", std::iter::repeat_n(c, 58).collect::<String>())
}

fn short(c: char) -> String {
    format!("{}…", &txid(c)[..16])
}

fn time(day: u32) -> String {
    format!("2024-01-{day:02}T12:34:56Z")
}

fn tag(label: &str) -> TagView {
    samples::tag(label, "exchange")
}

/// Tx `c` at `hop`, in a block of day `hop + 1`.
fn node(c: char, height: u32, hop: u32) -> TxNode {
    TxNode { time: time(hop + 1), ..tx_node(&txid(c), height, hop) }
}

/// Output 12 of tx `from` paying `label`, spent by input 3 of tx `to`.
fn edge(from: char, to: char, value: u64, label: String) -> EdgeView {
    EdgeView { vout: 12, vin: 3, ..samples::edge(&txid(from), &txid(to), value, &label) }
}

/// Output 0 of tx `c` at hop 1, worth twice what was `traced` to it; spent by tx `f` when `state`
/// is `spent`.
fn destination(c: char, label: &str, traced: u64, state: &'static str) -> DestinationView {
    DestinationView {
        hop: 1,
        height: 102,
        time: time(2),
        traced_sat: Some(traced),
        spent_by: (state == "spent").then(|| txid('f')),
        ..samples::destination(&txid(c), label, traced * 2, state)
    }
}

fn trace(direction: &'static str, destinations: Vec<DestinationView>, fees_sat: u64) -> TraceView {
    let stopped =
        TxNode { stopped: true, stopped_at: vec![address('s')], tags: vec![tag("Seized funds")], ..node('c', 1234, 2) };
    let txs = vec![node('a', 101, 0), node('b', 102, 1), stopped];
    let edges = vec![
        edge('a', 'b', 2_100_000_000_000_000, address('e')),
        edge('b', 'c', 7, format!("A very long exchange name that goes on and on ({})", address('x'))),
    ];
    let view = samples::trace(direction, txs, edges, destinations);
    TraceView { source_sat: view.source_sat + fees_sat, fees_sat, ..view }
}

fn table(body: Body, style: &Style) -> String {
    render(&Report { body, notes: vec![] }, Format::Table, style).unwrap()
}

fn assert_fits(out: &str) {
    for line in out.lines() {
        assert!(line.chars().count() <= 120, "{} columns:\n{line}\n\n{out}", line.chars().count());
    }
}

fn tx_view() -> TxView {
    let input = InputView {
        vin: 0,
        prev_txid: txid('9'),
        prev_vout: 1234,
        value_sat: 2_100_000_000_000_000,
        address: Some(address('i')),
        script_hex: "51".into(),
        tags: vec![tag("Some exchange with a rather long name indeed")],
    };
    let output = |vout: u32, spent: bool| OutputView {
        vout,
        value_sat: 99_999_999_999,
        address: Some(address('o')),
        script_hex: "51".into(),
        tags: Vec::new(),
        spent_by: spent.then(|| SpentBy { txid: txid('b'), vin: 17, height: 812_345, time: time(31) }),
    };
    TxView {
        txid: txid('a'),
        height: 812_300,
        time: time(30),
        block_hash: txid('0'),
        position: 1234,
        coinbase: false,
        input_sat: 2_100_000_000_000_000,
        output_sat: 199_999_999_998,
        fee_sat: Some(1),
        inputs: vec![input],
        outputs: vec![output(0, true), output(1, false)],
        duplicate_heights: Vec::new(),
        coinjoin: None,
        change: None,
        tags: Vec::new(),
    }
}

fn address_view() -> AddressView {
    let utxo = |n: u32| UtxoView {
        txid: txid('c'),
        vout: n,
        value_sat: 150_000_000,
        height: 100 + n,
        time: time(5),
        script: "0014".to_string() + &"00".repeat(20),
    };
    let event = |n: u32| HistoryView {
        txid: txid('d'),
        txnum: u64::from(n),
        height: 150 + n,
        time: time(6),
        kind: "funded",
        index: n,
        value_sat: 150_000_000,
        script: "0014".to_string() + &"00".repeat(20),
        cursor: format!("c{n}f0"),
    };
    AddressView {
        script_hex: "51".into(),
        tags: vec![tag("Binance"), tag("Binance deposit address"), tag("Some other exchange's label")],
        balance_sat: 1,
        received_sat: 1,
        tx_count: 200,
        first_seen_height: Some(100),
        first_seen_time: Some(time(5)),
        last_seen_height: Some(300),
        last_seen_time: Some(time(9)),
        cluster_id: Some(address('a')),
        cluster_size: Some(3),
        key_balance_sat: 1,
        key_scripts: vec![KeyScriptView {
            script_type: "p2pk",
            script_hex: "41".to_string() + &"04".repeat(65) + "ac",
            address: None,
            balance_sat: 0,
            received_sat: 0,
        }],
        utxo_count: 180,
        key_utxo_count: 180,
        utxos: (0..20).map(utxo).collect(),
        utxos_truncated: true,
        history_from_height: Some(100),
        history_to_height: Some(200),
        history: (0..37).map(event).collect(),
        next_cursor: Some("c1520f0".into()),
        ..samples::address(&address('a'))
    }
}

fn path_view() -> PathView {
    let mut spent = destination('c', &address('t'), 5, "spent");
    spent.traced_sat = None;
    spent.vout = Some(1);
    let nodes = vec![node('a', 101, 0), node('b', 102, 1), node('c', 103, 2)];
    let edges = vec![edge('a', 'b', 10, address('m')), edge('b', 'c', 9, address('n'))];
    let destinations = vec![destination('c', &address('t'), 4, "unspent"), spent];
    samples::path(&address('f'), &address('t'), nodes, edges, destinations)
}

#[test]
fn tables_fit_120_columns_and_full_prints_whole_txids() {
    let dests = vec![destination('c', &address('d'), 40, "unspent"), destination('b', &address('u'), 50, "stopped")];
    let bodies = [
        Body::Trace(trace("forward", dests, 10)),
        Body::Trace(trace("backward", vec![destination('c', "coinbase", 1, "coinbase")], 0)),
        Body::Path(path_view()),
        Body::Tx(tx_view()),
        Body::Address(address_view()),
    ];
    let full = Style { full_txids: true, ..Default::default() };
    for body in bodies {
        let out = table(body.clone(), &Style::default());
        assert_fits(&out);
        assert!(!out.contains(&txid('c')) && !out.contains(&txid('b')), "{out}");
        let whole = table(body, &full);
        assert!(whole.contains(&txid('c')) || whole.contains(&txid('b')), "{whole}");
        assert!(!whole.contains("…:"), "{whole}");
    }
}

#[test]
fn edges_read_from_to_with_short_txids() {
    // A mainnet taproot address is 62 characters long: it fits beside two short txids.
    let taproot = format!("bc1p{}", std::iter::repeat_n('e', 58).collect::<String>());
    let mut view = trace("forward", Vec::new(), 0);
    view.edges[0] = edge('a', 'b', 150_000_000, taproot.clone());
    view.edges[0].vout = 1;
    view.edges[1].vout = 1;
    let out = table(Body::Trace(view), &Style::default());
    assert_fits(&out);
    assert!(out.contains(&format!("{}:1  →  {}:3   1.50000000  {taproot}\n", short('a'), short('b'))), "{out}");
    // A label too long to fit keeps the start of its name and both ends of its address.
    assert!(out.contains("  A very long… (bcrt1pxxxx"), "{out}");
    assert!(out.contains("xxxx)\n"), "{out}");
    assert!(out.contains(&format!("2  {}    1234  2024-01-03 12:34  stop: bcrt1psss", short('c'))), "{out}");
    assert!(out.contains("; tag: Seized funds\n"), "{out}");
}

#[test]
fn destinations_summary_groups_sorts_and_adds_up_to_the_source() {
    let a = address('a');
    let dests = vec![
        destination('b', &a, 30, "unspent"),
        destination('b', &address('b'), 40, "stopped"),
        destination('c', &a, 20, "unspent"),
        destination('c', &a, 5, "hop_limit"),
    ];
    let out = table(Body::Trace(trace("forward", dests, 5)), &Style::default());
    assert!(out.contains("source 0.00000100 BTC"), "{out}");
    let start = out.find("DESTINATIONS SUMMARY: 4 outputs in 3 groups\n").expect("a summary");
    let lines: Vec<&str> = out[start..].lines().collect();
    assert_eq!(lines[1], format!("{:64}  {:>10}  % OF SOURCE  STATE      OUTPUTS", "ADDRESS", "BTC"));
    assert_eq!(lines[2], format!("{a}  0.00000050       50.00%  unspent          2"));
    assert_eq!(lines[3], format!("{}  0.00000040       40.00%  stopped          1", address('b')));
    assert_eq!(lines[4], format!("{a}  0.00000005        5.00%  hop_limit        1"));
    assert_eq!(lines[5], "fees: 0.00000005 BTC, total: 0.00000100 BTC");
    assert_eq!(lines.len(), 6, "{out}");
}

#[test]
fn backward_traces_summarise_origins() {
    let dests = vec![destination('b', "coinbase", 60, "coinbase"), destination('c', &address('p'), 40, "hop_limit")];
    let mut view = trace("backward", dests, 0);
    view.truncated = true;
    let out = table(Body::Trace(view), &Style::default());
    assert!(out.starts_with(&format!("Trace backward from {}:", txid('a'))), "{out}");
    assert!(out.contains("ORIGINS SUMMARY: 2 inputs in 2 groups (TRUNCATED)\n"), "{out}");
    assert!(out.contains(&format!("{:64}  0.00000060       60.00%  coinbase        1\n", "coinbase")), "{out}");
    assert!(out.contains("\ntotal: 0.00000100 BTC\n"), "{out}");
    assert!(!out.contains("DESTINATIONS"), "{out}");
}

#[test]
fn summary_lists_25_groups_then_how_many_more() {
    let labels: Vec<String> = (0..30).map(|n| format!("bcrt1qaddress{n:02}")).collect();
    let dests = labels.iter().enumerate().map(|(n, l)| destination('b', l, 100 + n as u64, "unspent")).collect();
    let out = table(Body::Trace(trace("forward", dests, 0)), &Style::default());
    assert!(out.contains("\n… and 5 more (--format json or csv lists every destination)\nfees: "), "{out}");
    // The largest first: the five smallest are left out.
    assert!(out.contains("bcrt1qaddress29") && !out.contains("bcrt1qaddress04"), "{out}");
}

#[test]
fn trace_header_says_what_was_followed() {
    let mut view = trace("forward", Vec::new(), 0);
    view.root = "bcrt1qroot".into();
    view.follow = "top";
    view.top = Some(2);
    view.min_value_sat = 1_000_000;
    let out = table(Body::Trace(view.clone()), &Style::default());
    let first = "Trace forward from bcrt1qroot: 3 txs, 2 edges, hops 0..=2 reached (limit 20),\n  following the 2 \
                 largest outputs of each tx, edges of at least 0.01000000 BTC, source 0.00000000 BTC\n";
    assert!(out.starts_with(first), "{out}");
    assert!(out.contains("DESTINATIONS SUMMARY: none\n"), "{out}");
    view.follow = "largest";
    view.top = None;
    let out = table(Body::Trace(view), &Style::default());
    assert!(out.contains("following the largest output of each tx"), "{out}");
}

#[test]
fn dates_sit_beside_heights() {
    let out = table(Body::Trace(trace("forward", Vec::new(), 0)), &Style::default());
    assert!(out.contains(&format!("0  {}     101  2024-01-01 12:34\n", short('a'))), "{out}");
    assert!(out.contains("TIME (UTC)"), "{out}");
    let out = table(Body::Tx(tx_view()), &Style::default());
    assert!(out.contains("Block        height 812300, 2024-01-30 12:34 UTC (position 1234)\n"), "{out}");
    assert!(out.contains(&format!("{}:17  2024-01-31 12:34\n", short('b'))), "{out}");
    let out = table(Body::Address(address_view()), &Style::default());
    assert!(out.contains("First seen    height 100, 2024-01-05 12:34 UTC\n"), "{out}");
    assert!(out.contains("Last seen     height 300, 2024-01-09 12:34 UTC\n"), "{out}");
    assert!(out.contains(&format!("{}:3    1.50000000     103  2024-01-05 12:34  p2wpkh\n", short('c'))), "{out}");
    assert!(out.contains(&format!("   153  2024-01-06 12:34  {}  funded", short('d'))), "{out}");
    let out = table(Body::Path(path_view()), &Style::default());
    assert!(out.contains(&format!("   2  {}     103  2024-01-03 12:34\n", short('c'))), "{out}");
    let cluster =
        ClusterView { tx_count: 2, first_height: Some(7), first_time: Some(time(8)), ..samples::cluster("bcrt1qa") };
    let out = table(Body::Cluster(cluster), &Style::default());
    assert!(out.contains("First seen    height 7, 2024-01-08 12:34 UTC\nLast seen     never\n"), "{out}");
}

#[test]
fn address_table_points_to_more_utxos_and_the_next_page() {
    let out = table(Body::Address(address_view()), &Style::default());
    assert!(out.contains("\nUnspent outputs: 180 (first 20 shown; --max-utxos N for more)\nOUTPOINT"), "{out}");
    assert!(out.contains("\nHistory (heights 100..=200): 37 event(s) on this page\n"), "{out}");
    assert!(out.trim_end().ends_with("Next page: add --after c1520f0"), "{out}");
    assert!(out.find("Unspent outputs") < out.find("History"), "{out}");
    let mut view = address_view();
    (view.utxos_truncated, view.history_from_height, view.history_to_height) = (false, None, Some(9));
    let out = table(Body::Address(view), &Style::default());
    assert!(out.contains("\nUnspent outputs: 180\n"), "{out}");
    assert!(out.contains("\nHistory (heights ..=9): 37 event(s)"), "{out}");
}

#[test]
fn path_tables_list_their_destinations() {
    let out = table(Body::Path(path_view()), &Style::default());
    assert!(out.starts_with(&format!("Path from {}\n  to {}: 3 txs, 2 hops\n", address('f'), address('t'))), "{out}");
    assert!(out.contains("DESTINATIONS: 2 outputs of the last tx\n"), "{out}");
    assert!(out.contains(&format!("   0  {}   0.00000008  unspent  -\n", address('t'))), "{out}");
    assert!(out.contains(&format!("   1  {}   0.00000010  spent    {}\n", address('t'), short('f'))), "{out}");
}

#[test]
fn cut_keeps_the_start_of_a_label_and_both_ends_of_an_address() {
    let a = address('q');
    assert_eq!(cut(&a, 64), a);
    assert_eq!(cut(&a, 21), "bcrt1pqqqq…qqqqqqqqqq");
    assert_eq!(cut(&a, 21).chars().count(), 21);
    let label = format!("Binance hot wallet number seven ({a})");
    let short = cut(&label, 80);
    assert_eq!(short.chars().count(), 80);
    assert!(short.starts_with("Binance hot …") && short.ends_with(&format!("({a})")), "{short}");
    let shorter = cut(&label, 40);
    assert_eq!(shorter.chars().count(), 40);
    assert!(shorter.starts_with("Binance hot… (bcrt1p") && shorter.ends_with("qq)"), "{shorter}");
    assert_eq!(cut("script:5121abcdef", 10), "scrip…cdef");
}
