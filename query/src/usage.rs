//! Command-line mistakes as one line each: what was wrong, what was expected (the valid values and
//! the nearest one), and the subcommand whose `--help` tells more. Built from clap's structured
//! error context, falling back to the first line clap renders.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Command, CommandFactory};

use crate::cli::{cut, Cli};
use crate::error::QUOTE_MAX;

/// Longest message clap renders itself that is passed on (the fallback for rare errors).
const RENDERED_MAX: usize = 200;
/// Most arguments as typed repeated in the example of a command missing arguments.
const EXAMPLE_ARGS: usize = 6;
/// How alike (Jaro, 0 to 1) a mistyped word and a valid one must be to suggest it; clap's own bar.
const NEAREST_MIN: f64 = 0.7;

/// The message for a clap error, without the leading `error: `: one line, user input cut, ending
/// with the `--help` of the subcommand it concerns. `argv` is the whole command line, program name
/// first. Not for `DisplayHelp` and `DisplayVersion`, which are no errors.
pub fn clap_line(err: &clap::Error, argv: &[String]) -> String {
    let root = tree();
    let walked = walk(&root, argv);
    let path = usage_path(err, &root).unwrap_or_else(|| walked.path.clone());
    let cmd = find(&root, &path);
    let text = match err.kind() {
        ErrorKind::MissingRequiredArgument => {
            let given = if walked.path == path { &argv[walked.rest..] } else { &[] };
            missing_arguments(err, cmd, &path, given)
        }
        ErrorKind::InvalidValue => invalid_value(err),
        ErrorKind::ValueValidation => failed_validation(err),
        ErrorKind::InvalidSubcommand => unknown_command(err, cmd, &path),
        ErrorKind::UnknownArgument => unknown_argument(err, &root, cmd, &path),
        ErrorKind::ArgumentConflict => conflict(err),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            Some(no_command(cmd, &path))
        }
        _ => None,
    };
    let text = text.unwrap_or_else(|| rendered_first_line(err));
    one_line(&format!("{text} (see '{}')", help_of(&path)))
}

/// A message about the command line that parsed (a malformed txid, say), pointed at the
/// subcommand's `--help` unless it already names one.
pub fn with_help(message: &str, argv: &[String]) -> String {
    if message.contains("--help'") {
        return message.to_string();
    }
    let root = tree();
    format!("{message} (see '{}')", help_of(&walk(&root, argv).path))
}

/// The command tree, built so that global options and the `help` subcommands are in place.
fn tree() -> Command {
    let mut root = Cli::command();
    root.build();
    root
}

/// Where the subcommands of a command line end.
struct Walked {
    /// The subcommand names, outermost first (empty for `query` itself).
    path: Vec<String>,
    /// Index in argv of the first item after the last subcommand name.
    rest: usize,
}

/// The subcommands named in `argv`: the leading items that are subcommand names, skipping options
/// and the values they take. Stops at the first other argument or at `--`.
fn walk(root: &Command, argv: &[String]) -> Walked {
    let mut cmd = root;
    let mut walked = Walked { path: Vec::new(), rest: argv.len().min(1) };
    let mut i = 1;
    while i < argv.len() {
        let item = argv[i].as_str();
        if item == "--" {
            break;
        }
        if item.starts_with('-') {
            i += if takes_separate_value(cmd, item) { 2 } else { 1 };
            continue;
        }
        match cmd.find_subcommand(item).filter(|sub| sub.get_name() != "help") {
            Some(sub) => {
                walked.path.push(sub.get_name().to_string());
                walked.rest = i + 1;
                cmd = sub;
            }
            None => break,
        }
        i += 1;
    }
    walked
}

/// Whether an option as typed (`--db`, `--db=x`, `-h`) is followed by its value as the next item.
fn takes_separate_value(cmd: &Command, item: &str) -> bool {
    let arg = if let Some(long) = item.strip_prefix("--") {
        if long.contains('=') {
            return false;
        }
        cmd.get_arguments().find(|a| a.get_long() == Some(long))
    } else {
        let mut chars = item.chars().skip(1);
        match (chars.next(), chars.next()) {
            (Some(short), None) => cmd.get_arguments().find(|a| a.get_short() == Some(short)),
            _ => None,
        }
    };
    arg.is_some_and(|a| a.get_action().takes_values())
}

