//! `report.html` from hand-made answers: its parts in order, every text escaped, nothing loaded
//! from elsewhere, the picture inlined or its absence explained, and the exposure picture.

use std::collections::BTreeMap;

use super::html::{command_text, inline_svg, page, Page, Picture, RECOMPUTE};
use super::{exposure, BlockRef, CaseReport, Hop, Spend, TaggedAddress, FORMAT};
use crate::model::{
    AttributionView, Body, CategoryExposure, DestinationView, EdgeView, EntityExposure, ExposureView, TagView,
    TraceView, TxNode, UnattributedView,
};

fn txid(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn tag(label: &str) -> TagView {
    TagView {
        label: label.into(),
        category: Some("exchange".into()),
        source: "https://example.org/?a=1&b=2".into(),
        confidence: "forensic".into(),
        pack: "pack".into(),
    }
}

fn node(id: char, hop: u32) -> TxNode {
    TxNode {
        txid: txid(id),
        height: 100 + hop,
        time: format!("2024-01-0{}T12:00:00Z", hop + 1),
        block_hash: txid('0'),
        hop,
        stopped: false,
        stopped_at: Vec::new(),
        tags: Vec::new(),
    }
}

/// A forward trace: tx a pays 7,000 to tx b (through `bcrt1qmiddle`), which pays 6,900 to a
/// tagged address where the money sits; a's other output, 3,000, is below --min-value.
fn trace(label: &str) -> TraceView {
    let edge = EdgeView {
        from_txid: txid('a'),
        vout: 0,
        to_txid: txid('b'),
        vin: 0,
        value_sat: 7000,
        address: Some("bcrt1qmiddle".into()),
        tags: Vec::new(),
        label: "bcrt1qmiddle".into(),
    };
    let end =
        |id: char, vout: u32, value: u64, address: &str, tags: Vec<TagView>, state: &'static str| DestinationView {
            txid: txid(id),
            vout: Some(vout),
            vin: None,
            hop: u32::from(id == 'b'),
            height: 100 + u32::from(id == 'b'),
            time: "2024-01-02T12:00:00Z".into(),
            address: Some(address.into()),
            tags,
            value_sat: value,
            traced_sat: Some(value),
            percent: Some(0.0),
            state,
            spent_by: None,
            prev_output: None,
            label: address.into(),
        };
    TraceView {
        root: txid('a'),
        direction: "forward",
        hops: 3,
        hops_reached: 1,
        min_value_sat: 5000,
        max_txs: 10_000,
        follow: "all",
        top: None,
        source_sat: 10_000,
        fees_sat: 100,
        txs: vec![node('a', 0), node('b', 1)],
        edges: vec![edge],
        destinations: vec![
            end('a', 1, 3000, "bcrt1qsmall", Vec::new(), "below_min_value"),
            end('b', 0, 6900, "bcrt1qexchange", vec![tag(label)], "unspent"),
        ],
        joins: Vec::new(),
        truncated: false,
    }
}

fn block(height: u32) -> BlockRef {
    BlockRef { height, hash: txid('e') }
}

fn case(body: &Body, label: &str) -> CaseReport {
    let output = |id: char, vout: u32, value: u64, address: &str| Hop {
        txid: txid(id),
        block: block(100),
        vout: Some(vout),
        value_sat: Some(value),
        script_hex: Some("0014".into()),
        address: Some(address.into()),
        spent_by: None,
    };
    let spent = Spend { txid: txid('b'), vin: 0, block: block(101) };
    CaseReport {
        format: FORMAT,
        tool: "chaintrail query 0.1.0".into(),
        command: vec!["trace".into(), "forward".into(), txid('a'), "--stop-at-category".into(), "a b".into()],
        network: "regtest".into(),
        tip: block(102),
        case: Default::default(),
        index: Default::default(),
        hops: vec![
            Hop { spent_by: Some(spent), ..output('a', 0, 7000, "bcrt1qmiddle") },
            output('a', 1, 3000, "bcrt1qsmall"),
            output('b', 0, 6900, "bcrt1qexchange"),
            Hop { vout: None, value_sat: None, script_hex: None, address: None, ..output('c', 0, 0, "") },
        ],
        scripts_used: Vec::new(),
        clusters_used: Vec::new(),
        tags_used: vec![TaggedAddress {
            address: "bcrt1qexchange".into(),
            script_hex: "0014".into(),
            tags: vec![crate::tags::Tag {
                label: label.into(),
                category: Some("exchange".into()),
                source: "https://example.org/?a=1&b=2".into(),
                confidence: "forensic".into(),
                confidence_level: 50,
                pack: "pack".into(),
                abuse: None,
                actor: None,
                is_cluster_definer: false,
            }],
        }],
        tx_tags_used: Vec::new(),
        answer: match body {
            Body::Trace(t) => serde_json::to_value(t).unwrap(),
            _ => serde_json::Value::Null,
        },
        requests: None,
        digest: String::new(),
        signature: None,
    }
    .seal()
}

