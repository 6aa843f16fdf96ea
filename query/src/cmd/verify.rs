//! `query verify REPORT`: re-checks a case report against a live node over RPC, reached with the
//! indexer's connection settings — its digest and signature, every output it names (see
//! [`crate::report::verify`]) — then computes its answer again from those outputs alone (see
//! [`crate::report::recompute`]); no index is opened.

use std::path::{Path, PathBuf};

use indexer::node::settings::{resolve_rpc, RpcArgs};
use indexer::node::Rpc;
use tracing::info;

use crate::cli::VerifyArgs;
use crate::config::Settings;
use crate::error::{one_line, Result, UsageError};
use crate::model::{Body, MovedView, Report, VerifyView};
use crate::report::recompute::recompute;
use crate::report::sign::{self, SignError};
use crate::report::verify::{check_on_node, check_sealed, VerifyError};
use crate::report::CaseReport;

/// The file a report directory holds.
pub const REPORT_FILE: &str = "report.json";

#[derive(Debug)]
pub struct Request {
    path: PathBuf,
    report: CaseReport,
    /// The file's JSON as it stands, for the digest.
    file: serde_json::Value,
    rpc: RpcArgs,
    config: Option<PathBuf>,
    /// The key the file must be signed with.
    signer: Option<ed25519_dalek::VerifyingKey>,
}

impl Request {
    /// Reads the report: a missing, unreadable or malformed file is a usage error.
    pub fn prepare(args: &VerifyArgs, settings: &Settings) -> Result<Request, UsageError> {
        let path = if args.report.is_dir() { args.report.join(REPORT_FILE) } else { args.report.clone() };
        let signer = args.signer.as_deref().map(sign::read_public).transpose()?;
        let (report, file) = read(&path)?;
        Ok(Request { path, report, file, rpc: args.rpc.clone(), config: settings.config.clone(), signer })
    }

    /// The checks, in order: format and digest, the signature, then the node's chain and every
    /// hop, and last the answer computed again.
    pub fn run(&self) -> Result<Report> {
        let network = check_sealed(&self.report, &self.file)?;
        let signed_by = match (
            sign::check(self.report.signature.as_ref(), &self.report.digest, self.signer.as_ref()),
            &self.signer,
        ) {
            (Ok(key), _) => Some(key),
            (Err(SignError::Unsigned), None) => None,
            (Err(e), _) => return Err(VerifyError::Signature(e).into()),
        };
        let rpc = resolve_rpc(self.rpc.clone(), self.config.as_deref(), network)
            .map_err(|e| UsageError::NodeSettings(one_line(&e)))?;
        let url = rpc.url.clone();
        let verified = check_on_node(&self.report, network, &mut Rpc::new(rpc))?;
        recompute(&self.report, &verified.excerpt, network)?;
        info!(
            report = %self.path.display(),
            node = url.as_str(),
            hops = verified.hops_checked,
            blocks = verified.blocks_checked,
            "report holds"
        );
        let view = VerifyView {
            report: self.path.display().to_string(),
            network: self.report.network.clone(),
            digest: self.report.digest.clone(),
            hops_checked: verified.hops_checked,
            blocks_checked: verified.blocks_checked,
            tip: verified.tip,
            tip_time: verified.tip_time,
            case: self.report.case.clone(),
            signed_by,
            signer_expected: self.signer.is_some(),
            answer_recomputed: true,
            unspent_checked: verified.unspent_checked,
            moved: verified
                .moved_since
                .iter()
                .map(|m| MovedView {
                    output: m.outpoint.to_string(),
                    spent_by_txid: m.spent_by.to_string(),
                    spent_by_vin: m.vin,
                    height: m.height,
                })
                .collect(),
            ok: true,
        };
        let mut notes = Vec::new();
        if view.signed_by.is_none() {
            notes.push("the file is not signed: anyone could have made it (query report --sign)".into());
        }
        if !view.moved.is_empty() {
            notes.push(format!(
                "{} output(s) the file records as unspent were spent after its tip, block {}: see moved",
                view.moved.len(),
                self.report.tip.height
            ));
        }
        Ok(Report { body: Body::Verify(view), notes })
    }
}

/// The report in `path`, and the file's JSON as it stands.
fn read(path: &Path) -> Result<(CaseReport, serde_json::Value), UsageError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError::ReportRead { path: shown.clone(), reason: e.to_string() })?;
    let not_a_report = |e: serde_json::Error| UsageError::ReportFormat { path: shown.clone(), reason: e.to_string() };
    let file: serde_json::Value = serde_json::from_str(&text).map_err(not_a_report)?;
    // Read from the text again, for the line and column of a field of the wrong type.
    let report = serde_json::from_str(&text).map_err(not_a_report)?;
    Ok((report, file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::error::QueryError;
    use crate::report::{BlockRef, FORMAT};
    use clap::Parser;

    fn request(args: &[&str]) -> Result<Request, UsageError> {
        let cli = Cli::try_parse_from(["query", "verify"].iter().chain(args.iter()).copied()).unwrap();
        let Command::Verify(args) = &cli.command else { panic!("expected verify") };
        Request::prepare(args, &Settings::resolve(&cli).unwrap())
    }

    fn sealed() -> CaseReport {
        CaseReport {
            format: FORMAT,
            tool: "chaintrail query 0.1.0".into(),
            command: vec!["trace".into()],
            network: "regtest".into(),
            tip: BlockRef { height: 1, hash: "00".repeat(32) },
            case: Default::default(),
            index: Default::default(),
            hops: Vec::new(),
            scripts_used: Vec::new(),
            clusters_used: Vec::new(),
            tags_used: Vec::new(),
            tx_tags_used: Vec::new(),
            answer: serde_json::json!({}),
            requests: None,
            digest: String::new(),
            signature: None,
        }
        .seal()
    }

    #[test]
    fn a_missing_or_malformed_report_is_a_usage_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let dir_arg = dir.path().to_str().unwrap();
        let err = request(&[dir_arg]).unwrap_err().to_string();
        let expected = dir.path().join("report.json");
        assert!(err.starts_with(&format!("cannot read the case report {}: ", expected.display())), "{err}");
        std::fs::write(&expected, "{\"format\": 1}").unwrap();
        let err = request(&[dir_arg]).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{} is not a case report: missing field `tool` at line 1 column 13", expected.display())
        );
        std::fs::write(&expected, "{").unwrap();
        let err = request(&[expected.to_str().unwrap()]).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{} is not a case report: EOF", expected.display())), "{err}");
    }

    #[test]
    fn a_report_is_read_from_its_directory_or_file_and_a_user_without_password_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.json");
        std::fs::write(&file, serde_json::to_string_pretty(&sealed()).unwrap()).unwrap();
        let req = request(&[dir.path().to_str().unwrap()]).unwrap();
        assert_eq!((req.path, req.report), (file.clone(), sealed()));
        // The settings are resolved once the report is found sealed, before the node is asked.
        let config = dir.path().join("c.toml");
        std::fs::write(&config, "[rpc]\nuser = \"alice\"\n").unwrap();
        let req = request(&[file.to_str().unwrap(), "--config", config.to_str().unwrap()]).unwrap();
        if std::env::var_os("CHAINTRAIL_RPC_PASSWORD").is_none() {
            let err = req.run().unwrap_err();
            assert!(matches!(err, QueryError::Usage(UsageError::NodeSettings(_))), "{err}");
            assert_eq!(err.to_string(), "rpc.user needs a password: set CHAINTRAIL_RPC_PASSWORD or rpc.password");
        }
    }
}
