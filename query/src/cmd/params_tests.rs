//! The plain parameters of the commands: the command line's defaults are the parameters'
//! defaults, and the ranges clap checks are checked again for parameters built without it.

use clap::Parser;
use serde::de::DeserializeOwned;

use super::address::AddressParams;
use super::cluster::ClusterParams;
use super::exposure::ExposureParams;
use super::path::PathParams;
use super::taint::TaintParams;
use super::trace::TraceParams;
use super::tx::TxParams;
use crate::cli::{Cli, Command, ExposureDirection, Follow};
use crate::config::Settings;
use crate::engine::{Direction, TaintModel};
use crate::error::UsageError;

fn command(args: &[&str]) -> Command {
    Cli::try_parse_from(["query"].iter().chain(args).copied()).unwrap().command
}

fn from_json<T: DeserializeOwned>(json: &str) -> T {
    serde_json::from_str(json).unwrap()
}

fn settings() -> Settings {
    let cli = Cli::try_parse_from(["query", "--db", "/unused", "tx", "t"]).unwrap();
    Settings::resolve(&cli).unwrap()
}

#[test]
fn the_command_lines_defaults_are_the_parameters_defaults() {
    let Command::Trace(a) = command(&["trace", "forward", "t"]) else { panic!("trace") };
    assert_eq!(TraceParams::from(&a), from_json(r#"{"direction": "forward", "target": "t"}"#));
    let Command::Path(a) = command(&["path", "a", "b"]) else { panic!("path") };
    assert_eq!(PathParams::from(&a), from_json(r#"{"from": "a", "to": "b"}"#));
    let Command::Address(a) = command(&["address", "x"]) else { panic!("address") };
    assert_eq!(AddressParams::from(&a), from_json(r#"{"address": "x"}"#));
    let Command::Cluster(a) = command(&["cluster", "x"]) else { panic!("cluster") };
    assert_eq!(a.params().unwrap(), from_json::<ClusterParams>(r#"{"address": "x"}"#));
    let Command::Exposure(a) = command(&["exposure", "x"]) else { panic!("exposure") };
    assert_eq!(ExposureParams::from(&a), from_json(r#"{"target": "x"}"#));
    let Command::Taint(a) = command(&["taint", "x", "--model", "fifo"]) else { panic!("taint") };
    assert_eq!(TaintParams::from(&a), from_json(r#"{"target": "x", "model": "fifo"}"#));
    let Command::Tx(a) = command(&["tx", "x"]) else { panic!("tx") };
    assert_eq!(TxParams::from(&a), from_json(r#"{"txid": "x"}"#));
}

#[test]
fn values_are_read_from_text_as_the_command_line_reads_them() {
    let p: TraceParams = from_json(
        r#"{"direction": "Backward", "target": "t", "min_value": "1.5btc", "follow": "largest",
            "stop_at_address": "a, b,", "stop_at_category": "exchange,mixing_service"}"#,
    );
    assert_eq!((p.direction, p.min_value, p.follow), (Direction::Backward, 150_000_000, Follow::Largest));
    assert_eq!(
        (p.stop_at_address, p.stop_at_category),
        (vec!["a".into(), "b".into()], vec!["exchange".into(), "mixing_service".into()])
    );
    let p: AddressParams = from_json(r#"{"address": "x", "from_date": "2009-01-03", "to_date": "2009-01-03"}"#);
    assert_eq!((p.from_date, p.to_date), (Some(1_230_940_800), Some(1_230_940_800 + 86_399)));
    let p: TaintParams = from_json(r#"{"target": "x", "model": "haircut", "min_sat": "0.001"}"#);
    assert_eq!((p.model, p.min_sat), (Some(TaintModel::Haircut), 100_000));
    let p: ExposureParams = from_json(r#"{"target": "x", "direction": "in"}"#);
    assert_eq!(p.direction, ExposureDirection::In);
    let err = serde_json::from_str::<TaintParams>(r#"{"target": "x", "model": "nope"}"#).unwrap_err();
    assert!(err.to_string().contains("'nope' is not one of poison, haircut, fifo, lifo"), "{err}");
    let err = serde_json::from_str::<TraceParams>(r#"{"direction": "forward", "target": "t", "hop": 1}"#);
    assert!(err.unwrap_err().to_string().contains("unknown field `hop`"));
}

/// The message of a usage error.
fn refused(result: Result<(), UsageError>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn ranges_clap_checks_are_checked_for_parameters_built_without_it() {
    let trace = |json: &str| from_json::<TraceParams>(&format!(r#"{{"direction": "forward", "target": "t"{json}}}"#));
    assert_eq!(refused(trace(r#", "hops": 0"#).validate()), "hops must be between 1 and 100 (got 0)");
    assert_eq!(refused(trace(r#", "hops": 101"#).validate()), "hops must be between 1 and 100 (got 101)");
    assert_eq!(refused(trace(r#", "top": 1001"#).validate()), "top must be between 1 and 1000 (got 1001)");
    assert_eq!(
        refused(trace(r#", "max_txs": 1000001"#).validate()),
        "max_txs must be between 1 and 1000000 (got 1000001)"
    );
    assert_eq!(
        refused(trace(r#", "top": 2, "follow": "largest""#).validate()),
        "follow largest and top cannot be given together"
    );
    assert!(trace(r#", "top": 2, "hops": 100, "max_txs": 1000000"#).validate().is_ok());
    let path = from_json::<PathParams>(r#"{"from": "a", "to": "b", "max_hops": 101}"#);
    assert_eq!(refused(path.validate()), "max_hops must be between 1 and 100 (got 101)");
    let path = from_json::<PathParams>(r#"{"from": "a", "to": "b", "max_txs": 20000001}"#);
    assert_eq!(refused(path.validate()), "max_txs must be between 1 and 20000000 (got 20000001)");
    let address = from_json::<AddressParams>(r#"{"address": "x", "limit": 0}"#);
    assert_eq!(refused(address.validate()), "limit must be between 1 and 10000 (got 0)");
    let address = from_json::<AddressParams>(r#"{"address": "x", "max_utxos": 1000001}"#);
    assert_eq!(refused(address.validate()), "max_utxos must be between 0 and 1000000 (got 1000001)");
    let address = from_json::<AddressParams>(r#"{"address": "x", "from_height": 3, "from_date": "2009-01-03"}"#);
    assert_eq!(refused(address.validate()), "from_height and from_date cannot be given together");
    let cluster = from_json::<ClusterParams>(r#"{"address": "x", "why": "y", "after": "1:2"}"#);
    assert_eq!(refused(cluster.validate()), "why and after cannot be given together");
    let cluster = from_json::<ClusterParams>(r#"{"address": "x", "limit": 10001}"#);
    assert_eq!(refused(cluster.validate()), "limit must be between 1 and 10000 (got 10001)");
    let exposure = from_json::<ExposureParams>(r#"{"target": "x", "hops": 101}"#);
    assert_eq!(refused(exposure.validate()), "hops must be between 0 and 100 (got 101)");
    let taint = from_json::<TaintParams>(r#"{"target": "x"}"#);
    assert_eq!(refused(taint.validate()), "model is required: poison, haircut, fifo or lifo (or set compare)");
    let taint = from_json::<TaintParams>(r#"{"target": "x", "model": "poison", "max_txs": 0}"#);
    assert_eq!(refused(taint.validate()), "max_txs must be between 1 and 1000000 (got 0)");
}

#[test]
fn prepare_checks_the_parameters_before_anything_else() {
    let params = from_json::<TraceParams>(r#"{"direction": "forward", "target": "t", "hops": 0}"#);
    let err = super::trace::Request::prepare(&params, &settings()).unwrap_err();
    assert!(matches!(err, UsageError::Range { name: "hops", .. }), "{err}");
    let params = from_json::<TaintParams>(r#"{"target": "zz", "model": "fifo"}"#);
    let err = super::taint::Request::prepare(&params, &settings()).unwrap_err();
    assert!(matches!(err, UsageError::Target(_)), "{err}");
}
