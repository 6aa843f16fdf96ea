//! The database's disk: a full filesystem (a size-limited tmpfs the test mounts) stops the indexer
//! with a clear message and resumes once space is freed; corrupt and truncated table files and a cut segment file are
//! detected and reported, never read as rows.

use std::path::{Path, PathBuf};
use std::process::Command;

use chaintrail_tests::TestEnv;

use crate::support::{assert_same_digest, bin, failing, figure, generated, index_once, indexer, tip};

/// A tmpfs of a given size mounted on a fresh directory, unmounted on drop. Mounting takes root
/// (`tests/run.sh` runs as root in CI) or password-less sudo.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size_mb: u64) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = format!("size={size_mb}m");
        let ok = privileged(&["mount", "-t", "tmpfs", "-o", &options, "tmpfs"], dir.path());
        assert!(
            ok,
            "cannot mount a tmpfs on {}: the disk-full test needs root or password-less sudo",
            dir.path().display()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        privileged(&["umount"], self.dir.path());
    }
}

/// Runs `args` followed by `path` as root: directly when the tests are root, else through
/// `sudo -n`.
fn privileged(args: &[&str], path: &Path) -> bool {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut cmd = if root { Command::new(args[0]) } else { Command::new("sudo") };
    if !root {
        cmd.args(["-n", args[0]]);
    }
    cmd.args(&args[1..]).arg(path).status().is_ok_and(|s| s.success())
}

/// Fills the filesystem at `dir` but for `free_kb`, with a file the test later deletes.
fn fill(dir: &Path, free_kb: u64) -> PathBuf {
    let out = Command::new("df").args(["--output=avail", "-k"]).arg(dir).output().expect("df");
    let avail: u64 =
        String::from_utf8_lossy(&out.stdout).lines().nth(1).and_then(|l| l.trim().parse().ok()).expect("df says");
    let filler = dir.join("filler");
    let status = Command::new("fallocate")
        .args(["-l", &format!("{}K", avail.saturating_sub(free_kb))])
        .arg(&filler)
        .status()
        .expect("fallocate");
    assert!(status.success());
    filler
}

/// Space left free for the database: enough to open it and index part of the chain.
const FREE_KB: u64 = 1024;

#[test]
fn a_full_disk_stops_the_indexer_with_a_clear_message_and_it_resumes_once_space_is_freed() {
    let env = TestEnv::new().expect("node starts");
    generated(&env, 19, 2_500);
    let reference = tempfile::tempdir().expect("tempdir");
    index_once(&env, reference.path(), &[]);

    // The disk is filled but for a few MiB, less than the index needs.
    let disk = Tmpfs::mount(512);
    let db = disk.path().join("db");
    let filler = fill(disk.path(), FREE_KB);
    let mut cmd = indexer(&env, &db);
    // Bulk mode, flushed after every batch: the disk fills while table files are written.
    cmd.args(["--once", "--batch-txs", "100", "--bulk-threshold", "1", "--flush-secs", "0"]);
    let (code, err) = failing(cmd);
    assert_eq!(code, 1);
    assert!(err.contains("the disk holding the database is full"), "{err}");
    assert!(err.contains("free space and start the indexer again"), "{err}");
    // The database opens again, at the last block it made durable.
    let stopped_at = tip(&db).expect("the database opens after a full disk");
    let node_tip = tip(reference.path()).expect("indexed");
    assert!(stopped_at < node_tip, "the disk filled only after the last block ({stopped_at}):\n{err}");

    std::fs::remove_file(filler).expect("free the space");
    index_once(&env, &db, &[]);
    assert_same_digest(&db, reference.path());
    let message = err.lines().find(|l| l.starts_with("error:")).unwrap_or_default().to_owned();
    figure("disk full", format!("stopped at block {stopped_at} with `{message}`; resumed once space was freed"));
}

/// The largest table file of a database.
fn largest_table_file(db: &Path) -> PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(db)
        .expect("read the database directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .collect();
    files.sort_by_key(|p| std::fs::metadata(p).expect("stat").len());
    files.pop().expect("a table file")
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-r").arg(from).arg(to).status().expect("cp");
    assert!(status.success());
}

fn check(db: &Path) -> Command {
    let mut cmd = Command::new(bin("indexer"));
    cmd.args(["--network", "regtest", "--check", "--db"]).arg(db);
    cmd
}

