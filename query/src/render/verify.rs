//! The tables of `verify` (what was checked against which node tip, for a report that holds) and
//! of `keys new`.

use std::fmt::{self, Write};

use super::table::fields;
use crate::model::{KeyView, VerifyView};

pub fn table(out: &mut String, v: &VerifyView) -> fmt::Result {
    writeln!(out, "Report {} holds on the node's best chain as of block {} ({})", v.report, v.tip.height, v.tip_time)?;
    let signed = match (&v.signed_by, v.signer_expected) {
        (Some(key), true) => format!("by {key} (the expected signer)"),
        (Some(key), false) => format!("by {key} (no --signer given: check that this is the analyst's key)"),
        (None, _) => "not signed".into(),
    };
    let moved = match v.moved.len() {
        0 => format!("none of the {} unspent outputs", v.unspent_checked),
        n => {
            let each: Vec<String> = v
                .moved
                .iter()
                .map(|m| {
                    format!("{} (spent by {}:{} at height {})", m.output, m.spent_by_txid, m.spent_by_vin, m.height)
                })
                .collect();
            format!("{n} of the {} unspent outputs: {}", v.unspent_checked, each.join(", "))
        }
    };
    let case = [
        v.case.id.as_deref().map(|id| format!("case {id}")),
        v.case.analyst.as_deref().map(|a| format!("by {a}")),
        Some(format!("made {} ({})", v.case.created, v.case.clock)),
    ];
    fields(
        out,
        &[
            ("Case", case.into_iter().flatten().collect::<Vec<_>>().join(", ")),
            ("Network", v.network.clone()),
            ("Digest", format!("{} (intact)", v.digest)),
            ("Signed", signed),
            ("Hops checked", v.hops_checked.to_string()),
            ("Blocks checked", v.blocks_checked.to_string()),
            ("Answer", "computed again from the hops alone: the same".into()),
            ("Moved since", moved),
            ("Node tip", format!("{} ({})", v.tip.height, v.tip.hash)),
        ],
    )
}

pub fn key(out: &mut String, v: &KeyView) -> fmt::Result {
    writeln!(out, "New signing key")?;
    fields(
        out,
        &[
            ("Secret key", format!("{} (keep it private)", v.secret_key_file)),
            ("Public key", v.public_key.clone()),
            ("Public key file", format!("{} (give it to whoever checks your case files)", v.public_key_file)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use crate::cli::Format;
    use crate::model::{Body, Report, VerifyView};
    use crate::render::render;
    use crate::report::{BlockRef, CaseInfo};

    fn report() -> Report {
        let view = VerifyView {
            report: "case/report.json".into(),
            network: "regtest".into(),
            digest: "ab".repeat(32),
            hops_checked: 4,
            blocks_checked: 3,
            tip: BlockRef { height: 105, hash: "cd".repeat(32) },
            tip_time: "2026-01-01T00:00:00Z".into(),
            case: CaseInfo {
                id: Some("C-7".into()),
                created: "2025-12-31T00:00:00Z".into(),
                clock: "the clock of the machine that made it".into(),
                ..CaseInfo::default()
            },
            signed_by: None,
            signer_expected: false,
            answer_recomputed: true,
            unspent_checked: 2,
            moved: vec![crate::model::MovedView {
                output: format!("{}:1", "ef".repeat(32)),
                spent_by_txid: "12".repeat(32),
                spent_by_vin: 0,
                height: 104,
            }],
            ok: true,
        };
        Report { body: Body::Verify(view), notes: Vec::new() }
    }

    #[test]
    fn the_summary_is_json_with_ok_or_a_table_of_what_was_checked() {
        let json: serde_json::Value =
            serde_json::from_str(&render(&report(), Format::Json, &Default::default()).unwrap()).unwrap();
        assert_eq!(
            (&json["ok"], &json["answer_recomputed"], &json["moved"][0]["output"]),
            (&serde_json::json!(true), &serde_json::json!(true), &serde_json::json!(format!("{}:1", "ef".repeat(32))))
        );
        assert_eq!(json["case"]["id"], "C-7");
        let table = render(&report(), Format::Table, &Default::default()).unwrap();
        assert!(
            table.starts_with(
                "Report case/report.json holds on the node's best chain as of block 105 (2026-01-01T00:00:00Z)\n"
            ),
            "{table}"
        );
        assert!(table.contains("Signed          not signed\n"), "{table}");
        assert!(
            table.contains(&format!(
                "Moved since     1 of the 2 unspent outputs: {}:1 (spent by {}:0 at height 104)\n",
                "ef".repeat(32),
                "12".repeat(32)
            )),
            "{table}"
        );
    }

    #[test]
    fn csv_and_pictures_are_refused_for_verify() {
        let err = render(&report(), Format::Csv, &Default::default()).unwrap_err();
        assert!(err.to_string().contains("use json or table for verify"), "{err}");
        let err = render(&report(), Format::Dot, &Default::default()).unwrap_err();
        assert!(err.to_string().contains("for verify"), "{err}");
    }
}
