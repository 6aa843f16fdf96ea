//! The pictures, on hand-made traces: what is drawn, how it looks, how it is laid out, and the
//! svg Graphviz makes of it.

use crate::cli::{Draw, Format};
use crate::error::exit_code;
use crate::model::{Body, DestinationView, EdgeView, PathView, Report, TagView, TraceView, TxNode};
use crate::output::draw;
use crate::render::samples::{destination, edge, path, trace, tx_node};
use crate::render::{render, samples, Style};

fn id(n: u32) -> String {
    format!("{n:064x}")
}

/// Tx `n` of the block at height 800000 + `n`, at `hop`.
fn tx(n: u32, hop: u32) -> TxNode {
    TxNode { time: format!("2024-01-{:02}T12:{:02}:00Z", n % 28 + 1, n % 60), ..tx_node(&id(n), 800_000 + n, hop) }
}

fn tag(label: &str) -> TagView {
    samples::tag(label, "exchange")
}

/// Output `vout` of tx `from` paying `address`, spent by input 0 of tx `to`.
fn spend(from: u32, vout: u32, to: u32, value_sat: u64, address: &str) -> EdgeView {
    EdgeView { vout, ..edge(&id(from), &id(to), value_sat, address) }
}

/// A forward destination: output `vout` of tx `n`, half of it traced.
fn dest(n: u32, vout: u32, address: &str, value_sat: u64, state: &'static str) -> DestinationView {
    DestinationView {
        vout: Some(vout),
        height: 800_000 + n,
        time: "2024-01-31T12:00:00Z".into(),
        traced_sat: Some(value_sat / 2),
        percent: Some(12.5),
        ..destination(&id(n), address, value_sat, state)
    }
}

fn picture(view: &TraceView, draw: Draw, format: Format) -> String {
    let report = Report { body: Body::Trace(view.clone()), notes: vec![] };
    render(&report, format, &Style { draw, ..Style::default() }).unwrap()
}

/// The line declaring node `node` (a quoted id followed by its attributes).
fn node_line<'a>(dot: &'a str, node: &str) -> &'a str {
    let start = format!("\"{node}\" [");
    let found = dot.lines().find(|l| l.trim_start().starts_with(&start));
    found.unwrap_or_else(|| panic!("no node {node} in {dot}"))
}

/// The line of the arrow `from -> to`.
fn edge_line<'a>(dot: &'a str, from: &str, to: &str) -> &'a str {
    let start = format!("\"{from}\" -> \"{to}\" [");
    let found = dot.lines().find(|l| l.trim_start().starts_with(&start) && !l.contains("style=invis"));
    found.unwrap_or_else(|| panic!("no edge {from} -> {to} in {dot}"))
}

fn pen(line: &str) -> f64 {
    let at = line.find("penwidth=").unwrap() + "penwidth=".len();
    line[at..].split([',', ']']).next().unwrap().parse().unwrap()
}

/// Lines declaring tx nodes (their id is a whole txid).
fn tx_nodes(dot: &str) -> usize {
    dot.lines().filter(|l| l.trim_start().get(..68).is_some_and(|s| s.ends_with("\" [") && !s.contains(':'))).count()
}

/// A peel chain: tx n (hop n-1) pays 1 BTC away (to an unspent address) and the rest to tx n+1;
/// the last one's change is at the hop limit.
fn chain(txs: u32) -> TraceView {
    let nodes = (1..=txs).map(|n| tx(n, n - 1)).collect();
    let edges =
        (1..txs).map(|n| spend(n, 1, n + 1, u64::from(100 - n) * 100_000_000, &format!("bc1qchange{n}"))).collect();
    let mut destinations: Vec<_> =
        (1..=txs).map(|n| dest(n, 0, &format!("bc1qpeel{n}"), 100_000_000, "unspent")).collect();
    destinations.push(dest(txs, 1, "bc1qlastchange", 50 * 100_000_000, "hop_limit"));
    trace("forward", nodes, edges, destinations)
}