fn times() -> BTreeMap<u32, String> {
    (100..=102).map(|h| (h, format!("2024-01-0{}T12:00:00Z", h - 99))).collect()
}

fn render(body: &Body, case: &CaseReport, picture: &Picture, notes: &[String]) -> String {
    page(&Page { case, body, times: &times(), picture, notes })
}

const SVG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n\
<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\"\n \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n\
<svg width=\"100pt\" height=\"50pt\" viewBox=\"0 0 100 50\" xmlns=\"http://www.w3.org/2000/svg\">\
<g class=\"node\"><title>aaaa</title><text>aaaaaaaaaaaa…</text></g></svg>\n";

#[test]
fn a_page_has_the_question_summary_picture_tables_and_digest_in_order() {
    let body = Body::Trace(trace("Exchange X"));
    let case = case(&body, "Exchange X");
    let html = render(&body, &case, &Picture::Svg(SVG.into()), &["a note".into()]);
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"), "{html}");
    assert!(html.trim_end().ends_with("</html>"));
    let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
    let order = [
        "<h1>Where did the money go?</h1>",
        "id=\"summary\"",
        "id=\"picture\"",
        "id=\"ends\"",
        "id=\"destinations\"",
        "id=\"hops\"",
        "id=\"tags\"",
        "id=\"notes\"",
        "id=\"digest\"",
    ];
    for pair in order.windows(2) {
        assert!(at(pair[0]) < at(pair[1]), "{} before {}", pair[0], pair[1]);
    }
    // What was asked, where and when.
    let asked = format!("Trace forward from {}, up to 3 hops, edges of at least 0.00005000 BTC", txid('a'));
    assert!(html.contains(&asked));
    assert!(html.contains(&format!(
        "<code>query --db &lt;index&gt; trace forward {} --stop-at-category &#39;a b&#39;</code>",
        txid('a')
    )));
    assert!(html
        .contains(&format!("height 102 &middot; 2024-01-03 12:00:00 UTC &middot; block <code>{}</code>", txid('e'))));
    // Key numbers: the source, and where it ended by state, adding up to it.
    assert!(html.contains("<div class=\"n\">0.00010000 BTC</div>"), "{html}");
    assert!(html.contains(
        "<span class=\"state unspent\">unspent</span></td><td class=\"num\">1</td>\
         <td class=\"num\">0.00006900</td><td class=\"num\">69.00%</td>"
    ));
    assert!(
        html.contains("<tr class=\"total\"><td>total</td><td class=\"num\">2</td><td class=\"num\">0.00010000</td>")
    );
    // The tagged address where the money sits, with the value traced to it.
    assert!(html.contains(
        "<tr><td><span class=\"tag\">Exchange X</span> <span class=\"muted\">exchange</span></td>\
         <td class=\"id\"><code>bcrt1qexchange</code></td><td>ends here: unspent</td>\
         <td class=\"num\">0.00006900</td><td class=\"num\">69.00%</td></tr>"
    ));
    assert!(html.contains("<div class=\"n\">1</div><div class=\"k\">tagged addresses on the way</div>"));
    // Destinations, largest first; the tag leads its address.
    assert!(at("bcrt1qexchange</code>") < at("bcrt1qsmall</code>"));
    // Hops: whole txids, the coinbase's newly mined coins, the spender with its block.
    assert!(html.contains("<h2>Hops: the 4 outputs this answer rests on</h2>"));
    assert!(html.contains(&format!("<code>{}:0</code>", txid('a'))));
    assert!(
        html.contains(&format!("<code>{}</code> <span class=\"muted\">coinbase: newly mined coins</span>", txid('c')))
    );
    assert!(html.contains(&format!(
        "<code>{}:0</code><br><span class=\"small muted\">height 101 &middot; 2024-01-02 12:00:00 UTC</span>",
        txid('b')
    )));
    // The picture is inline, without the XML prologue; the digest and how to recompute it.
    assert!(html.contains("<figure class=\"picture\">\n<svg width=\"100pt\""));
    assert!(!html.contains("<?xml") && !html.contains("<!DOCTYPE svg"));
    assert!(html.contains(&format!("<p class=\"digest\"><code>{}</code></p>", case.digest)));
    assert!(html.contains(&super::html::esc(RECOMPUTE)));
    assert!(html.contains("<li>a note</li>"));
    // The file is not signed, and the page says so; nothing joins this flow.
    assert!(html.contains("not signed: anyone could have made this file"), "{html}");
    assert!(!html.contains("id=\"joins\""));
}