/// The subcommands in the usage line clap attached to the error (`Usage: query tags import ...`):
/// where clap was when it failed.
fn usage_path(err: &clap::Error, root: &Command) -> Option<Vec<String>> {
    let Some(ContextValue::StyledStr(usage)) = err.get(ContextKind::Usage) else { return None };
    let text = usage.to_string();
    let mut words = text.lines().next()?.trim().strip_prefix("Usage:")?.split_whitespace().skip(1);
    let mut cmd = root;
    let mut path = Vec::new();
    while let Some(sub) = words.next().and_then(|w| cmd.find_subcommand(w)).filter(|s| s.get_name() != "help") {
        path.push(sub.get_name().to_string());
        cmd = sub;
    }
    Some(path)
}

/// The command at `path`, or as far down it as the tree goes.
fn find<'a>(root: &'a Command, path: &[String]) -> &'a Command {
    path.iter().try_fold(root, |cmd, name| cmd.find_subcommand(name).ok_or(cmd)).unwrap_or_else(|cmd| cmd)
}

/// `query trace --help`, `query tags import --help`, `query --help`.
fn help_of(path: &[String]) -> String {
    path.iter().fold("query".to_string(), |acc, name| format!("{acc} {name}")) + " --help"
}

/// `trace`, `tags import`; `query` for the top level.
fn name_of(path: &[String]) -> String {
    if path.is_empty() {
        "query".to_string()
    } else {
        path.join(" ")
    }
}

/// `trace needs <TARGET> (a txid, ...): query trace forward <TARGET>`.
fn missing_arguments(err: &clap::Error, cmd: &Command, path: &[String], given: &[String]) -> Option<String> {
    let missing = strings(err, ContextKind::InvalidArg);
    if missing.is_empty() {
        return None;
    }
    let described: Vec<String> = missing
        .iter()
        .map(|shown| match find_arg(cmd, shown).and_then(describe) {
            Some(what) => format!("{shown} ({what})"),
            None => shown.clone(),
        })
        .collect();
    let mut example: Vec<String> = std::iter::once("query".to_string()).chain(path.iter().cloned()).collect();
    example.extend(given.iter().take(EXAMPLE_ARGS).map(|a| cut(a, QUOTE_MAX)));
    if given.len() > EXAMPLE_ARGS {
        example.push("...".to_string());
    }
    example.extend(missing.iter().cloned());
    Some(format!("{} needs {}: {}", name_of(path), and_list(&described), example.join(" ")))
}

/// The argument clap shows as `<TARGET>`, `<ADDRESS>...` or `--pack <TITLE>`.
fn find_arg<'a>(cmd: &'a Command, shown: &str) -> Option<&'a Arg> {
    let shown = shown.trim_end_matches("...");
    if let Some(long) = shown.strip_prefix("--") {
        let long = long.split(' ').next()?;
        return cmd.get_arguments().find(|a| a.get_long() == Some(long));
    }
    let name = shown.trim_start_matches('<').trim_end_matches('>');
    cmd.get_positionals().find(|a| {
        a.get_value_names().is_some_and(|names| names.iter().any(|n| n.as_str() == name))
            || a.get_id().as_str().eq_ignore_ascii_case(name)
    })
}

/// What an argument takes: its valid values, else the first sentence of its help.
fn describe(arg: &Arg) -> Option<String> {
    let values: Vec<String> =
        arg.get_possible_values().iter().filter(|v| !v.is_hide_set()).map(|v| v.get_name().to_string()).collect();
    if !values.is_empty() {
        return Some(or_list(&values));
    }
    let help = arg.get_help()?.to_string();
    let first = help.split(". ").next()?.trim().trim_end_matches('.');
    (!first.is_empty()).then(|| lower_first(first))
}

