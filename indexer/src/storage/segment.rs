//! Append-only segment files: the rows of the tables keyed by dense numbers (`txs`, `outputs`,
//! `inputs`, `scripts`) once their block is deeper than the undo window. Rows there never change,
//! so they skip RocksDB's memtables, flushes and compactions: a block's rows are appended to one
//! data file per table, with an offset file beside it.
//!
//! Per table, in `<db>/segments/`: `<table>.dat`, the rows' bytes laid end to end (each row the
//! table's own value encoding), and `<table>.idx`, one 40-bit big-endian end offset per row, so
//! row `n` is `dat[end(n - 1)..end(n)]` (`end(-1)` = 0). Beside each, `<file>.sum` holds a CRC-32
//! (big-endian) of every complete 4 KiB chunk of it, which `indexer --check` verifies. The
//! `sealed` row records how many rows of each table are sealed; anything past that on file is an
//! unfinished append, cut off when the writer next opens the database. Data is written and synced
//! before the RocksDB batch that records it, so a crash leaves either a sealed, recorded row or a
//! tail that is rewritten.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use memmap2::{Mmap, MmapOptions};

use crate::storage::schema::{num_at, put_num, Sealed, Storage, TABLE_META};

/// Bytes of one end offset in an `.idx` file.
const OFFSET: u64 = 5;

/// Bytes of each checksummed chunk of a segment file.
const CHUNK: u64 = 4096;

/// The directory inside the database that holds the segment files.
pub const DIR: &str = "segments";

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// Not a `source`: the message already carries the I/O error's, on one line.
    #[error("{}", io_message(.file, .source))]
    Io { file: String, source: std::io::Error },
    #[error("the database is corrupt (segment file {file}: {why}); restore it from a backup or re-index into a new directory")]
    Damaged { file: String, why: String },
}

/// One table's segment: its two files and the rows not yet on file.
pub struct Segment {
    name: &'static str,
    dat: Summed,
    idx: Summed,
    /// Rows readable from the files (for a reader: as many as its sealed mark records).
    on_file: AtomicU64,
    pending: Mutex<Pending>,
    /// Written since the last sync.
    dirty: AtomicBool,
    /// The files' first rows, mapped: the common read needs no system call. Readers only: the
    /// writer reads with `pread`, so the pages it touches stay out of its resident set.
    maps: RwLock<Maps>,
    mapped: bool,
}

/// Read-only maps of the first `rows` rows of a segment's files. Those bytes never change or go
/// away: the writer only appends, and cuts only past the sealed mark, which no reader has passed.
#[derive(Default)]
struct Maps {
    rows: u64,
    idx: Option<Mmap>,
    dat: Option<Mmap>,
}

/// The end offset of row `n` in an `.idx` file's bytes (40-bit big-endian, as the keys' numbers).
fn end_at(idx: &[u8], n: u64) -> u64 {
    num_at(idx, (n * OFFSET) as usize)
}

impl Maps {
    /// Row `n` (below `rows`), or `None` when its offsets point outside the map.
    fn row(&self, n: u64) -> Option<Vec<u8>> {
        let (idx, dat) = (self.idx.as_deref()?, self.dat.as_deref().unwrap_or(&[]));
        let start = if n == 0 { 0 } else { end_at(idx, n - 1) } as usize;
        let end = end_at(idx, n) as usize;
        dat.get(start..end).map(<[u8]>::to_vec)
    }
}

/// Rows appended but not yet written to the files.
#[derive(Default)]
struct Pending {
    /// The number of the first pending row (= rows on file).
    first: u64,
    /// Bytes of `dat` on file.
    dat_len: u64,
    bytes: Vec<u8>,
    /// End of each pending row within `bytes`.
    ends: Vec<usize>,
    /// CRC state of the last, incomplete chunk of `dat` and of `idx`.
    dat_tail: crc32fast::Hasher,
    idx_tail: crc32fast::Hasher,
}

/// A segment file and its checksum file.
struct Summed {
    file: File,
    sums: File,
}

