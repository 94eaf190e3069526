//! A value read at most once per interval, however many callers want it at the same moment (single flight).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// The last value read and when its reading began; read again once it is older than the interval.
#[derive(Debug)]
pub struct Recent<T> {
    max_age: Duration,
    last: Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> Recent<T> {
    /// Keeps values for `max_age`; zero keeps none (every call reads).
    pub fn new(max_age: Duration) -> Recent<T> {
        Recent { max_age, last: Mutex::new(None) }
    }

    /// The value, read with `read` unless one younger than the interval is at hand.
    ///
    /// Callers that come while a read is under way wait for it (on an async lock, holding no thread) and take its
    /// value, so a burst costs one read. A failed read keeps nothing: the next caller tries again.
    pub async fn get<E, F, Fut>(&self, read: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if self.max_age.is_zero() {
            return read().await.map(Arc::new);
        }
        let mut last = self.last.lock().await;
        if let Some((read_at, value)) = last.as_ref()
            && read_at.elapsed() < self.max_age
        {
            return Ok(Arc::clone(value));
        }
        // The age of a value counts from when its reading began: that is the moment it describes.
        let started = Instant::now();
        let value = Arc::new(read().await?);
        *last = Some((started, Arc::clone(&value)));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A read that takes a while and returns how many reads there have been.
    async fn counted(reads: &AtomicUsize) -> Result<usize, String> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(reads.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[tokio::test]
    async fn a_burst_reads_once() {
        let recent = Recent::new(Duration::from_secs(60));
        let reads = AtomicUsize::new(0);
        let values = futures_util::future::join_all((0..10).map(|_| recent.get(|| counted(&reads)))).await;
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert!(values.iter().all(|value| value.as_deref() == Ok(&1)), "{values:?}");
        assert_eq!(recent.get(|| counted(&reads)).await.as_deref(), Ok(&1), "still fresh");
    }

    #[tokio::test]
    async fn an_old_value_is_read_again() {
        let recent = Recent::new(Duration::from_millis(30));
        let reads = AtomicUsize::new(0);
        assert_eq!(recent.get(|| counted(&reads)).await.as_deref(), Ok(&1));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(recent.get(|| counted(&reads)).await.as_deref(), Ok(&2));
    }

    #[tokio::test]
    async fn zero_reads_every_time_and_failures_are_not_kept() {
        let never = Recent::new(Duration::ZERO);
        let reads = AtomicUsize::new(0);
        let values = futures_util::future::join_all((0..3).map(|_| never.get(|| counted(&reads)))).await;
        assert_eq!(reads.load(Ordering::SeqCst), 3, "{values:?}");

        let recent = Recent::new(Duration::from_secs(60));
        let failed: Result<Arc<usize>, String> = recent.get(|| async { Err("down".to_owned()) }).await;
        assert_eq!(failed, Err("down".to_owned()));
        assert_eq!(recent.get(|| async { Ok::<_, String>(7) }).await.as_deref(), Ok(&7));
    }
}