#[test]
fn txs_mode_draws_destinations_as_addresses_styled_by_why_the_branch_ends() {
    let mut binance = dest(2, 1, "bc1qexchangedepositaddressxxxxxxxxxxxxxxxx", 40_000_000, "stopped");
    binance.tags = vec![tag("Binance")];
    let view = trace(
        "forward",
        vec![tx(1, 0), tx(2, 1)],
        vec![spend(1, 0, 2, 150_000_000, "bc1qmiddle")],
        vec![dest(1, 1, "bc1qleft", 20_000_000, "hop_limit"), dest(2, 0, "bc1qsits", 30_000_000, "unspent"), binance],
    );
    let dot = picture(&view, Draw::Txs, Format::Dot);
    let unspent = node_line(&dot, "address:bc1qsits");
    assert!(unspent.contains("label=\"bc1qsits\\n0.3 BTC\\ntraced 0.15 BTC (12.50%)\\nunspent\""), "{unspent}");
    assert!(unspent.contains("shape=ellipse") && unspent.contains("fillcolor=\"#dcfce7\""), "{unspent}");
    let stop = node_line(&dot, "address:bc1qexchangedepositaddressxxxxxxxxxxxxxxxx");
    assert!(stop.contains("label=\"Binance\\nbc1qexchange…xxxxxx\\n0.4 BTC"), "{stop}");
    assert!(stop.contains("stop address\"") && stop.contains("shape=octagon"), "{stop}");
    let cut = node_line(&dot, "address:bc1qleft");
    assert!(cut.contains("hop limit\"") && cut.contains("style=\"filled,dashed\""), "{cut}");
    // Forward: from the tx to the address, with the output's value.
    assert!(edge_line(&dot, &id(2), "address:bc1qsits").contains("label=\"0.3 BTC\""), "{dot}");
    assert!(edge_line(&dot, &id(1), &id(2)).contains("label=\"1.5 BTC\\nbc1qmiddle\""), "{dot}");
    assert!(dot.contains("Trace forward from"), "{dot}");
    assert!(dot.contains(": 2 txs, hops 0–1 reached (limit 20)</B>"), "{dot}");
}

#[test]
fn backward_destinations_point_into_their_tx() {
    let mut coinbase = dest(2, 0, "", 5_000_000_000, "coinbase");
    (coinbase.vout, coinbase.vin, coinbase.address, coinbase.label) = (None, Some(0), None, "coinbase".into());
    let view =
        trace("backward", vec![tx(1, 0), tx(2, 1)], vec![spend(2, 0, 1, 5_000_000_000, "bc1qminer")], vec![coinbase]);
    let dot = picture(&view, Draw::Txs, Format::Dot);
    let node = format!("output:{}:in0", id(2));
    assert!(node_line(&dot, &node).contains("fillcolor=\"#fef3c7\""), "{dot}");
    assert!(edge_line(&dot, &node, &id(2)).contains("label=\"50 BTC\""), "{dot}");
    assert!(dot.contains("coinbase: newly mined coins"), "{dot}");
}

