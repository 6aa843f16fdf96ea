//! The exposure table: totals with their shares of what the target sent or received, then the
//! direct and indirect entities by category.

use std::fmt::{self, Write};

use super::table::{fields, Table};
use crate::model::{btc, CategoryExposure, ExposureView};

/// `part` as a percentage of `whole` with two decimals, rounded down; `-` of nothing.
pub(super) fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    let hundredths = u128::from(part) * 10_000 / u128::from(whole);
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

fn amount(part: u64, whole: u64) -> String {
    format!("{} BTC ({})", btc(part), share(part, whole))
}

/// The unattributed value with the reasons it stopped, those that are not zero.
fn unattributed(v: &ExposureView) -> String {
    let r = &v.unattributed_by_reason;
    let reasons: Vec<String> = [
        ("unspent", r.unspent_sat),
        ("hop limit", r.hop_limit_sat),
        ("max-txs", r.max_txs_sat),
        ("coinbase", r.coinbase_sat),
    ]
    .iter()
    .filter(|(_, sat)| *sat > 0)
    .map(|(why, sat)| format!("{why} {}", btc(*sat)))
    .collect();
    let mut text = amount(v.unattributed_sat, v.total_sat);
    if !reasons.is_empty() {
        write!(text, ": {}", reasons.join(", ")).expect("writing into a String cannot fail");
    }
    text
}

pub fn table(out: &mut String, v: &ExposureView) -> fmt::Result {
    let (title, total) = match v.direction {
        "in" => ("Exposure into", "Received"),
        _ => ("Exposure out of", "Sent"),
    };
    let mut lines = vec![
        (title, v.target.clone()),
        (total, format!("{} BTC", btc(v.total_sat))),
        ("Direct", amount(v.direct.iter().map(|c| c.value_sat).sum(), v.total_sat)),
        ("Indirect", amount(v.indirect.iter().map(|c| c.value_sat).sum(), v.total_sat)),
        ("Unattributed", unattributed(v)),
    ];
    if v.direction != "in" {
        lines.push(("Fees", amount(v.fees_sat, v.total_sat)));
    }
    lines.push(("Hops", format!("0..={} ({} tx(s) followed)", v.hops, v.txs_followed)));
    fields(out, &lines)?;
    if v.truncated {
        writeln!(
            out,
            "TRUNCATED at {} txs: {} BTC was not followed further",
            v.max_txs,
            btc(v.unattributed_by_reason.max_txs_sat)
        )?;
    }
    categories(out, "Direct (hop 0)", &v.direct, v.total_sat)?;
    categories(out, "Indirect (through untagged addresses)", &v.indirect, v.total_sat)
}

/// One table of categories, each followed by its entities.
fn categories(out: &mut String, title: &str, list: &[CategoryExposure], total: u64) -> fmt::Result {
    writeln!(out)?;
    if list.is_empty() {
        return writeln!(out, "{title}: none");
    }
    writeln!(out, "{title}:")?;
    let mut t = Table::new(&[("CATEGORY", false), ("ENTITY", false), ("VALUE (BTC)", true), ("SHARE", true)]);
    for c in list {
        let count = c.entities.len();
        let entities = if count == 1 { "1 entity".to_string() } else { format!("{count} entities") };
        t.row(vec![c.category.clone(), entities, btc(c.value_sat), share(c.value_sat, total)]);
        for e in &c.entities {
            t.row(vec![String::new(), e.label.clone(), btc(e.value_sat), share(e.value_sat, total)]);
        }
    }
    t.write(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntityExposure, UnattributedView};

    #[test]
    fn shares_round_down_to_hundredths_and_tables_list_entities_under_categories() {
        assert_eq!(share(1, 3), "33.33%");
        assert_eq!(share(3000, 7100), "42.25%");
        assert_eq!(share(5, 0), "-");
        let v = ExposureView {
            target: "bcrt1qexample".into(),
            direction: "out",
            hops: 3,
            max_txs: 10,
            total_sat: 7100,
            direct: vec![CategoryExposure {
                category: "exchange".into(),
                value_sat: 3000,
                entities: vec![EntityExposure { label: "Exchange A".into(), value_sat: 3000 }],
            }],
            indirect: Vec::new(),
            attributions: Vec::new(),
            unattributed_sat: 3950,
            fees_sat: 150,
            unattributed_by_reason: UnattributedView {
                unspent_sat: 2950,
                hop_limit_sat: 0,
                max_txs_sat: 1000,
                coinbase_sat: 0,
            },
            txs_followed: 10,
            truncated: true,
        };
        let mut out = String::new();
        table(&mut out, &v).unwrap();
        assert!(out.starts_with("Exposure out of  bcrt1qexample\n"), "{out}");
        assert!(out.contains("Direct           0.00003000 BTC (42.25%)\n"), "{out}");
        assert!(out.contains("unspent 0.00002950, max-txs 0.00001000"), "{out}");
        assert!(out.contains("TRUNCATED at 10 txs"), "{out}");
        assert!(out.contains("exchange  1 entity     0.00003000  42.25%\n"), "{out}");
        assert!(out.contains("          Exchange A   0.00003000  42.25%\n"), "{out}");
        assert!(out.contains("Indirect (through untagged addresses): none"), "{out}");
    }
}
