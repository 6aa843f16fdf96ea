//! The storage side: the on-disk format (tables and their key and value layouts), the store
//! over RocksDB and the segment files, and the journal that batches a block's writes and
//! records how to take them back out.

pub mod excerpt;
pub mod journal;
pub mod kv;
pub mod schema;
pub mod segment;
pub mod store;
