//! Per-second history of a node or an edge ([`Series`] of [`Bucket`]s),
//! and the fixed-memory latency [`Histogram`] of the traffic totals.

use std::collections::{BTreeMap, VecDeque};

use super::Millis;

/// Seconds of history kept per node and per edge.
pub const HISTORY_SECONDS: usize = 300;

/// One second of a node's or an edge's history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bucket {
    /// Seconds since the Unix epoch.
    pub second: u64,
    /// Requests finished in that second.
    pub requests: u32,
    /// Of which failed.
    pub errors: u32,
    /// Latency median, milliseconds.
    pub p50_ms: Option<f32>,
    /// Latency 95th percentile, milliseconds.
    pub p95_ms: Option<f32>,
    /// Replication lag at the end of the second (replicas).
    pub lag_seconds: Option<u64>,
    /// Replication lag in transactions.
    pub lag_transactions: Option<u64>,
    /// CPU, percent of one core.
    pub cpu_percent: Option<f32>,
    /// Memory, bytes.
    pub memory_bytes: Option<u64>,
    /// Read-your-writes probes that missed their own write (stale reads).
    pub stale_reads: u32,
}

/// A second still open for late requests.
#[derive(Clone, Debug, Default)]
struct Open {
    requests: u32,
    errors: u32,
    stale: u32,
    latencies: Vec<f32>,
}

/// Per-second history: complete seconds, plus the seconds still open for
/// late requests.
#[derive(Clone, Debug, Default)]
pub struct Series {
    closed: VecDeque<Bucket>,
    open: BTreeMap<u64, Open>,
}

impl Series {
    pub(super) fn record(&mut self, done: Millis, ok: bool, latency_ms: Option<f32>) {
        let second = done / 1000;
        if self.closed.back().is_some_and(|b| b.second >= second) {
            // Too late for its second: counted in the totals only.
            return;
        }
        let entry = self.open.entry(second).or_default();
        entry.requests += 1;
        if !ok {
            entry.errors += 1;
        }
        if let Some(l) = latency_ms {
            entry.latencies.push(l);
        }
    }

    /// Counts a stale read that finished at `done`.
    pub(super) fn record_stale(&mut self, done: Millis) {
        let second = done / 1000;
        if self.closed.back().is_some_and(|b| b.second >= second) {
            return;
        }
        self.open.entry(second).or_default().stale += 1;
    }

    /// Closes every second before `second`, filling quiet seconds with zeros;
    /// `gauges` fills the gauge fields of each closed bucket.
    pub(super) fn close_before(&mut self, second: u64, gauges: &Bucket) {
        let first = self
            .closed
            .back()
            .map(|b| b.second + 1)
            .or_else(|| self.open.keys().next().copied())
            .unwrap_or(second.saturating_sub(1));
        let first = first.max(second.saturating_sub(HISTORY_SECONDS as u64));
        for s in first..second {
            let mut open = self.open.remove(&s).unwrap_or_default();
            open.latencies.sort_by(f32::total_cmp);
            self.closed.push_back(Bucket {
                second: s,
                requests: open.requests,
                errors: open.errors,
                p50_ms: percentile(&open.latencies, 0.50),
                p95_ms: percentile(&open.latencies, 0.95),
                stale_reads: open.stale,
                ..gauges.clone()
            });
        }
        self.open.retain(|s, _| *s >= second);
        while self.closed.len() > HISTORY_SECONDS {
            self.closed.pop_front();
        }
    }

    /// Complete seconds, oldest first.
    pub fn buckets(&self) -> impl DoubleEndedIterator<Item = &Bucket> + ExactSizeIterator {
        self.closed.iter()
    }

    /// The last complete second.
    pub fn last(&self) -> Option<&Bucket> {
        self.closed.back()
    }

    /// Requests and errors over the last `n` complete seconds.
    pub fn recent(&self, n: usize) -> (u64, u64) {
        self.closed.iter().rev().take(n).fold((0, 0), |(r, e), b| {
            (r + u64::from(b.requests), e + u64::from(b.errors))
        })
    }
}

/// The `q` quantile of sorted `values` (nearest rank).
fn percentile(sorted: &[f32], q: f64) -> Option<f32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// A latency histogram with about 2% precision and fixed memory.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_ms: f32,
}

impl Histogram {
    const GROWTH: f64 = 1.02;
    /// 10 microseconds: the smallest latency told apart.
    const FLOOR_MS: f64 = 0.01;

    fn index(ms: f32) -> usize {
        let ms = f64::from(ms).max(Self::FLOOR_MS);
        ((ms / Self::FLOOR_MS).ln() / Self::GROWTH.ln()) as usize
    }

    /// Adds a latency.
    pub fn add(&mut self, ms: f32) {
        let i = Self::index(ms);
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
        self.max_ms = self.max_ms.max(ms);
    }

    /// The `q` quantile, milliseconds (the upper end of its bucket).
    pub fn quantile(&self, q: f64) -> Option<f32> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let upper = Self::FLOOR_MS * Self::GROWTH.powi(i as i32 + 1);
                return Some((upper as f32).min(self.max_ms));
            }
        }
        Some(self.max_ms)
    }

    /// Samples added.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest sample.
    pub fn max(&self) -> f32 {
        self.max_ms
    }
}
