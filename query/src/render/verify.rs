//! The table of `verify`: what was checked against which node tip, for a report that holds.

use std::fmt::{self, Write};

use super::table::fields;
use crate::model::VerifyView;

pub fn table(out: &mut String, v: &VerifyView) -> fmt::Result {
    writeln!(out, "Report {} holds on the node's best chain", v.report)?;
    fields(
        out,
        &[
            ("Network", v.network.clone()),
            ("Digest", format!("{} (intact)", v.digest)),
            ("Hops checked", v.hops_checked.to_string()),
            ("Blocks checked", v.blocks_checked.to_string()),
            ("Node tip", format!("{} ({})", v.tip.height, v.tip.hash)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use crate::cli::Format;
    use crate::model::{Body, Report, VerifyView};
    use crate::render::render;
    use crate::report::BlockRef;

    fn report() -> Report {
        let view = VerifyView {
            report: "case/report.json".into(),
            network: "regtest".into(),
            digest: "ab".repeat(32),
            hops_checked: 4,
            blocks_checked: 3,
            tip: BlockRef { height: 105, hash: "cd".repeat(32) },
            ok: true,
        };
        Report { body: Body::Verify(view), notes: Vec::new() }
    }

    #[test]
    fn the_summary_is_json_with_ok_or_a_table_of_what_was_checked() {
        let json: serde_json::Value =
            serde_json::from_str(&render(&report(), Format::Json, &Default::default()).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "report": "case/report.json", "network": "regtest", "digest": "ab".repeat(32),
                "hops_checked": 4, "blocks_checked": 3, "tip": {"height": 105, "hash": "cd".repeat(32)}, "ok": true
            })
        );
        let table = render(&report(), Format::Table, &Default::default()).unwrap();
        let expected = format!(
            "Report case/report.json holds on the node's best chain\nNetwork         regtest\n\
             Digest          {} (intact)\nHops checked    4\nBlocks checked  3\nNode tip        105 ({})\n",
            "ab".repeat(32),
            "cd".repeat(32)
        );
        assert_eq!(table, expected);
    }

    #[test]
    fn csv_and_pictures_are_refused_for_verify() {
        let err = render(&report(), Format::Csv, &Default::default()).unwrap_err();
        assert!(err.to_string().contains("use json or table for verify"), "{err}");
        let err = render(&report(), Format::Dot, &Default::default()).unwrap_err();
        assert!(err.to_string().contains("for verify"), "{err}");
    }
}