#[test]
fn addresses_mode_merges_a_repeated_address_and_draws_txs_as_dots() {
    // Tx 1 pays bc1qreused, which tx 2 spends; tx 2 pays it again, and that output is unspent.
    let view = trace(
        "forward",
        vec![tx(1, 0), tx(2, 1)],
        vec![spend(1, 0, 2, 200_000_000, "bc1qreused")],
        vec![dest(2, 0, "bc1qreused", 50_000_000, "unspent"), dest(2, 1, "bc1qother", 10_000_000, "unspent")],
    );
    let dot = picture(&view, Draw::Addresses, Format::Dot);
    let reused = dot.lines().filter(|l| l.trim_start().starts_with("\"address:bc1qreused\" [")).count();
    assert_eq!(reused, 1, "{dot}");
    let line = node_line(&dot, "address:bc1qreused");
    assert!(line.contains("label=\"bc1qreused\\n2.5 BTC\\ntraced 0.25 BTC (12.50%)\\nunspent\""), "{line}");
    for n in [1, 2] {
        let dot_line = node_line(&dot, &id(n));
        assert!(dot_line.contains("shape=point") && dot_line.contains("label=\"\""), "{dot_line}");
        assert!(dot_line.contains(&format!("tooltip=\"tx {}", id(n))), "{dot_line}");
    }
    assert!(node_line(&dot, &id(1)).contains("xlabel=\"00000000\\n2024-01-02\""), "{dot}");
    // Paid by tx 1, spent by tx 2, paid again by tx 2.
    assert!(edge_line(&dot, &id(1), "address:bc1qreused").contains("label=\"2 BTC\""), "{dot}");
    assert!(edge_line(&dot, "address:bc1qreused", &id(2)).contains("label=\"2 BTC\""), "{dot}");
    assert!(edge_line(&dot, &id(2), "address:bc1qreused").contains("label=\"0.5 BTC\""), "{dot}");
    assert!(dot.contains("● root tx") && !dot.contains("address paid and spent on"), "{dot}");
}

#[test]
fn arrows_grow_with_their_value() {
    let view = trace(
        "forward",
        vec![tx(1, 0), tx(2, 1), tx(3, 1)],
        vec![spend(1, 0, 2, 100 * 100_000_000, "bc1qbig"), spend(1, 1, 3, 1_000, "bc1qtiny")],
        vec![],
    );
    let dot = picture(&view, Draw::Txs, Format::Dot);
    let (big, tiny) = (pen(edge_line(&dot, &id(1), &id(2))), pen(edge_line(&dot, &id(1), &id(3))));
    assert_eq!(big, 6.0);
    assert!((1.0..1.01).contains(&tiny), "{tiny}");
    assert!(dot.contains("{rank=same; "), "two txs at hop 1 share a column: {dot}");
}

#[test]
fn the_legend_lists_only_the_styles_used() {
    let mut view = trace("forward", vec![tx(1, 0), tx(2, 1)], vec![spend(1, 0, 2, 1_000, "bc1qa")], vec![]);
    let dot = picture(&view, Draw::Txs, Format::Dot);
    assert!(dot.contains(">root tx (hop 0)</TD>") && dot.contains(">tx: txid, time, height, hop</TD>"), "{dot}");
    for unused in ["unspent", "stop address", "not followed", "coinbase", "tagged", "left out"] {
        assert!(!dot.contains(unused), "{unused} in {dot}");
    }
    let mut stopped = dest(2, 0, "bc1qexchange", 1_000, "stopped");
    stopped.tags = vec![tag("Kraken")];
    view.destinations = vec![stopped, dest(2, 1, "bc1qlate", 1, "below_min_value")];
    view.txs[1].stopped = true;
    let dot = picture(&view, Draw::Txs, Format::Dot);
    assert!(dot.contains(">stop address: the branch ends</TD>"), "{dot}");
    assert!(dot.contains(">tx touching a stop address</TD>"), "{dot}");
    assert!(dot.contains(">not followed further: below --min-value</TD>"), "{dot}");
    assert!(dot.contains(">tagged: best tag's label first</TD>"), "{dot}");
    assert!(!dot.contains("unspent") && !dot.contains(">tx: txid"), "{dot}");
}

