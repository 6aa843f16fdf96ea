//! The shape of each format, on hand-made results.

use super::render;
use super::samples::{address, edge, heuristics, path, trace, tx_node, txid};
use crate::cli::Format;
use crate::error::UsageError;
use crate::model::{Body, ClusterSummary, ClustersView, EdgeView, LinkView, Report, TraceView, WhyView};

/// Output 1 of tx `from` paying `label`, spent by input 0 of tx `to`.
fn spend(from: char, to: char, value_sat: u64, label: &str) -> EdgeView {
    edge(&txid(from), &txid(to), value_sat, label)
}

fn trace_report() -> Report {
    let txs = vec![tx_node(&txid('a'), 101, 0), tx_node(&txid('b'), 102, 1), tx_node(&txid('c'), 1234, 2)];
    let edges = vec![spend('a', 'b', 150_000_000, "bcrt1qexample"), spend('b', 'c', 7, "script:51ae")];
    let view =
        TraceView { hops: 2, source_sat: 150_000_000, truncated: true, ..trace("forward", txs, edges, Vec::new()) };
    Report { body: Body::Trace(view), notes: vec![] }
}

fn text(report: &Report, format: Format) -> String {
    render(report, format, &Default::default()).unwrap()
}

/// The characters of `line` in `range` (column positions, not bytes: tables hold `…` and `→`).
fn columns(line: &str, range: std::ops::Range<usize>) -> String {
    line.chars().skip(range.start).take(range.len()).collect()
}

#[test]
fn table_columns_line_up_and_amounts_are_btc() {
    let out = text(&trace_report(), Format::Table);
    assert!(out.starts_with(&format!("Trace forward from {}: 3 txs, 2 edges,\n", txid('a'))), "{out}");
    assert!(out.contains("\n  hops 0..=2 reached (limit 2), source 1.50000000 BTC\n"), "{out}");
    assert!(out.contains("TRUNCATED at 10000 txs"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("HOP")).unwrap();
    // The TXID column starts at the same place on every row; heights are right-aligned.
    let col = lines[header].find("TXID").unwrap();
    for (row, c) in lines[header + 1..header + 4].iter().zip(['a', 'b', 'c']) {
        assert_eq!(columns(row, col..col + 17), format!("{}…", &txid(c)[..16]), "{row}");
    }
    let height_end = lines[header].find("HEIGHT").unwrap() + "HEIGHT".len();
    assert_eq!(columns(lines[header + 1], height_end - 3..height_end), "101");
    assert_eq!(columns(lines[header + 3], height_end - 4..height_end), "1234");
    assert!(out.contains("1.50000000"), "{out}");
    assert!(out.contains("0.00000007"), "{out}");
    assert!(out.contains("script:51ae"), "{out}");
}

#[test]
fn dot_is_a_digraph_with_labelled_nodes_and_edges() {
    let out = text(&trace_report(), Format::Dot);
    assert!(out.starts_with("digraph trace {\n"), "{out}");
    assert!(out.trim_end().ends_with('}'));
    let root = format!("\"{}\" [label=\"aaaaaaaaaaaa…\\n2024-01-18 00:00 UTC\\nheight 101, hop 0\"", txid('a'));
    assert!(out.contains(&root), "{out}");
    assert!(
        out.contains(&format!("\"{}\" -> \"{}\" [label=\"1.5 BTC\\nbcrt1qexample\"", txid('a'), txid('b'))),
        "{out}"
    );
    assert_eq!(out.matches("\" -> \"").count(), 2, "{out}");
}

#[test]
fn graphml_declares_keys_and_lists_every_node_and_edge() {
    let out = text(&trace_report(), Format::Graphml);
    assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<graphml "), "{out}");
    assert!(out.contains("<key id=\"value_sat\" for=\"edge\" attr.name=\"value_sat\" attr.type=\"long\"/>"));
    assert!(out.contains("<graph id=\"trace\" edgedefault=\"directed\">"));
    assert_eq!(out.matches("<node id=").count(), 3);
    assert_eq!(out.matches("<edge id=").count(), 2);
    assert!(out.contains(&format!("<edge id=\"e0\" source=\"{}\" target=\"{}\">", txid('a'), txid('b'))));
    assert!(out.contains("<data key=\"value_sat\">150000000</data>"));
    assert!(out.trim_end().ends_with("</graphml>"));
    // Balanced open and close tags.
    assert_eq!(out.matches("<node ").count(), out.matches("</node>").count());
    assert_eq!(out.matches("<data ").count(), out.matches("</data>").count());
}

#[test]
fn graphs_of_paths_and_escaping() {
    let e = EdgeView { address: None, ..spend('a', 'b', 1, "a\"b<c>&") };
    let nodes = vec![tx_node(&txid('a'), 1, 0), tx_node(&txid('b'), 2, 1)];
    let view = path("x", "y\"", nodes, vec![e], Vec::new());
    let report = Report { body: Body::Path(view), notes: vec![] };
    let dot = text(&report, Format::Dot);
    assert!(dot.starts_with("digraph path {"));
    assert!(dot.contains("a\\\"b<c>&"), "{dot}");
    assert!(dot.contains("<B>Path from x to y&quot;: 1 hop</B>"), "{dot}");
    let xml = text(&report, Format::Graphml);
    assert!(xml.contains("<data key=\"address\">a&quot;b&lt;c&gt;&amp;</data>"), "{xml}");
    let table = text(&report, Format::Table);
    assert!(table.starts_with("Path from x to y\": 2 txs, 1 hop\n"), "{table}");
}

#[test]
fn json_is_one_document_and_graph_formats_refuse_addresses() {
    let out = text(&trace_report(), Format::Json);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["edges"][1]["address"], serde_json::Value::Null);
    assert_eq!(value["txs"][2]["hop"], 2);
    let view = address("a");
    let report = Report { body: Body::Address(view), notes: vec![] };
    assert!(matches!(
        render(&report, Format::Graphml, &Default::default()),
        Err(UsageError::GraphFormat { command: "address", .. })
    ));
    let table = text(&report, Format::Table);
    assert!(table.contains("First seen    never"), "{table}");
}