#[test]
fn joins_of_outside_value_and_the_case_particulars_are_on_the_page() {
    let mut t = trace("Exchange X");
    t.joins = vec![crate::model::JoinView {
        txid: txid('b'),
        hop: 1,
        height: 101,
        time: "2024-01-02T12:00:00Z".into(),
        followed_in_sat: 7000,
        joined_sat: 1_000_000_000,
        inputs: vec![crate::model::JoinedInputView {
            vin: 1,
            txid: txid('f'),
            vout: 2,
            address: Some("bcrt1qoutsider".into()),
            value_sat: 1_000_000_000,
        }],
    }];
    let body = Body::Trace(t);
    let mut case = case(&body, "Exchange X");
    case.case.id = Some("C-9".into());
    case.case.analyst = Some("A. Analyst".into());
    case.signature = Some(crate::report::sign::Signature {
        algorithm: "ed25519".into(),
        public_key: "ab".repeat(32),
        signature: "cd".repeat(64),
    });
    let html = render(&body, &case, &Picture::Svg(SVG.into()), &[]);
    assert!(html.contains("<h2 id=\"joins\">Where outside value joins the flow (1 transactions"), "{html}");
    assert!(html.contains(&format!("<code>{}:2</code> 10.00000000 BTC", txid('f'))), "{html}");
    assert!(html.contains("<dt>Case</dt><dd>C-9</dd>") && html.contains("<dt>Analyst</dt><dd>A. Analyst</dd>"));
    assert!(html.contains(&format!("ed25519 by key <code>{}</code>", "ab".repeat(32))), "{html}");
}

#[test]
fn the_page_loads_nothing_and_runs_nothing() {
    let body = Body::Trace(trace("Exchange X"));
    let html = render(&body, &case(&body, "Exchange X"), &Picture::Svg(SVG.into()), &[]);
    for banned in ["<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "href=\"http"] {
        assert!(!html.contains(banned), "{banned}");
    }
    // The only links are to the page's own sections.
    assert_eq!(html.matches("href=").count(), html.matches("href=\"#").count());
}

#[test]
fn every_text_from_the_answer_and_the_tags_is_escaped() {
    let evil = "<script>alert(\"x\")</script> & 'co'";
    let mut t = trace(evil);
    t.root = "\"><img src=x>".into();
    let body = Body::Trace(t);
    let html = render(&body, &case(&body, evil), &Picture::Missing("dot <missing>".into()), &[evil.into()]);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"));
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;"));
    assert!(html.contains("from &quot;&gt;&lt;img src=x&gt;, up to"));
    assert!(html.contains("source https://example.org/?a=1&amp;b=2"));
    // Without a picture the page says why.
    assert!(html.contains("<p class=\"note\" id=\"no-picture\">No picture: dot &lt;missing&gt;</p>"));
    assert!(!html.contains("<figure"));
}