#[test]
fn a_20_hop_chain_wraps_into_rows_of_at_most_six_hops() {
    let dot = picture(&chain(21), Draw::Txs, Format::Dot);
    for (row, hops) in ["0–5", "6–11", "12–17", "18–20"].iter().enumerate() {
        let at = dot.find(&format!("subgraph cluster_row{row} {{")).unwrap_or_else(|| panic!("row {row}: {dot}"));
        assert!(dot[at..].contains(&format!("label=\"hops {hops}\"")), "{dot}");
    }
    assert!(!dot.contains("cluster_row4"), "{dot}");
    // The arrows from the end of one row to the start of the next do not hold the columns.
    assert!(edge_line(&dot, &id(6), &id(7)).contains("constraint=false"), "{dot}");
    assert!(!edge_line(&dot, &id(5), &id(6)).contains("constraint=false"), "{dot}");
    assert_eq!(dot.matches("constraint=false").count(), 3, "{dot}");
    // Invisible arrows hold each row's columns in order: 5 + 5 + 5 + 2 of them.
    assert_eq!(dot.matches("[style=invis, minlen=1]").count(), 17, "{dot}");
    let addresses = picture(&chain(21), Draw::Addresses, Format::Dot);
    assert_eq!(addresses.matches("[style=invis, minlen=2]").count(), 17, "{addresses}");
    // A short chain stays on one row; so does a long one asked to (Graphviz's fallback).
    assert!(!picture(&chain(6), Draw::Txs, Format::Dot).contains("cluster_row"));
    let report = Report { body: Body::Trace(chain(21)), notes: Vec::new() };
    let flat = crate::output::one_row(&report, &Style::default(), &dot).expect("a wrapped picture has a one-row form");
    assert!(!flat.contains("cluster_row") && !flat.contains("constraint=false"), "{flat}");
    let short = Report { body: Body::Trace(chain(6)), notes: Vec::new() };
    let one = picture(&chain(6), Draw::Txs, Format::Dot);
    assert_eq!(crate::output::one_row(&short, &Style::default(), &one), None);
    // Backward, the money comes from the farthest hop: it is on the first row.
    let mut back = chain(21);
    back.direction = "backward";
    for e in &mut back.edges {
        std::mem::swap(&mut e.from_txid, &mut e.to_txid);
    }
    let dot = picture(&back, Draw::Txs, Format::Dot);
    assert!(dot.contains("subgraph cluster_row0 {\n    label=\"hops 15–20\""), "{dot}");
    assert!(dot.contains("subgraph cluster_row3 {\n    label=\"hops 0–2\""), "{dot}");
}

/// A root paying a 30-tx chain that carries most of the value, and 20 side chains of 10 txs
/// each carrying less, branch `k` more than branch `k - 1`.
fn big_trace() -> TraceView {
    let mut txs = vec![tx(1, 0)];
    let mut edges = Vec::new();
    let mut destinations = Vec::new();
    for n in 2..=31 {
        txs.push(tx(n, n - 1));
        edges.push(spend(n - 1, 0, n, 90 * 100_000_000, &format!("bc1qmain{n}")));
    }
    destinations.push(dest(31, 0, "bc1qwhereitwent", 90 * 100_000_000, "unspent"));
    for k in 0..20 {
        let value = u64::from(k + 1) * 1_000_000;
        let first = 1000 + 100 * k;
        edges.push(spend(1, k + 1, first, value, &format!("bc1qside{first}")));
        for n in first..first + 10 {
            txs.push(tx(n, n - first + 1));
            if n > first {
                edges.push(spend(n - 1, 0, n, value, &format!("bc1qside{n}")));
            }
        }
        destinations.push(dest(first + 9, 0, &format!("bc1qbranch{k}"), value, "unspent"));
    }
    trace("forward", txs, edges, destinations)
}