#[test]
fn cluster_tables_list_links_and_ranks_and_graph_formats_refuse_them() {
    let link = LinkView {
        txid: txid('d'),
        height: 7,
        time: "2024-01-08T00:00:00Z".into(),
        from: "bcrt1qfrom".into(),
        to: "bcrt1qto".into(),
        reason: "spent_together",
    };
    let why = WhyView {
        from: "bcrt1qfrom".into(),
        to: "bcrt1qto".into(),
        same_cluster: true,
        cluster_id: Some("bcrt1qfrom".into()),
        links: vec![link],
        heuristics: heuristics(),
    };
    let report = Report { body: Body::Why(why), notes: vec![] };
    let table = text(&report, Format::Table);
    assert!(table.starts_with("bcrt1qfrom and bcrt1qto are in one cluster (bcrt1qfrom): 1 link(s)"), "{table}");
    let row = format!("     7  2024-01-08 00:00  {}…  bcrt1qfrom  bcrt1qto  spent_together", &txid('d')[..16]);
    assert!(table.contains(&row), "{table}");
    assert!(matches!(
        render(&report, Format::Dot, &Default::default()),
        Err(UsageError::GraphFormat { command: "cluster", .. })
    ));
    let top = ClustersView {
        top: 2,
        heuristics: heuristics(),
        clusters: vec![
            ClusterSummary { cluster_id: "bcrt1qbig".into(), size: 12, balance_sat: 150_000_000 },
            ClusterSummary { cluster_id: "bcrt1qsmall".into(), size: 2, balance_sat: 0 },
        ],
    };
    let report = Report { body: Body::Clusters(top), notes: vec![] };
    let table = text(&report, Format::Table);
    assert!(table.contains("   1  bcrt1qbig           12     1.50000000"), "{table}");
    assert!(table.contains("   2  bcrt1qsmall          2     0.00000000"), "{table}");
    assert!(matches!(
        render(&report, Format::Graphml, &Default::default()),
        Err(UsageError::GraphFormat { command: "clusters", .. })
    ));
}
