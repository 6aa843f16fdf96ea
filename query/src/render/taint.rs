//! The taint table: the model, the source and the totals that add up to it (frontier and fees),
//! then every tainted output with its share, then the taint reaching each tag category.

use std::fmt::{self, Write};

use super::exposure::share;
use super::table::{fields, point, txid, when, Table};
use super::Style;
use crate::model::{btc, ByModel, JoinView, TaintCompareView, TaintView};

fn amount(part: u64, whole: u64) -> String {
    format!("{} BTC ({} of the source)", btc(part), share(part, whole))
}

/// The hop limit, the cap on txs and, when it matters, the smallest taint followed.
fn limits(v: &TaintView) -> String {
    let mut text = format!("hops 0..={}, at most {} txs", v.hops, v.max_txs);
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
        writeln!(out, "Tainted value reaching tagged entities, at first arrival (as exposure counts):")?;
        let mut t = Table::new(&[
            ("CATEGORY", false),
            ("ENTITY", false),
            ("TAINTED (BTC)", true),
            ("OF SOURCE", true),
            ("GROSS (BTC)", true),
        ]);
        for c in &v.by_category {
            t.row(vec![
                c.category.clone(),
                String::new(),
                btc(c.tainted_sat),
                share(c.tainted_sat, source),
                btc(c.gross_sat),
            ]);
            for e in &c.entities {
                t.row(vec![
                    String::new(),
                    e.label.clone(),
                    btc(e.tainted_sat),
                    share(e.tainted_sat, source),
                    btc(e.gross_sat),
                ]);
            }
        }
        t.write(out)?;
        writeln!(
            out,
            "GROSS: taint an entity received from an entity (its own funds moving on); not added to the figure"
        )?;
    }
    joins(out, &v.joins, "the taint models part only here", style)?;
    if let Some(c) = &v.compare {
        compare(out, c, source, style)?;
    }
    Ok(())
}

/// The txs where outside value joins the followed flow, with the inputs that bring it.
pub(super) fn joins(out: &mut String, joins: &[JoinView], why: &str, style: &Style) -> fmt::Result {
    if joins.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "JOINS: outside value entering the flow at {} tx(s) ({why}):", joins.len())?;
    let mut t = Table::new(&[
        ("HOP", true),
        ("TX", false),
        ("FOLLOWED IN (BTC)", true),
        ("JOINED (BTC)", true),
        ("JOINING INPUTS", false),
        ("TIME (UTC)", false),
    ]);
    for j in joins {
        let inputs: Vec<String> =
            j.inputs.iter().map(|i| format!("{} {} BTC", point(&i.txid, i.vout, style), btc(i.value_sat))).collect();
        t.row(vec![
            j.hop.to_string(),
            txid(&j.txid, style),
            btc(j.followed_in_sat),
            btc(j.joined_sat),
            inputs.join(", "),
            when(&j.time),
        ]);
    }
    t.write(out)
}

/// The four models side by side: categories, then every output.
fn compare(out: &mut String, c: &TaintCompareView, source: u64, style: &Style) -> fmt::Result {
    writeln!(out)?;
    let models = [("POISON", true), ("HAIRCUT", true), ("FIFO", true), ("LIFO", true)];
    let cells = |m: &ByModel| vec![btc(m.poison), btc(m.haircut), btc(m.fifo), btc(m.lifo)];
    if !c.by_category.is_empty() {
        writeln!(out, "Compared: first-arrival taint by category under each model (BTC; source {} BTC):", btc(source))?;
        let mut head = vec![("CATEGORY", false)];
        head.extend(models);
        let mut t = Table::new(&head);
        for cat in &c.by_category {
            let mut row = vec![cat.category.clone()];
            row.extend(cells(&cat.tainted_sat));
            t.row(row);
        }
        t.write(out)?;
        writeln!(out)?;
    }
    let parted = if c.diverging.is_empty() {
        "the models agree on every output".to_string()
    } else {
        let txs: Vec<String> = c.diverging.iter().map(|t| txid(t, style)).collect();
        format!("the models part at {}", txs.join(", "))
    };
    writeln!(out, "Compared: every output tainted under any model, {} (BTC):", parted)?;
    let mut head = vec![("HOP", true), ("OUTPUT", false), ("VALUE", true)];
    head.extend(models);
    head.extend([("SPENT", false), ("ADDRESS", false)]);
    let mut t = Table::new(&head);
    t.fit(&[head.len() - 1], style);
    for o in &c.outputs {
        let mut row = vec![o.hop.to_string(), point(&o.txid, o.vout, style), btc(o.value_sat)];
        row.extend(cells(&o.tainted_sat));
        row.extend([if o.spent { "yes" } else { "no" }.to_string(), o.label.clone()]);
        t.row(row);
    }
    t.write(out)
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
        assert!(out.contains("Limits      hops 0..=10, at most 10000 txs\n"), "{out}");
        assert!(out.contains("Tainted outputs: 4\n"), "{out}");
        assert!(out.contains("  2  cccccccccccccccc…:0   0.00005000     0.00004000     80.00%  no"), "{out}");
        assert!(out.contains("Exchange A (bcrt1q"), "{out}");
        assert!(out.contains("exchange                 0.00004000     40.40%   0.00000000\n"), "{out}");
        assert!(out.contains("          Exchange A     0.00004000     40.40%   0.00000000\n"), "{out}");
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