/// `A txid` -> `a txid`; words with capitals inside (`TagPack`, `TOML`) are left alone.
fn lower_first(text: &str) -> String {
    let word = text.split_whitespace().next().unwrap_or("");
    if word.chars().skip(1).any(char::is_uppercase) {
        return text.to_string();
    }
    let mut chars = text.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// `invalid value 'forwards' for <DIRECTION>: expected forward or backward; did you mean 'forward'?`
fn invalid_value(err: &clap::Error) -> Option<String> {
    let arg = string(err, ContextKind::InvalidArg)?;
    let given = string(err, ContextKind::InvalidValue)?;
    let valid = strings(err, ContextKind::ValidValue);
    let mut text = if given.is_empty() {
        format!("missing value for {arg}")
    } else {
        format!("invalid value '{}' for {arg}", cut(given, QUOTE_MAX))
    };
    if !valid.is_empty() {
        text.push_str(&format!(": expected {}", or_list(&valid)));
    }
    if !given.is_empty() {
        let suggested = string(err, ContextKind::SuggestedValue).map(str::to_string);
        suggest(&mut text, suggested.or_else(|| nearest(given, &valid)));
    }
    Some(text)
}

/// `invalid value '0' for --hops <N>: 0 is not in 1..=100`: the value parser's own reason.
fn failed_validation(err: &clap::Error) -> Option<String> {
    let arg = string(err, ContextKind::InvalidArg)?;
    let given = string(err, ContextKind::InvalidValue)?;
    let mut text = format!("invalid value '{}' for {arg}", cut(given, QUOTE_MAX));
    if let Some(reason) = std::error::Error::source(err) {
        text.push_str(&format!(": {}", cut(&reason.to_string(), RENDERED_MAX)));
    }
    Some(text)
}

/// `unknown command 'trase': expected tx, ... or tags; did you mean 'trace'?`
fn unknown_command(err: &clap::Error, cmd: &Command, path: &[String]) -> Option<String> {
    let given = string(err, ContextKind::InvalidSubcommand)?;
    let names = subcommand_names(cmd);
    let which = if path.is_empty() { "command".to_string() } else { format!("{} command", path.join(" ")) };
    let mut text = format!("unknown {which} '{}'", cut(given, QUOTE_MAX));
    if !names.is_empty() {
        text.push_str(&format!(": expected {}", or_list(&names)));
    }
    // clap lists its suggestions from the least to the most alike.
    let suggested = strings(err, ContextKind::SuggestedSubcommand).pop();
    suggest(&mut text, suggested.or_else(|| nearest(given, &names)));
    push_tips(&mut text, err, given);
    Some(text)
}

/// `unknown option '--hop' for trace; did you mean '--hops'?`, or an extra positional argument.
/// An option suggested must be close to the one typed (a typo, not a guess); otherwise the
/// message says which commands have it (`trace has no date filter`) or lists the command's
/// options.
fn unknown_argument(err: &clap::Error, root: &Command, cmd: &Command, path: &[String]) -> Option<String> {
    let given = string(err, ContextKind::InvalidArg)?;
    let shown = cut(given, QUOTE_MAX);
    let mut text = if given.starts_with('-') {
        let scope = if path.is_empty() { String::new() } else { format!(" for {}", path.join(" ")) };
        format!("unknown option '{shown}'{scope}")
    } else {
        format!("unexpected argument '{shown}': {} takes {}", name_of(path), positionals(cmd))
    };
    if given.starts_with("--") {
        let longs: Vec<String> = cmd
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long())
            .map(|l| format!("--{l}"))
            .collect();
        let flag = given.split('=').next().unwrap_or(given);
        match typo_of(flag, &longs) {
            Some(close) => suggest(&mut text, Some(close)),
            None => text.push_str(&elsewhere(root, cmd, path, flag, &longs)),
        }
        return Some(text);
    }
    push_tips(&mut text, err, given);
    Some(text)
}

/// The option `flag` is most likely a typo of: at most one edit per four characters away (a
/// swap of two neighbours counts once), or the start of it.
fn typo_of(flag: &str, longs: &[String]) -> Option<String> {
    let typed = flag.trim_start_matches('-').to_lowercase();
    let allowed = (typed.chars().count() / 4).max(1);
    longs
        .iter()
        .map(|l| (strsim::damerau_levenshtein(&typed, l.trim_start_matches('-')), l))
        .filter(|(d, l)| *d <= allowed || typed.len() >= 3 && l.trim_start_matches('-').starts_with(&typed))
        .min_by_key(|(d, _)| *d)
        .map(|(_, l)| l.clone())
}