impl Summed {
    /// Appends `bytes` at `len`, the file's length, then the checksum of every chunk they
    /// complete; `tail` is the CRC state of the chunk `len` falls in.
    fn append(&self, len: u64, bytes: &[u8], tail: &mut crc32fast::Hasher) -> std::io::Result<()> {
        self.file.write_all_at(bytes, len)?;
        let (mut at, mut rest, mut sums) = (len, bytes, Vec::new());
        while !rest.is_empty() {
            let room = (CHUNK - at % CHUNK) as usize;
            let (now, later) = rest.split_at(room.min(rest.len()));
            tail.update(now);
            (at, rest) = (at + now.len() as u64, later);
            if at % CHUNK == 0 {
                sums.extend_from_slice(&std::mem::take(tail).finalize().to_be_bytes());
            }
        }
        self.sums.write_all_at(&sums, len / CHUNK * 4)
    }

    /// Cuts the file (and its checksums) to `len` bytes; returns the CRC state of the chunk
    /// `len` falls in.
    fn cut(&self, len: u64) -> std::io::Result<crc32fast::Hasher> {
        self.file.set_len(len)?;
        self.sums.set_len(len / CHUNK * 4)?;
        let mut tail = vec![0u8; (len % CHUNK) as usize];
        self.file.read_exact_at(&mut tail, len - len % CHUNK)?;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&tail);
        Ok(hasher)
    }

    /// Checks every complete chunk of the first `len` bytes against its checksum: the first
    /// chunk that does not match, as (start, end) bytes.
    fn verify(&self, len: u64) -> std::io::Result<Option<(u64, u64)>> {
        let chunks = len / CHUNK;
        let mut sums = vec![0u8; (chunks * 4) as usize];
        self.sums.read_exact_at(&mut sums, 0)?;
        let mut chunk = vec![0u8; CHUNK as usize];
        for (c, sum) in sums.chunks_exact(4).enumerate() {
            let start = c as u64 * CHUNK;
            self.file.read_exact_at(&mut chunk, start)?;
            if crc32fast::hash(&chunk).to_be_bytes() != sum {
                return Ok(Some((start, start + CHUNK)));
            }
        }
        Ok(None)
    }

    fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()?;
        self.sums.sync_data()
    }

    fn len(&self) -> std::io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn disk_bytes(&self) -> u64 {
        [&self.file, &self.sums].iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum()
    }
}

/// The I/O error, with what to do about a full disk (the same words as RocksDB's).
fn io_message(file: &str, e: &std::io::Error) -> String {
    if e.raw_os_error() == Some(28) {
        format!(
            "the disk holding the database is full (segment file {file}: {e}); free space and start the indexer again: it resumes from its last durable block"
        )
    } else {
        format!("segment file {file}: {e}")
    }
}

fn io(file: String) -> impl FnOnce(std::io::Error) -> SegmentError {
    move |source| SegmentError::Io { file, source }
}

impl Segment {
    fn open(dir: &Path, name: &'static str, writable: bool) -> Result<Segment, SegmentError> {
        let open = |ext: &str| {
            let path = dir.join(format!("{name}.{ext}"));
            OpenOptions::new()
                .read(true)
                .write(writable)
                .create(writable)
                .truncate(false)
                .open(&path)
                .map_err(io(path.display().to_string()))
        };
        Ok(Segment {
            name,
            dat: Summed { file: open("dat")?, sums: open("dat.sum")? },
            idx: Summed { file: open("idx")?, sums: open("idx.sum")? },
            on_file: AtomicU64::new(0),
            pending: Mutex::new(Pending::default()),
            dirty: AtomicBool::new(false),
            maps: RwLock::new(Maps::default()),
            mapped: !writable,
        })
    }

    fn file(&self, ext: &str) -> String {
        format!("{DIR}/{}.{ext}", self.name)
    }

    pub(crate) fn damaged(&self, ext: &str, why: String) -> SegmentError {
        SegmentError::Damaged { file: self.file(ext), why }
    }

    /// Rows readable, pending ones included.
    pub fn rows(&self) -> u64 {
        let p = self.pending.lock().expect("segment lock");
        p.first + p.ends.len() as u64
    }