#[test]
fn svg_is_inlined_without_its_prologue_and_commands_are_quoted_for_a_shell() {
    assert_eq!(inline_svg(SVG), SVG[SVG.find("<svg").unwrap()..].trim_end());
    assert_eq!(inline_svg("no picture"), "");
    let line: Vec<String> = ["path", "a", "it's", ""].iter().map(|s| s.to_string()).collect();
    assert_eq!(command_text(&line), "query --db <index> path a 'it'\\''s' ''");
}

fn exposure_view() -> ExposureView {
    let entity = |label: &str, value_sat| EntityExposure { label: label.into(), value_sat };
    ExposureView {
        target: "bcrt1qtarget".into(),
        direction: "out",
        hops: 3,
        max_txs: 10_000,
        total_sat: 10_000,
        direct: vec![CategoryExposure {
            category: "exchange".into(),
            value_sat: 3000,
            entities: vec![entity("Exchange \"A\"", 3000)],
        }],
        indirect: vec![CategoryExposure {
            category: "mixer".into(),
            value_sat: 1000,
            entities: vec![entity("Mixer", 1000)],
        }],
        attributions: vec![
            AttributionView {
                txid: txid('a'),
                vout: 0,
                address: Some("bcrt1qexchange".into()),
                label: "Exchange \"A\"".into(),
                category: "exchange".into(),
                value_sat: 3000,
                hop: 1,
            },
            AttributionView {
                txid: txid('b'),
                vout: 1,
                address: None,
                label: "Mixer".into(),
                category: "mixer".into(),
                value_sat: 1000,
                hop: 2,
            },
        ],
        unattributed_sat: 5900,
        fees_sat: 100,
        unattributed_by_reason: UnattributedView {
            unspent_sat: 5900,
            hop_limit_sat: 0,
            max_txs_sat: 0,
            coinbase_sat: 0,
        },
        txs_followed: 2,
        truncated: false,
    }
}

#[test]
fn an_exposure_page_lists_entities_and_attributed_outputs_and_its_picture_draws_them() {
    let v = exposure_view();
    let body = Body::Exposure(v.clone());
    let html = render(&body, &case(&body, "X"), &Picture::Missing("none".into()), &[]);
    assert!(html.contains("<h1>How much of what it sent reached tagged entities?</h1>"));
    assert!(html.contains("<div class=\"n\">0.00003000 BTC</div><div class=\"k\">direct, 30.00%</div>"));
    assert!(html.contains(
        "<tr><td>mixer</td><td><span class=\"tag\">Mixer</span></td><td>indirect</td>\
         <td class=\"num\">0.00001000</td><td class=\"num\">10.00%</td></tr>"
    ));
    assert!(html
        .contains("<span class=\"tag\">Exchange &quot;A&quot;</span> exchange</td><td class=\"num\">0.00003000</td>"));
    assert!(html.contains("<code class=\"address\">script</code>"));
    let dot = exposure::dot(&v);
    assert!(dot.starts_with("digraph exposure {"));
    assert!(
        dot.contains("entity1 [label=\"Exchange \\\"A\\\"\\nexchange · direct\\n0.00003000 BTC (30.00%)\""),
        "{dot}"
    );
    assert!(dot.contains("target -> entity1 [label=\"0.00003000 BTC\", penwidth=4.57];"), "{dot}");
    assert!(dot.contains("target -> entity2 [label=\"0.00001000 BTC\", penwidth=3.06, style=dashed];"), "{dot}");
    assert!(dot.contains("target -> unattributed [label=\"0.00005900 BTC\", penwidth=6.00];"), "{dot}");
    // In, the money comes from the entities.
    let inward = exposure::dot(&ExposureView { direction: "in", fees_sat: 0, ..v });
    assert!(inward.contains("entity1 -> target"));
    assert!(!inward.contains("fees ["));
}

#[test]
fn percentages_are_written_as_python_writes_them() {
    // The digest is recomputed by Python's json.dumps, which writes floats in plain notation from
    // 0.0001 up: so does serde_json for the percentages of a trace (4 decimals, at most 100).
    for (value, text) in
        [(0.0, "0.0"), (0.0001, "0.0001"), (0.0012, "0.0012"), (4.75, "4.75"), (99.9999, "99.9999"), (100.0, "100.0")]
    {
        assert_eq!(serde_json::to_string(&value).unwrap(), text);
    }
}