/// For an option with no close match: the commands that take it (a date filter is named as
/// such), or else the command's own options.
fn elsewhere(root: &Command, cmd: &Command, path: &[String], flag: &str, longs: &[String]) -> String {
    let long = flag.trim_start_matches('-');
    let mut owners = Vec::new();
    let mut stack: Vec<(String, &Command)> = root.get_subcommands().map(|c| (c.get_name().to_string(), c)).collect();
    while let Some((name, c)) = stack.pop() {
        // `report <command>` repeats the commands' own options.
        if !name.starts_with("report ") && c.get_arguments().any(|a| a.get_long() == Some(long) && !a.is_global_set()) {
            owners.push(name.clone());
        }
        stack.extend(c.get_subcommands().map(|s| (format!("{name} {}", s.get_name()), s)));
    }
    owners.sort();
    let this = name_of(path);
    if !owners.is_empty() {
        let has = if long.contains("date") || long.contains("height") {
            format!("{this} has no date or height filter")
        } else {
            format!("{this} does not take it")
        };
        return format!(": {has} ({flag} is an option of {})", and_list(&owners));
    }
    let own: Vec<String> = cmd
        .get_arguments()
        .filter(|a| !a.is_global_set() && !a.is_hide_set())
        .filter_map(|a| a.get_long())
        .filter(|l| longs.iter().any(|x| x.trim_start_matches('-') == *l) && *l != "help" && *l != "version")
        .map(|l| format!("--{l}"))
        .collect();
    format!("; {this}'s own options are {}", and_list(&own))
}

/// `<DIRECTION> <TARGET>`: the positional arguments of a command.
fn positionals(cmd: &Command) -> String {
    let shown: Vec<String> = cmd
        .get_positionals()
        .map(|a| {
            let name = a.get_value_names().and_then(|n| n.first()).map(|n| n.to_string());
            let name = name.unwrap_or_else(|| a.get_id().as_str().to_uppercase());
            let many = a.get_num_args().is_some_and(|n| n.max_values() > 1);
            format!("<{name}>{}", if many { "..." } else { "" })
        })
        .collect();
    if shown.is_empty() {
        "no arguments, only options".to_string()
    } else {
        shown.join(" ")
    }
}

/// `--follow <FOLLOW> cannot be used with --top <N>`.
fn conflict(err: &clap::Error) -> Option<String> {
    let arg = string(err, ContextKind::InvalidArg)?;
    Some(match err.get(ContextKind::PriorArg) {
        Some(ContextValue::String(prior)) if prior == arg => format!("{arg} can be given only once"),
        Some(ContextValue::String(prior)) => format!("{arg} cannot be used with {prior}"),
        Some(ContextValue::Strings(prior)) if !prior.is_empty() => {
            format!("{arg} cannot be used with {}", or_list(prior))
        }
        _ => format!("{arg} cannot be used with the other arguments given"),
    })
}

/// `no command given: use tx, ... or tags`, `no tags command given: use import, ...`.
fn no_command(cmd: &Command, path: &[String]) -> String {
    let names = subcommand_names(cmd);
    if names.is_empty() {
        return format!("{} needs arguments: {} takes {}", name_of(path), name_of(path), positionals(cmd));
    }
    let which = if path.is_empty() { "command".to_string() } else { format!("{} command", path.join(" ")) };
    format!("no {which} given: use {}", or_list(&names))
}

/// The first line clap renders, for errors without the context the others are built from.
fn rendered_first_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("invalid arguments");
    cut(first.strip_prefix("error:").map(str::trim).unwrap_or(first), RENDERED_MAX)
}

/// The subcommands of a command, in the order of its help, without `help`.
fn subcommand_names(cmd: &Command) -> Vec<String> {
    cmd.get_subcommands().map(|s| s.get_name().to_string()).filter(|name| name != "help").collect()
}

/// The valid word most like `given` (case aside), if any is alike enough.
fn nearest(given: &str, valid: &[String]) -> Option<String> {
    let given = given.to_lowercase();
    valid
        .iter()
        .map(|v| (strsim::jaro(&given, &v.to_lowercase()), v))
        .filter(|(alike, _)| *alike > NEAREST_MIN)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, v)| v.clone())
}

fn suggest(text: &mut String, suggestion: Option<String>) {
    if let Some(s) = suggestion {
        text.push_str(&format!("; did you mean '{s}'?"));
    }
}

/// clap's extra hints (`to pass '-5' as a value, use '-- -5'`), with the input they repeat cut.
fn push_tips(text: &mut String, err: &clap::Error, given: &str) {
    if let Some(ContextValue::StyledStrs(tips)) = err.get(ContextKind::Suggested) {
        for tip in tips {
            let tip = tip.to_string().replace(given, &cut(given, QUOTE_MAX));
            text.push_str(&format!("; tip: {}", cut(&tip, RENDERED_MAX)));
        }
    }
}

fn string(err: &clap::Error, kind: ContextKind) -> Option<&str> {
    match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s),
        _ => None,
    }
}