    /// End offset of row `n` in `dat`, from the `.idx` file.
    fn end(&self, n: u64) -> Result<u64, SegmentError> {
        let mut b = [0u8; OFFSET as usize];
        self.idx.file.read_exact_at(&mut b, n * OFFSET).map_err(|e| self.damaged("idx", format!("row {n}: {e}")))?;
        Ok(end_at(&b, 0))
    }

    /// The bytes of row `n` on file.
    fn read(&self, n: u64) -> Result<Vec<u8>, SegmentError> {
        let (start, end) = if n == 0 {
            (0, self.end(0)?)
        } else {
            // Both offsets in one read: the end of row n - 1 and of row n.
            let mut b = [0u8; 2 * OFFSET as usize];
            self.idx
                .file
                .read_exact_at(&mut b, (n - 1) * OFFSET)
                .map_err(|e| self.damaged("idx", format!("row {n}: {e}")))?;
            (end_at(&b, 0), end_at(&b, 1))
        };
        if end < start {
            return Err(self.damaged("idx", format!("row {n} ends at {end}, before it starts at {start}")));
        }
        let mut row = vec![0u8; (end - start) as usize];
        self.dat.file.read_exact_at(&mut row, start).map_err(|e| self.damaged("dat", format!("row {n}: {e}")))?;
        Ok(row)
    }

    /// Maps the first `rows` rows of the files (all of them on file), replacing the maps. The
    /// workspace's one `unsafe`: mapping a file is unsafe when it can change under the map.
    #[allow(unsafe_code)]
    fn map(&self, rows: u64) -> Result<(), SegmentError> {
        if !self.mapped {
            return Ok(());
        }
        let map = |file: &File, len: u64, ext: &str| -> Result<Option<Mmap>, SegmentError> {
            if len == 0 {
                return Ok(None);
            }
            // SAFETY: the mapped bytes are below the sealed mark: never written again or cut
            // (see `Maps`), so the map never changes under a reader.
            let mapped = unsafe { MmapOptions::new().len(len as usize).map(file) };
            mapped.map(Some).map_err(io(self.file(ext)))
        };
        let end = if rows == 0 { 0 } else { self.end(rows - 1)? };
        let maps =
            Maps { rows, idx: map(&self.idx.file, rows * OFFSET, "idx")?, dat: map(&self.dat.file, end, "dat")? };
        *self.maps.write().expect("segment maps lock") = maps;
        Ok(())
    }

    /// The bytes of row `n`, or `None` past the rows readable.
    pub fn get(&self, n: u64) -> Result<Option<Vec<u8>>, SegmentError> {
        {
            let maps = self.maps.read().expect("segment maps lock");
            if n < maps.rows {
                return match maps.row(n) {
                    Some(row) => Ok(Some(row)),
                    None => Err(self.damaged("idx", format!("row {n} points past the end of the data"))),
                };
            }
        }
        if n < self.on_file.load(Ordering::Acquire) {
            return self.read(n).map(Some);
        }
        let p = self.pending.lock().expect("segment lock");
        if n < p.first {
            drop(p);
            return self.read(n).map(Some);
        }
        let i = (n - p.first) as usize;
        Ok(p.ends.get(i).map(|&end| p.bytes[if i == 0 { 0 } else { p.ends[i - 1] }..end].to_vec()))
    }

    /// Appends row `n`, which must be the next one.
    pub fn push(&self, n: u64, row: &[u8]) {
        let mut p = self.pending.lock().expect("segment lock");
        assert_eq!(n, p.first + p.ends.len() as u64, "{} rows are appended in order", self.name);
        p.bytes.extend_from_slice(row);
        let end = p.bytes.len();
        p.ends.push(end);
    }