#[test]
fn a_big_trace_keeps_its_largest_flows_and_says_how_many_were_left_out() {
    let view = big_trace();
    let dot = picture(&view, Draw::Txs, Format::Dot);
    assert!(
        dot.contains("showing 150 of 231 txs: those carrying the largest traced value, at most 25 per hop"),
        "{dot}"
    );
    assert_eq!(tx_nodes(&dot), 150, "{dot}");
    for n in 1..=31 {
        node_line(&dot, &id(n));
    }
    node_line(&dot, "address:bc1qwhereitwent");
    // 119 side txs fit: the 11 largest branches and 9 txs of the 12th.
    for k in 9..20 {
        node_line(&dot, &format!("address:bc1qbranch{k}"));
    }
    node_line(&dot, &id(1000 + 100 * 8 + 8));
    assert!(!dot.contains(&format!("\"{}\" [", id(1000 + 100 * 8 + 9))), "{dot}");
    assert!(!dot.contains(&format!("\"{}\" [", id(1000 + 100 * 7))), "{dot}");
    // The root's 8 smallest branches are one dashed box, and so is the end of the cut branch.
    let stub = node_line(&dot, &format!("left_out:{}", id(1)));
    assert!(stub.contains("label=\"8 more txs\\nnot drawn\""), "{stub}");
    assert!(edge_line(&dot, &id(1), &format!("left_out:{}", id(1))).contains("style=dashed"), "{dot}");
    assert!(node_line(&dot, &format!("left_out:{}", id(1000 + 100 * 8 + 8))).contains("1 more tx\\n"), "{dot}");
    assert!(dot.contains(">left out of this picture: see json or csv</TD>"), "{dot}");
    // Deterministic: the same view gives the same picture.
    assert_eq!(dot, picture(&view, Draw::Txs, Format::Dot));
    // GraphML is data: it keeps everything.
    let xml = picture(&view, Draw::Txs, Format::Graphml);
    assert_eq!(xml.matches("<node id=").count(), 231);
}

#[test]
fn a_wide_fan_out_keeps_its_largest_txs_per_hop_and_a_batch_its_largest_outputs() {
    let mut txs = vec![tx(1, 0)];
    let mut edges = Vec::new();
    for n in 2..62 {
        txs.push(tx(n, 1));
        edges.push(spend(1, n, n, u64::from(n) * 1_000, "bc1qfan"));
    }
    let mut destinations: Vec<_> = (2..62).map(|n| dest(n, 0, "bc1qsame", u64::from(n) * 1_000, "unspent")).collect();
    // The root itself pays 15 more outputs that end.
    destinations.extend((0..15).map(|v| dest(1, 100 + v, &format!("bc1qpaid{v}"), u64::from(v + 1) * 100, "unspent")));
    let view = trace("forward", txs, edges, destinations);
    let dot = picture(&view, Draw::Txs, Format::Dot);
    assert!(dot.contains("showing 26 of 61 txs"), "{dot}");
    // The 25 largest of hop 1 are 37..=61.
    node_line(&dot, &id(37));
    assert!(!dot.contains(&format!("\"{}\" [", id(36))), "{dot}");
    assert!(node_line(&dot, &format!("left_out:{}", id(1))).contains("35 more txs"), "{dot}");
    // Of the root's 15 outputs, the 10 largest are drawn; the 5 smallest (0.000015 BTC) are folded.
    assert!(!dot.contains("address:bc1qpaid4\""), "{dot}");
    node_line(&dot, "address:bc1qpaid5");
    let folded = node_line(&dot, &format!("left_out_ends:{}", id(1)));
    assert!(folded.contains("label=\"5 more outputs\\n0.000015 BTC\\ntraced 0.0000075 BTC\\nnot drawn\""), "{folded}");
}