fn strings(err: &clap::Error, kind: ContextKind) -> Vec<String> {
    match err.get(kind) {
        Some(ContextValue::Strings(v)) => v.clone(),
        Some(ContextValue::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    joined(items, "or")
}

fn and_list(items: &[String]) -> String {
    joined(items, "and")
}

fn joined(items: &[String], word: &str) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} {word} {last}", rest.join(", ")),
    }
}

/// Line breaks inside any part (a value parser's reason, say) folded away.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The commands, as the messages list them.
    fn commands() -> String {
        let mut names = vec![
            "tx", "address", "trace", "path", "cluster", "clusters", "exposure", "taint", "tags", "report", "keys",
        ];
        if cfg!(feature = "verify") {
            names.push("verify");
        }
        if cfg!(feature = "serve") {
            names.push("serve");
        }
        let (last, rest) = names.split_last().expect("commands");
        format!("{} or {last}", rest.join(", "))
    }

    /// The line for a command line clap refuses.
    fn line(args: &[&str]) -> String {
        let argv: Vec<String> = std::iter::once("query").chain(args.iter().copied()).map(String::from).collect();
        let err = Cli::try_parse_from(&argv).expect_err("clap refuses it");
        clap_line(&err, &argv)
    }

    #[test]
    fn missing_arguments_are_named_with_what_they_take() {
        assert_eq!(
            line(&["trace", "forward"]),
            "trace needs <TARGET> (a txid, an outpoint <txid>:<vout>, or an address): query trace forward <TARGET> \
             (see 'query trace --help')"
        );
        assert_eq!(
            line(&["path", "victim"]),
            "path needs <TO> (where it ends: a txid, an outpoint <txid>:<vout>, or an address): query path victim <TO> \
             (see 'query path --help')"
        );
        let both = line(&["trace"]);
        assert!(both.starts_with("trace needs <DIRECTION> (forward or backward) and <TARGET> (a txid"), "{both}");
        assert!(both.contains(": query trace <DIRECTION> <TARGET> (see 'query trace --help')"), "{both}");
        assert_eq!(
            line(&["tags", "remove"]),
            "tags remove needs --pack <TITLE> (the title of the pack (a CSV pack's title is its file name)): \
             query tags remove --pack <TITLE> (see 'query tags remove --help')"
        );
        let files = line(&["--network", "main", "tags", "import"]);
        assert!(files.starts_with("tags import needs <FILE>... (TagPack (.yaml, .yml)"), "{files}");
        assert!(files.ends_with("query tags import <FILE>... (see 'query tags import --help')"), "{files}");
    }

    #[test]
    fn invalid_values_list_the_valid_ones_and_the_nearest() {
        assert_eq!(
            line(&["trace", "forwards", "x"]),
            "invalid value 'forwards' for <DIRECTION>: expected forward or backward; did you mean 'forward'? \
             (see 'query trace --help')"
        );
        assert_eq!(
            line(&["--format", "tabel", "tx", "x"]),
            "invalid value 'tabel' for --format <FORMAT>: expected json, table, dot, graphml, csv, svg or png; \
             did you mean 'table'? (see 'query tx --help')"
        );
        assert!(line(&["trace", "forward", "x", "--follow", "larges"]).contains("did you mean 'largest'?"));
        assert!(
            line(&["--draw", "adresses", "tx", "x"]).contains("expected txs or addresses; did you mean 'addresses'?")
        );
        // clap suggests nothing for a change of case; the nearest value is found here.
        assert!(line(&["tx", "x", "--format", "JSON"]).contains("did you mean 'json'?"));
        let far = line(&["exposure", "x", "--direction", "sideways"]);
        assert_eq!(
            far,
            "invalid value 'sideways' for --direction <DIRECTION>: expected out or in (see 'query exposure --help')"
        );
        assert_eq!(
            line(&["trace", "forward", "x", "--hops"]),
            "missing value for --hops <N> (see 'query trace --help')"
        );
        assert_eq!(
            line(&["trace", "forward", "x", "--hops", "0"]),
            "invalid value '0' for --hops <N>: 0 is not in 1..=100 (see 'query trace --help')"
        );
    }

    #[test]
    fn unknown_commands_and_options_get_the_nearest_name() {
        assert_eq!(
            line(&["trase", "forward", "x"]),
            format!("unknown command 'trase': expected {}; did you mean 'trace'? (see 'query --help')", commands())
        );
        assert_eq!(
            line(&["tags", "impor", "f.yaml"]),
            "unknown tags command 'impor': expected import, show, list or remove; did you mean 'import'? \
             (see 'query tags --help')"
        );
        assert_eq!(
            line(&["trace", "forward", "x", "--hop", "3"]),
            "unknown option '--hop' for trace; did you mean '--hops'? (see 'query trace --help')"
        );
        // No close option: no guess, but where the option belongs or what the command takes.
        assert_eq!(
            line(&["trace", "forward", "x", "--from-date", "2024-01-01"]),
            "unknown option '--from-date' for trace: trace has no date or height filter (--from-date is an option \
             of address) (see 'query trace --help')"
        );
        assert_eq!(
            line(&["tx", "x", "--hops", "2"]),
            "unknown option '--hops' for tx: tx does not take it (--hops is an option of exposure, taint and trace) \
             (see 'query tx --help')"
        );
        let depth = line(&["trace", "forward", "x", "--depth", "3"]);
        assert!(
            depth.starts_with("unknown option '--depth' for trace; trace's own options are --hops, --min-value"),
            "{depth}"
        );
        assert!(!depth.contains("did you mean"), "{depth}");
        assert!(!line(&["trace", "forward", "x", "--since", "2024"]).contains("did you mean"));
        assert!(line(&["address", "x", "--form-date", "2024"]).contains("did you mean '--from-date'?"));
        assert_eq!(
            line(&["trace", "forward", "x", "y"]),
            "unexpected argument 'y': trace takes <DIRECTION> <TARGET> (see 'query trace --help')"
        );
        assert_eq!(
            line(&["trace", "forward", "x", "--follow", "largest", "--top", "2"]),
            "--follow <FOLLOW> cannot be used with --top <N> (see 'query trace --help')"
        );
    }

    #[test]
    fn a_missing_command_lists_the_commands() {
        assert_eq!(line(&[]), format!("no command given: use {} (see 'query --help')", commands()));
        assert_eq!(
            line(&["tags"]),
            "no tags command given: use import, show, list or remove (see 'query tags --help')"
        );
        assert_eq!(
            line(&["tags", "--format", "json"]),
            "no tags command given: use import, show, list or remove (see 'query tags --help')"
        );
    }

    #[test]
    fn long_input_is_cut() {
        let long = "x".repeat(100_000);
        for args in [
            vec!["--format", long.as_str(), "tx", "x"],
            vec!["trace", long.as_str(), "x"],
            vec!["trace", "forward", "x", "--hops", long.as_str()],
            vec!["trace", "forward", "x", "--min-value", long.as_str()],
            vec!["trace", "forward", "x", long.as_str()],
            vec![long.as_str(), "x"],
            vec!["trace", "forward", "x", &format!("--{long}")],
        ] {
            let text = line(&args);
            assert!(text.len() < 300, "{}: {text}", text.len());
            assert!(!text.contains('\n'), "{text}");
        }
    }

    #[test]
    fn the_subcommand_is_found_in_argv_past_global_options() {
        let argv = |args: &[&str]| -> Vec<String> {
            std::iter::once("query").chain(args.iter().copied()).map(String::from).collect()
        };
        let root = tree();
        let path = |args: &[&str]| walk(&root, &argv(args)).path;
        assert_eq!(path(&["--db", "tags", "--format=json", "tags", "import", "a"]), ["tags", "import"]);
        assert_eq!(path(&["--full", "trace", "forward", "tx"]), ["trace"]);
        assert!(path(&["--", "trace"]).is_empty());
        assert_eq!(with_help("malformed txid 'x'", &argv(&["tx", "x"])), "malformed txid 'x' (see 'query tx --help')");
        assert_eq!(with_help("see 'query cluster --help'", &argv(&["tx"])), "see 'query cluster --help'");
    }

    #[test]
    fn helpers_join_and_lower_case_as_prose() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(or_list(&words(&["a", "b", "c"])), "a, b or c");
        assert_eq!(and_list(&words(&["a"])), "a");
        assert_eq!(lower_first("A txid"), "a txid");
        assert_eq!(lower_first("TagPack files"), "TagPack files");
        assert_eq!(nearest("JSON", &words(&["json", "table"])).as_deref(), Some("json"));
        assert_eq!(nearest("zzz", &words(&["json", "table"])), None);
    }
}