    /// Writes the pending rows to the files (not yet synced).
    fn write_pending(&self) -> Result<(), SegmentError> {
        let mut p = self.pending.lock().expect("segment lock");
        if p.ends.is_empty() {
            return Ok(());
        }
        let mut idx = Vec::with_capacity(p.ends.len() * OFFSET as usize);
        for &end in &p.ends {
            put_num(&mut idx, p.dat_len + end as u64);
        }
        let p = &mut *p;
        self.dat.append(p.dat_len, &p.bytes, &mut p.dat_tail).map_err(io(self.file("dat")))?;
        self.idx.append(p.first * OFFSET, &idx, &mut p.idx_tail).map_err(io(self.file("idx")))?;
        p.dat_len += p.bytes.len() as u64;
        p.first += p.ends.len() as u64;
        p.bytes.clear();
        p.ends.clear();
        self.on_file.store(p.first, Ordering::Release);
        self.dirty.store(true, Ordering::Release);
        self.map(p.first)
    }

    fn sync(&self) -> Result<(), SegmentError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        self.dat.sync().map_err(io(self.file("dat")))?;
        self.idx.sync().map_err(io(self.file("idx")))
    }

    /// Makes the first `rows` rows readable, checking the files hold them. A writer (`cut`) also
    /// cuts off anything past them: an append that no committed batch recorded.
    fn set_rows(&self, rows: u64, cut: bool) -> Result<(), SegmentError> {
        let idx_len = self.idx.len().map_err(io(self.file("idx")))?;
        let dat_len = self.dat.len().map_err(io(self.file("dat")))?;
        if idx_len < rows * OFFSET {
            let why = format!("it holds {} rows, the sealed mark records {rows}", idx_len / OFFSET);
            return Err(self.damaged("idx", why));
        }
        let end = if rows == 0 { 0 } else { self.end(rows - 1)? };
        if dat_len < end {
            return Err(self.damaged("dat", format!("{dat_len} bytes, its rows end at {end}")));
        }
        let mut fresh = Pending { first: rows, dat_len: end, ..Pending::default() };
        if cut {
            fresh.idx_tail = self.idx.cut(rows * OFFSET).map_err(io(self.file("idx")))?;
            fresh.dat_tail = self.dat.cut(end).map_err(io(self.file("dat")))?;
        }
        *self.pending.lock().expect("segment lock") = fresh;
        self.on_file.store(rows, Ordering::Release);
        self.map(rows)
    }

    /// Bytes of its files.
    pub fn disk_bytes(&self) -> u64 {
        self.dat.disk_bytes() + self.idx.disk_bytes()
    }

    /// Checks the readable rows' files against their checksums.
    pub fn verify(&self) -> Result<(), SegmentError> {
        let rows = self.on_file.load(Ordering::Acquire);
        let end = if rows == 0 { 0 } else { self.end(rows - 1)? };
        for (ext, summed, len) in [("idx", &self.idx, rows * OFFSET), ("dat", &self.dat, end)] {
            let bad = summed.verify(len).map_err(|e| self.damaged(ext, format!("reading its checksums: {e}")))?;
            if let Some((from, to)) = bad {
                return Err(self.damaged(ext, format!("checksum mismatch in bytes {from}..{to}")));
            }
        }
        Ok(())
    }

    /// Reads every readable row on file, checking that offsets only grow, and calls `f` with
    /// each row's number and bytes.
    pub fn for_each(&self, mut f: impl FnMut(u64, &[u8]) -> Result<(), SegmentError>) -> Result<(), SegmentError> {
        let rows = self.on_file.load(Ordering::Acquire);
        let mut start = 0u64;
        let chunk = 1 << 16;
        let mut first = 0;
        while first < rows {
            let n = chunk.min(rows - first);
            let mut idx = vec![0u8; (n * OFFSET) as usize];
            self.idx.file.read_exact_at(&mut idx, first * OFFSET).map_err(|e| self.damaged("idx", e.to_string()))?;
            let ends: Vec<u64> = (0..n).map(|i| end_at(&idx, i)).collect();
            let last = *ends.last().expect("n > 0");
            if last < start {
                return Err(self.damaged("idx", format!("offsets go back at row {}", first + n - 1)));
            }
            let base = start;
            let mut dat = vec![0u8; (last - base) as usize];
            self.dat.file.read_exact_at(&mut dat, base).map_err(|e| self.damaged("dat", e.to_string()))?;
            for (i, &end) in ends.iter().enumerate() {
                let row = first + i as u64;
                if end < start || end > last {
                    return Err(self.damaged("idx", format!("row {row} ends at {end}, outside {start}..{last}")));
                }
                f(row, &dat[(start - base) as usize..(end - base) as usize])?;
                start = end;
            }
            first += n;
        }
        Ok(())
    }
}