#[test]
fn paths_draw_their_target_outputs_and_say_when_not_found() {
    let mut target = dest(3, 0, "bc1qtarget", 70_000_000, "spent");
    (target.traced_sat, target.percent, target.spent_by) = (None, None, Some(id(9)));
    let nodes = vec![tx(1, 0), tx(2, 1), tx(3, 2)];
    let edges = vec![spend(1, 0, 2, 90_000_000, "bc1qa"), spend(2, 0, 3, 80_000_000, "bc1qb")];
    let mut view = PathView { visited_txs: 12, ..path(&id(1), "bc1qtarget", nodes, edges, vec![target]) };
    let text = |view: &PathView| {
        let report = Report { body: Body::Path(view.clone()), notes: vec![] };
        render(&report, Format::Dot, &Style::default()).unwrap()
    };
    let dot = text(&view);
    assert!(dot.contains(&format!("<B>Path from {} to bc1qtarget: 2 hops</B>", id(1))), "{dot}");
    let node = node_line(&dot, "address:bc1qtarget");
    assert!(node.contains("label=\"bc1qtarget\\n0.7 BTC\\nspent later\"") && node.contains("#e0f2fe"), "{node}");
    assert!(dot.contains(">target output, spent later</TD>"), "{dot}");
    (view.found, view.hops, view.txs, view.nodes, view.edges, view.destinations) =
        (false, None, vec![], vec![], vec![], vec![]);
    let dot = text(&view);
    assert!(dot.contains("bc1qtarget: not found within 30 hops</B>"), "{dot}");
    if have_dot() {
        let svg = String::from_utf8(draw("dot", &dot, Format::Svg).unwrap()).unwrap();
        assert!(svg.contains("not found within 30 hops"), "{svg}");
    }
}

#[test]
fn graphml_nodes_carry_their_time() {
    let xml = picture(&chain(2), Draw::Addresses, Format::Graphml);
    assert!(xml.contains("<key id=\"time\" for=\"node\" attr.name=\"time\" attr.type=\"string\"/>"), "{xml}");
    assert!(xml.contains("<data key=\"time\">2024-01-02T12:01:00Z</data>"), "{xml}");
}

/// Whether Graphviz is installed; the svg tests say so and pass when it is not.
fn have_dot() -> bool {
    let found = std::process::Command::new("dot").arg("-V").output().is_ok();
    if !found {
        eprintln!("Graphviz's dot is not installed: svg and png not checked");
    }
    found
}

/// Width over height of an svg, from the `<svg width="..pt" height="..pt"` attributes.
fn aspect(svg: &str) -> f64 {
    let number = |name: &str| -> f64 {
        let at = svg.find("<svg width=").unwrap();
        let rest = &svg[at..];
        let from = rest.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        rest[from..].split(|c: char| !c.is_ascii_digit() && c != '.').next().unwrap().parse().unwrap()
    };
    number("width") / number("height")
}

#[test]
fn svg_is_drawn_by_graphviz_and_a_20_hop_chain_fits_a_page() {
    if !have_dot() {
        return;
    }
    for draw_kind in [Draw::Txs, Draw::Addresses] {
        let dot = picture(&chain(21), draw_kind, Format::Svg);
        let svg = String::from_utf8(draw("dot", &dot, Format::Svg).unwrap()).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
        let ratio = aspect(&svg);
        assert!((0.33..=3.0).contains(&ratio), "{draw_kind:?}: width/height {ratio}");
    }
    let png = draw("dot", &picture(&chain(3), Draw::Txs, Format::Png), Format::Png).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{:?}", &png[..8.min(png.len())]);
}

#[test]
fn a_missing_or_failing_dot_is_a_one_line_error_exiting_1() {
    let err = draw("/nonexistent/graphviz/dot", "digraph { a }", Format::Svg).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("--format svg needs Graphviz's /nonexistent/graphviz/dot program, which was not found: install graphviz (apt-get install graphviz)"), "{text}");
    assert_eq!(text.lines().count(), 1);
    assert_eq!(exit_code(&anyhow::Error::from(err)), 1);
    if have_dot() {
        let err = draw("dot", "digraph { a -> }", Format::Png).unwrap_err().to_string();
        assert!(err.starts_with("--format png failed in Graphviz's dot (exit status: 1): Error:"), "{err}");
        assert!(err.contains("syntax error"), "{err}");
        assert_eq!(err.lines().count(), 1);
    }
}
