//! Splitting read-only work over a few threads: the store is safe to read from several at once,
//! and traces and their output are thousands of independent lookups.

/// At most this many threads work on one job.
const MAX_THREADS: usize = 4;

/// Maps `f` over consecutive parts of `items` on up to [`MAX_THREADS`] threads, each part at least
/// `min_part` items long, and concatenates the results in order. The first error wins.
pub fn map_parts<T: Sync, R: Send, E: Send>(
    items: &[T],
    min_part: usize,
    f: impl Fn(&[T]) -> Result<Vec<R>, E> + Sync,
) -> Result<Vec<R>, E> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS);
    let parts = (items.len() / min_part.max(1)).min(threads);
    if parts < 2 {
        return f(items);
    }
    let size = items.len().div_ceil(parts);
    let results: Vec<Result<Vec<R>, E>> = std::thread::scope(|scope| {
        let handles: Vec<_> = items.chunks(size).map(|part| scope.spawn(|| f(part))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for part in results {
        out.extend(part?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_keep_their_order_and_errors_come_back() {
        let items: Vec<u32> = (0..10_000).collect();
        let doubled: Vec<u32> =
            map_parts(&items, 100, |part| Ok::<_, ()>(part.iter().map(|n| n * 2).collect())).unwrap();
        assert_eq!(doubled.len(), 10_000);
        assert!(doubled.iter().enumerate().all(|(i, n)| *n == 2 * i as u32));
        let failed =
            map_parts(&items, 100, |part| if part.contains(&9_999) { Err("late part") } else { Ok(part.to_vec()) });
        assert_eq!(failed, Err("late part"));
        let small = map_parts(&items[..10], 100, |part| Ok::<_, ()>(vec![part.len()])).unwrap();
        assert_eq!(small, vec![10]);
    }
}