/// The segments of every segmented table, by table id.
pub struct Segments {
    by_table: Vec<Option<Segment>>,
}

impl Segments {
    /// Opens (a writer: creating) the segment files of a database directory.
    pub fn open(db: &Path, writable: bool) -> Result<Segments, SegmentError> {
        let dir = db.join(DIR);
        if writable {
            std::fs::create_dir_all(&dir).map_err(io(dir.display().to_string()))?;
        }
        let by_table = TABLE_META
            .iter()
            .map(|table| match table.storage {
                Storage::Segmented => Segment::open(&dir, table.name, writable).map(Some),
                Storage::Column | Storage::WriteOnly => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        Ok(Segments { by_table })
    }

    /// The segment of table `table`, if it is segmented.
    pub fn of(&self, table: u8) -> Option<&Segment> {
        self.by_table.get(table as usize).and_then(Option::as_ref)
    }

    fn all(&self) -> impl Iterator<Item = &Segment> {
        self.by_table.iter().flatten()
    }

    /// Makes the rows `sealed` records readable; a writer also cuts off unrecorded tails.
    pub fn set_sealed(&self, sealed: &Sealed, cut: bool) -> Result<(), SegmentError> {
        for (id, segment) in self.by_table.iter().enumerate() {
            if let Some(segment) = segment {
                segment.set_rows(sealed.rows(id as u8), cut)?;
            }
        }
        Ok(())
    }

    /// Writes every pending row to its file and syncs the files: call before committing the
    /// batch that records them.
    pub fn flush(&self) -> Result<(), SegmentError> {
        for segment in self.all() {
            segment.write_pending()?;
        }
        for segment in self.all() {
            segment.sync()?;
        }
        Ok(())
    }

    /// Bytes of every segment file.
    pub fn disk_bytes(&self) -> u64 {
        self.all().map(Segment::disk_bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::schema::{Inputs, Outputs, Scripts, Table, Txs};

    fn sealed(txs: u64, scripts: u64) -> Sealed {
        Sealed { blocks: 0, txs, scripts }
    }

    #[test]
    fn rows_read_back_pending_and_on_file_and_the_files_are_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let segs = Segments::open(dir.path(), true).unwrap();
        let seg = segs.of(Outputs::ID).unwrap();
        seg.push(0, b"ab");
        seg.push(1, b"");
        seg.push(2, b"cde");
        assert_eq!(seg.get(2).unwrap().as_deref(), Some(&b"cde"[..]));
        assert_eq!(seg.get(3).unwrap(), None);
        segs.flush().unwrap();
        seg.push(3, b"f");
        for (n, row) in [(0, &b"ab"[..]), (1, b""), (2, b"cde"), (3, b"f")] {
            assert_eq!(seg.get(n).unwrap().as_deref(), Some(row), "row {n}");
        }
        segs.flush().unwrap();
        let read = |ext| std::fs::read(dir.path().join(DIR).join(format!("outputs.{ext}"))).unwrap();
        assert_eq!(read("dat"), b"abcdef");
        assert_eq!(read("idx"), [[0, 0, 0, 0, 2], [0, 0, 0, 0, 2], [0, 0, 0, 0, 5], [0, 0, 0, 0, 6]].concat());
        assert!(segs.of(Txs::ID).is_some() && segs.of(Inputs::ID).is_some() && segs.of(Scripts::ID).is_some());
        assert!(segs.of(0).is_none(), "meta is a column family");
    }

    #[test]
    fn a_writer_cuts_unrecorded_tails_and_a_reader_sees_only_recorded_rows() {
        let dir = tempfile::tempdir().unwrap();
        {
            let segs = Segments::open(dir.path(), true).unwrap();
            for n in 0..5 {
                for table in [Txs::ID, Outputs::ID, Inputs::ID] {
                    segs.of(table).unwrap().push(n, &[n as u8; 3]);
                }
            }
            segs.flush().unwrap();
        }
        let reader = Segments::open(dir.path(), false).unwrap();
        reader.set_sealed(&sealed(3, 0), false).unwrap();
        assert_eq!(reader.of(Txs::ID).unwrap().get(2).unwrap(), Some(vec![2; 3]));
        assert_eq!(reader.of(Txs::ID).unwrap().rows(), 3);
        let writer = Segments::open(dir.path(), true).unwrap();
        writer.set_sealed(&sealed(3, 0), true).unwrap();
        let seg = writer.of(Txs::ID).unwrap();
        assert_eq!(seg.disk_bytes(), 3 * 3 + 3 * OFFSET, "no chunk is complete: no checksums yet");
        seg.push(3, b"x");
        writer.flush().unwrap();
        assert_eq!(seg.get(3).unwrap(), Some(b"x".to_vec()));
        let mut seen = Vec::new();
        seg.for_each(|n, row| {
            seen.push((n, row.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(0, vec![0; 3]), (1, vec![1; 3]), (2, vec![2; 3]), (3, b"x".to_vec())]);
    }

    #[test]
    fn a_segment_shorter_than_recorded_is_named_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let segs = Segments::open(dir.path(), true).unwrap();
        for table in [Txs::ID, Outputs::ID, Inputs::ID] {
            segs.of(table).unwrap().push(0, b"abc");
        }
        segs.flush().unwrap();
        let err = segs.set_sealed(&sealed(2, 0), true).unwrap_err().to_string();
        assert!(
            err.contains("corrupt (segment file segments/txs.idx: it holds 1 rows, the sealed mark records 2)"),
            "{err}"
        );
        std::fs::write(dir.path().join(DIR).join("txs.dat"), b"a").unwrap();
        let err = segs.set_sealed(&sealed(1, 0), false).unwrap_err().to_string();
        assert!(err.contains("the database is corrupt (segment file segments/txs.dat"), "{err}");
    }

    #[test]
    fn complete_chunks_are_checksummed_and_a_flipped_byte_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let segs = Segments::open(dir.path(), true).unwrap();
        let seg = segs.of(Scripts::ID).unwrap();
        // 3,000 rows of 3 bytes: 9,000 bytes of data (2 complete chunks), 15,000 of offsets (3).
        for n in 0..3_000u64 {
            seg.push(n, &[(n % 251) as u8; 3]);
            if n % 700 == 0 {
                segs.flush().unwrap();
            }
        }
        segs.flush().unwrap();
        let sums = |ext| std::fs::read(dir.path().join(DIR).join(format!("scripts.{ext}.sum"))).unwrap();
        assert_eq!(sums("dat").len(), 2 * 4);
        assert_eq!(sums("idx").len(), 3 * 4);
        let dat = std::fs::read(dir.path().join(DIR).join("scripts.dat")).unwrap();
        assert_eq!(&sums("dat")[..4], &crc32fast::hash(&dat[..4096]).to_be_bytes());
        seg.verify().unwrap();
        // A writer reopening mid-chunk carries on with the same checksums.
        let again = Segments::open(dir.path(), true).unwrap();
        again.set_sealed(&sealed(0, 2_000), true).unwrap();
        assert_eq!(sums("dat").len(), 4, "the checksum past the cut is cut too");
        for n in 2_000..3_000u64 {
            again.of(Scripts::ID).unwrap().push(n, &[(n % 251) as u8; 3]);
        }
        again.flush().unwrap();
        assert_eq!(sums("dat").len(), 2 * 4);
        again.of(Scripts::ID).unwrap().verify().unwrap();
        let mut flipped = dat.clone();
        flipped[5_000] ^= 1;
        std::fs::write(dir.path().join(DIR).join("scripts.dat"), &flipped).unwrap();
        let err = again.of(Scripts::ID).unwrap().verify().unwrap_err().to_string();
        assert!(err.contains("segments/scripts.dat: checksum mismatch in bytes 4096..8192"), "{err}");
    }
}