#[test]
fn corrupt_and_truncated_table_files_are_detected_and_reported() {
    let env = TestEnv::new().expect("node starts");
    let truth = generated(&env, 23, 1_500);
    let root = tempfile::tempdir().expect("tempdir");
    let db = root.path().join("db");
    // A short undo window: all but the last 6 blocks' rows are in the segment files.
    index_once(&env, &db, &["--compact-after-bulk", "--undo-depth", "6"]);
    let out = check(&db).output().expect("check runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: "), "{}", String::from_utf8_lossy(&out.stdout));
    let txid = &truth.txs.last().expect("txs").txid;

    // One byte flipped in the middle of the largest table file: its checksum no longer matches.
    let flipped = root.path().join("flipped");
    copy_dir(&db, &flipped);
    let file = largest_table_file(&flipped);
    let mut bytes = std::fs::read(&file).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&file, bytes).expect("write");
    let (code, flipped_err) = failing(check(&flipped));
    assert_eq!(code, 1);
    assert!(flipped_err.contains("the database is corrupt"), "{flipped_err}");

    // The largest table file cut in half: the database refuses to open, for the indexer and
    // for queries alike.
    let truncated = root.path().join("truncated");
    copy_dir(&db, &truncated);
    let file = largest_table_file(&truncated);
    let len = std::fs::metadata(&file).expect("stat").len();
    std::fs::OpenOptions::new().write(true).open(&file).expect("open").set_len(len / 2).expect("truncate");
    let before = std::fs::read(&file).expect("read");
    let mut resume = indexer(&env, &truncated);
    resume.arg("--once");
    for cmd in [check(&truncated), resume] {
        let (code, err) = failing(cmd);
        assert_eq!(code, 1);
        assert!(err.contains("the database is corrupt"), "{err}");
    }
    let mut query = Command::new(bin("query"));
    query.arg("--db").arg(&truncated).args(["tx", txid]);
    let (_, err) = failing(query);
    assert!(err.contains("corrupt"), "{err}");
    assert_eq!(std::fs::read(&file).expect("read"), before, "a refused database is left as it was");
    // One byte flipped in a segment file: the checksum of its 4 KiB chunk no longer matches.
    let flipped_segment = root.path().join("flipped-segment");
    copy_dir(&db, &flipped_segment);
    let file = flipped_segment.join("segments").join("outputs.dat");
    let mut bytes = std::fs::read(&file).expect("read");
    assert!(bytes.len() >= 8192, "the outputs segment holds complete chunks: {} bytes", bytes.len());
    bytes[5_000] ^= 0x5a;
    std::fs::write(&file, bytes).expect("write");
    let (code, segment_err) = failing(check(&flipped_segment));
    assert_eq!(code, 1);
    assert!(
        segment_err.contains(
            "the database is corrupt (segment file segments/outputs.dat: checksum mismatch in bytes 4096..8192)"
        ),
        "{segment_err}"
    );

    // A segment file cut short: the sealed mark records rows it no longer holds.
    let cut = root.path().join("cut-segment");
    copy_dir(&db, &cut);
    let file = cut.join("segments").join("outputs.dat");
    let len = std::fs::metadata(&file).expect("stat").len();
    assert!(len > 0, "the sealed blocks' outputs are in the segment file");
    std::fs::OpenOptions::new().write(true).open(&file).expect("open").set_len(len / 2).expect("truncate");
    let mut resume = indexer(&env, &cut);
    resume.arg("--once");
    let mut query = Command::new(bin("query"));
    query.arg("--db").arg(&cut).args(["tx", txid]);
    for cmd in [check(&cut), resume, query] {
        let (code, err) = failing(cmd);
        assert_eq!(code, 1);
        assert!(err.contains("the database is corrupt (segment file segments/outputs.dat"), "{err}");
    }
    assert_eq!(std::fs::metadata(&file).expect("stat").len(), len / 2, "a refused database is left as it was");
    assert!(check(&db).output().expect("check runs").status.success(), "the original still checks");
    let first = |err: &str| err.lines().find(|l| l.starts_with("error:")).unwrap_or_default().to_owned();
    figure("flipped byte, indexer --check", first(&flipped_err));
    figure("truncated file, query", first(&err));
    figure("flipped byte in a segment file, indexer --check", first(&segment_err));
}
