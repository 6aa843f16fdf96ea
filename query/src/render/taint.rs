//! The taint table: the model, the source and the totals that add up to it (frontier and fees),
//! then every tainted output with its share, then the taint reaching each tag category.

use std::fmt::{self, Write};

use super::exposure::share;
use super::table::{fields, point, when, Table};
use super::Style;
use crate::model::{btc, TaintView};

fn amount(part: u64, whole: u64) -> String {
    format!("{} BTC ({} of the source)", btc(part), share(part, whole))
}

/// The hop limit, the cap on txs and, when it matters, the smallest taint followed.
fn limits(v: &TaintView) -> String {
    let mut text = format!("hops 1..={}, at most {} txs", v.hops, v.max_txs);
    if v.min_sat > 1 {
        text.push_str(&format!(", outputs with less than {} BTC of taint not followed", btc(v.min_sat)));
    }
    text
}

pub fn table(out: &mut String, v: &TaintView, style: &Style) -> fmt::Result {
    let source = v.source.tainted_sat;
    let total = v.frontier_tainted_sat + v.fees_tainted_sat;
    let books = if total == source {
        "frontier + fees = source, to the satoshi".to_string()
    } else {
        format!("frontier + fees = {} BTC: poison taints whole outputs and fees", btc(total))
    };
    let lines = [
        ("Taint from", v.source.target.clone()),
        ("Model", v.model.to_string()),
        ("Source", format!("{} BTC tainted", btc(source))),
        ("Frontier", amount(v.frontier_tainted_sat, source)),
        ("Fees", amount(v.fees_tainted_sat, source)),
        ("Books", books),
        ("Limits", limits(v)),
    ];
    fields(out, &lines)?;
    if v.truncated {
        writeln!(
            out,
            "TRUNCATED at {} txs (--max-txs): taint reaching later txs is counted in the frontier",
            v.max_txs
        )?;
    }
    writeln!(out)?;
    outputs(out, v, style)?;
    if !v.by_category.is_empty() {
        writeln!(out)?;
        writeln!(out, "Tainted value paid to tagged addresses, by category:")?;
        let mut t = Table::new(&[("CATEGORY", false), ("TAINTED (BTC)", true), ("OF SOURCE", true)]);
        for c in &v.by_category {
            t.row(vec![c.category.clone(), btc(c.tainted_sat), share(c.tainted_sat, source)]);
        }
        t.write(out)?;
    }
    Ok(())
}

/// Every tainted output: where it is, how much of it is tainted, whether it was spent.
fn outputs(out: &mut String, v: &TaintView, style: &Style) -> fmt::Result {
    writeln!(out, "Tainted outputs: {}", v.outputs.len())?;
    if v.outputs.is_empty() {
        return Ok(());
    }
    let mut t = Table::new(&[
        ("HOP", true),
        ("OUTPUT", false),
        ("VALUE (BTC)", true),
        ("TAINTED (BTC)", true),
        ("TAINTED %", true),
        ("SPENT", false),
        ("TIME (UTC)", false),
        ("ADDRESS", false),
    ]);
    t.fit(&[7], style);
    for o in &v.outputs {
        t.row(vec![
            o.hop.to_string(),
            point(&o.txid, o.vout, style),
            btc(o.value_sat),
            btc(o.tainted_sat),
            share(o.tainted_sat, o.value_sat),
            if o.spent { "yes" } else { "no" }.to_string(),
            when(&o.time),
            o.label.clone(),
        ]);
    }
    t.write(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::samples::{taint as view, txid};

    #[test]
    fn the_header_balances_the_books_and_outputs_fit_the_width() {
        let mut out = String::new();
        table(&mut out, &view(), &Style::default()).unwrap();
        assert!(out.starts_with(&format!("Taint from  {}\nModel       fifo\n", txid('a'))), "{out}");
        assert!(out.contains("Source      0.00009900 BTC tainted\n"), "{out}");
        assert!(out.contains("Frontier    0.00009500 BTC (95.95% of the source)\n"), "{out}");
        assert!(out.contains("Fees        0.00000400 BTC (4.04% of the source)\n"), "{out}");
        assert!(out.contains("Books       frontier + fees = source, to the satoshi\n"), "{out}");
        assert!(out.contains("Limits      hops 1..=10, at most 10000 txs\n"), "{out}");
        assert!(out.contains("Tainted outputs: 4\n"), "{out}");
        assert!(out.contains("  2  cccccccccccccccc…:0   0.00005000     0.00004000     80.00%  no"), "{out}");
        assert!(out.contains("Exchange A (bcrt1q"), "{out}");
        assert!(out.contains("exchange     0.00004000     40.40%\n"), "{out}");
        assert!(out.lines().all(|l| l.chars().count() <= 120), "{out}");
        let mut whole = String::new();
        table(&mut whole, &view(), &Style { full_txids: true, ..Default::default() }).unwrap();
        assert!(whole.contains(&format!("{}:0", txid('c'))), "{whole}");
    }

    #[test]
    fn poison_says_its_totals_pass_the_source_and_truncation_is_shown() {
        let mut v = view();
        v.model = "poison";
        v.frontier_tainted_sat = 15_500;
        v.truncated = true;
        v.by_category.clear();
        v.min_sat = 5_000;
        let mut out = String::new();
        table(&mut out, &v, &Style::default()).unwrap();
        assert!(out.contains("Books       frontier + fees = 0.00015900 BTC: poison taints whole outputs"), "{out}");
        assert!(out.contains("TRUNCATED at 10000 txs"), "{out}");
        assert!(
            out.contains("at most 10000 txs, outputs with less than 0.00005000 BTC of taint not followed"),
            "{out}"
        );
        assert!(!out.contains("by category"), "{out}");
    }
}
