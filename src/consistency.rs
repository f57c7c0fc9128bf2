//! What the data says about the requests: a history of every request the
//! traffic generator sent (saved as JSON Lines), and a checker of the
//! writes in it against what each database holds afterwards, in the
//! manner of Jepsen's set checker. Pure: the final states are read by the
//! lab and handed in as data.
//!
//! Each write carries a value unique to it, so it is found by value, never
//! by id (a promoted primary hands out the ids of lost writes again). A
//! write is, on each database:
//! - **ok**: acknowledged and present;
//! - **lost**: acknowledged, absent;
//! - **recovered**: failed or of unknown outcome, but present;
//! - **unexpected**: present, from one of the history's generators, but
//!   never sent.
//!
//! Reads: a read-your-writes probe that was answered without the client's
//! own, acknowledged write is a **stale read**. A read that saw a write
//! before the write was sent is impossible, and counted as such; one that
//! saw it while the write was in flight is fine.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::live::{Millis, Outcome, OwnRead, RequestTrace};
use crate::model::HostName;

/// Examples kept of each kind (every lost write is kept).
pub const EXAMPLES: usize = 10;

/// What one database holds: the value of every row of the items table.
#[derive(Clone, Debug, PartialEq)]
pub struct Holding {
    /// Its host.
    pub db: HostName,
    /// Whether it is the primary now.
    pub primary: bool,
    /// Every row's value (a value twice is a write applied twice).
    pub values: Vec<String>,
}

/// One write of the history, as the checker sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Write {
    /// Its unique value.
    pub value: String,
    /// When it was sent.
    pub invoked: Millis,
    /// When it finished (acknowledged, failed or given up).
    pub completed: Millis,
    /// What became of it.
    pub outcome: Outcome,
    /// The way it went (`lb-01 → web-02 → web-01/db`), as far as known.
    pub path: String,
    /// Still in flight when the data was read: not classified (its
    /// outcome is unknown, and it may or may not be in the data yet).
    pub in_flight: bool,
}

/// The check of one database.
#[derive(Clone, Debug, PartialEq)]
pub struct DatabaseCheck {
    /// The database's host.
    pub db: HostName,
    /// Whether it is the primary now.
    pub primary: bool,
    /// Acknowledged and present.
    pub ok: u64,
    /// Acknowledged and absent: every one, oldest first.
    pub lost: Vec<Write>,
    /// Failed or unknown, but present (examples; `recovered` counts).
    pub recovered_examples: Vec<Write>,
    /// How many were recovered.
    pub recovered: u64,
    /// Present but never sent (examples; `unexpected` counts).
    pub unexpected_examples: Vec<String>,
    /// How many values were unexpected.
    pub unexpected: u64,
    /// When each write of unknown outcome that is absent finished (they
    /// may never have been done).
    pub unknown_absent: Vec<Millis>,
    /// Values present more than once.
    pub duplicated: u64,
    /// Rows not written by this history's generators (not checked).
    pub other_rows: u64,
}

impl DatabaseCheck {
    /// Its counts in one line: `web-02/db (primary): 3 ok, 1 lost, ...`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{}/db{}: {} ok, {} lost, {} recovered, {} unexpected",
            self.db,
            if self.primary { " (primary)" } else { "" },
            self.ok,
            self.lost.len(),
            self.recovered,
            self.unexpected
        );
        if !self.unknown_absent.is_empty() {
            let _ = write!(
                line,
                ", {} of unknown outcome absent",
                self.unknown_absent.len()
            );
        }
        if self.duplicated > 0 {
            let _ = write!(line, ", {} written twice", self.duplicated);
        }
        if self.other_rows > 0 {
            let _ = write!(line, " ({} other rows not checked)", self.other_rows);
        }
        line
    }
}

/// A stale read, as an example.
#[derive(Clone, Debug, PartialEq)]
pub struct StaleRead {
    /// When it was sent.
    pub at: Millis,
    /// Milliseconds after its write was acknowledged.
    pub after_ms: Millis,
    /// The database that served it.
    pub db: Option<HostName>,
    /// The value it missed.
    pub value: String,
}

/// What the reads saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadCheck {
    /// Read-your-writes probes answered.
    pub probes: u64,
    /// Of them, reads that missed the client's own write.
    pub stale: u64,
    /// Stale reads (examples).
    pub stale_examples: Vec<StaleRead>,
    /// Stale reads per database that served them.
    pub stale_by_db: BTreeMap<HostName, u64>,
    /// Reads that saw a write before it was sent (impossible).
    pub before_sent: u64,
}

impl ReadCheck {
    /// Stale reads as a percentage of the answered probes.
    pub fn stale_percent(&self) -> f64 {
        if self.probes == 0 {
            0.0
        } else {
            100.0 * self.stale as f64 / self.probes as f64
        }
    }
}

/// The writes of a history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Distinct values sent.
    pub sent: u64,
    /// Acknowledged.
    pub acknowledged: u64,
    /// Certainly not done.
    pub failed: u64,
    /// Of unknown outcome.
    pub unknown: u64,
    /// Still in flight when the data was read (not classified).
    pub in_flight: u64,
}

/// The checker's verdict.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Check {
    /// The history's writes.
    pub writes: WriteCounts,
    /// Per database, the primary first.
    pub databases: Vec<DatabaseCheck>,
    /// The reads.
    pub reads: ReadCheck,
}

impl Check {
    /// The primary's check, if a primary was read.
    pub fn primary(&self) -> Option<&DatabaseCheck> {
        self.databases.iter().find(|d| d.primary)
    }

    /// Acknowledged writes the primary lacks (`None`: no primary was read).
    pub fn lost(&self) -> Option<u64> {
        self.primary().map(|d| d.lost.len() as u64)
    }

    /// Acknowledged writes the primary lacks that were acknowledged from
    /// `from` until `until`: the loss of a promotion at `until` when the one
    /// before it was at `from` (writes lost earlier were lost then).
    pub fn lost_between(&self, from: Millis, until: Millis) -> Option<u64> {
        self.primary().map(|d| {
            d.lost
                .iter()
                .filter(|w| (from..until).contains(&w.completed))
                .count() as u64
        })
    }

    /// The check as Markdown (also readable as text).
    pub fn markdown(&self) -> String {
        self.markdown_with_lag(&[])
    }

    /// The check as Markdown, each database's stale reads told with its
    /// lag when they were served, where `lags` has it ([`stale_lag`]).
    pub fn markdown_with_lag(&self, lags: &[StaleLag]) -> String {
        let mut o = String::new();
        let w = &self.writes;
        let _ = writeln!(
            o,
            "- writes sent: {} ({} acknowledged, {} failed, {} unknown{})",
            w.sent,
            w.acknowledged,
            w.failed,
            w.unknown,
            if w.in_flight > 0 {
                format!(", {} in flight when the data was read", w.in_flight)
            } else {
                String::new()
            }
        );
        for d in &self.databases {
            let _ = writeln!(o, "- {}", d.summary());
            for l in d.lost.iter().take(EXAMPLES) {
                let _ = writeln!(
                    o,
                    "  - lost: {} acknowledged at {} UTC via {}",
                    l.value,
                    crate::stopwatch::clock(l.completed),
                    l.path
                );
            }
            if d.lost.len() > EXAMPLES {
                let _ = writeln!(o, "  - … and {} more lost", d.lost.len() - EXAMPLES);
            }
            for v in &d.unexpected_examples {
                let _ = writeln!(o, "  - unexpected: {v}");
            }
        }
        let r = &self.reads;
        if r.probes > 0 {
            let _ = writeln!(
                o,
                "- read-your-writes probes: {} answered, {} stale ({:.1}%)",
                r.probes,
                r.stale,
                r.stale_percent()
            );
            for (db, n) in &r.stale_by_db {
                match lags.iter().find(|l| &l.db == db) {
                    Some(lag) => {
                        let _ = writeln!(o, "  - {}", lag.describe());
                    }
                    None => {
                        let _ = writeln!(o, "  - {n} stale served by {db}/db");
                    }
                }
            }
        }
        if r.before_sent > 0 {
            let _ = writeln!(
                o,
                "- reads that saw a write before it was sent: {} (impossible: a bug)",
                r.before_sent
            );
        }
        o
    }
}

/// The run a generated value belongs to: `traffic-RUN-N` → `traffic-RUN`.
fn run_of(value: &str) -> Option<&str> {
    let (run, n) = value.rsplit_once('-')?;
    (n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty()).then_some(run)
}

fn path(t: &RequestTrace) -> String {
    let mut parts: Vec<String> = Vec::new();
    match &t.lb {
        Some(lb) => parts.push(lb.to_string()),
        None => parts.push(t.entry.to_string()),
    }
    if let Some(web) = &t.web {
        parts.push(web.to_string());
    }
    if let Some(db) = &t.db {
        parts.push(format!("{db}/db"));
    }
    parts.join(" → ")
}

/// The writes of `history` by value. A value sent more than once (a
/// client's retry) is one write: acknowledged if any attempt was, else
/// unknown if any was, else failed.
pub fn writes(history: &[RequestTrace]) -> Vec<Write> {
    writes_as_of(history, Millis::MAX)
}

/// The writes of `history` as they stood at `as_of`: one sent later is
/// left out, and one still in flight then is of unknown outcome.
pub fn writes_as_of(history: &[RequestTrace], as_of: Millis) -> Vec<Write> {
    let mut by_value: HashMap<&str, Write> = HashMap::new();
    for t in history.iter().filter(|t| t.write && t.at <= as_of) {
        let Some(value) = &t.written else {
            continue;
        };
        let in_flight = t.done() > as_of;
        let outcome = if in_flight {
            Outcome::Unknown
        } else {
            t.outcome()
        };
        let w = Write {
            value: value.clone(),
            invoked: t.at,
            completed: t.done(),
            outcome,
            path: path(t),
            in_flight,
        };
        by_value
            .entry(value)
            .and_modify(|old| {
                // Ok < Failed < Unknown: an acknowledgement wins, then the
                // uncertainty.
                let better = match (w.outcome, old.outcome) {
                    (Outcome::Ok, o) => o != Outcome::Ok,
                    (Outcome::Unknown, Outcome::Failed) => true,
                    _ => false,
                };
                let invoked = old.invoked.min(w.invoked);
                if better {
                    *old = w.clone();
                }
                old.invoked = invoked;
            })
            .or_insert(w);
    }
    let mut out: Vec<Write> = by_value.into_values().collect();
    out.sort_by(|a, b| (a.invoked, &a.value).cmp(&(b.invoked, &b.value)));
    out
}

/// Checks `history` against what each database holds.
pub fn check(history: &[RequestTrace], holdings: &[Holding]) -> Check {
    check_as_of(history, holdings, Millis::MAX)
}

/// Checks `history` against what each database held when it was read at
/// `as_of` (see [`writes_as_of`]).
pub fn check_as_of(history: &[RequestTrace], holdings: &[Holding], as_of: Millis) -> Check {
    let writes = writes_as_of(history, as_of);
    let mut counts = WriteCounts {
        sent: writes.len() as u64,
        ..WriteCounts::default()
    };
    for w in &writes {
        match w.outcome {
            _ if w.in_flight => counts.in_flight += 1,
            Outcome::Ok => counts.acknowledged += 1,
            Outcome::Failed => counts.failed += 1,
            Outcome::Unknown => counts.unknown += 1,
        }
    }
    let by_value: HashMap<&str, &Write> = writes.iter().map(|w| (w.value.as_str(), w)).collect();
    let runs: std::collections::HashSet<&str> =
        writes.iter().filter_map(|w| run_of(&w.value)).collect();
    let mut databases: Vec<DatabaseCheck> = holdings
        .iter()
        .map(|h| check_database(h, &writes, &by_value, &runs))
        .collect();
    databases.sort_by(|a, b| (!a.primary, &a.db).cmp(&(!b.primary, &b.db)));
    Check {
        writes: counts,
        databases,
        reads: check_reads(history, &by_value),
    }
}

fn check_database(
    holding: &Holding,
    writes: &[Write],
    by_value: &HashMap<&str, &Write>,
    runs: &std::collections::HashSet<&str>,
) -> DatabaseCheck {
    let mut rows: HashMap<&str, u64> = HashMap::with_capacity(holding.values.len());
    for v in &holding.values {
        *rows.entry(v.as_str()).or_default() += 1;
    }
    let mut d = DatabaseCheck {
        db: holding.db.clone(),
        primary: holding.primary,
        ok: 0,
        lost: Vec::new(),
        recovered_examples: Vec::new(),
        recovered: 0,
        unexpected_examples: Vec::new(),
        unexpected: 0,
        unknown_absent: Vec::new(),
        duplicated: 0,
        other_rows: 0,
    };
    for w in writes.iter().filter(|w| !w.in_flight) {
        let present = rows.contains_key(w.value.as_str());
        match (w.outcome, present) {
            (Outcome::Ok, true) => d.ok += 1,
            (Outcome::Ok, false) => d.lost.push(w.clone()),
            (_, true) => {
                d.recovered += 1;
                if d.recovered_examples.len() < EXAMPLES {
                    d.recovered_examples.push(w.clone());
                }
            }
            (Outcome::Unknown, false) => d.unknown_absent.push(w.completed),
            (Outcome::Failed, false) => {}
        }
    }
    let mut unexpected: Vec<&str> = Vec::new();
    for (value, n) in &rows {
        if *n > 1 {
            d.duplicated += 1;
        }
        if by_value.contains_key(value) {
            continue;
        }
        if run_of(value).is_some_and(|r| runs.contains(r)) {
            unexpected.push(value);
        } else {
            d.other_rows += n;
        }
    }
    unexpected.sort_unstable();
    d.unexpected = unexpected.len() as u64;
    d.unexpected_examples = unexpected
        .into_iter()
        .take(EXAMPLES)
        .map(str::to_owned)
        .collect();
    d
}

fn check_reads(history: &[RequestTrace], by_value: &HashMap<&str, &Write>) -> ReadCheck {
    let mut r = ReadCheck::default();
    for t in history.iter().filter(|t| !t.write) {
        let Some(own) = &t.own else {
            continue;
        };
        if !t.ok() {
            continue;
        }
        r.probes += 1;
        if own.found {
            // Seen: fine while or after the write was in flight; before it
            // was sent, impossible.
            if by_value
                .get(own.value.as_str())
                .is_some_and(|w| t.done() < w.invoked)
            {
                r.before_sent += 1;
            }
            continue;
        }
        r.stale += 1;
        if let Some(db) = &t.db {
            *r.stale_by_db.entry(db.clone()).or_default() += 1;
        }
        if r.stale_examples.len() < EXAMPLES {
            r.stale_examples.push(StaleRead {
                at: t.at,
                after_ms: t.at.saturating_sub(own.acknowledged),
                db: t.db.clone(),
                value: own.value.clone(),
            });
        }
    }
    r
}

/// A promotion's predicted loss (transactions its replica never received;
/// `None`: unknown) against the checker's measure, in words. They agree
/// when the acknowledged writes lost are at most the prediction, and the
/// prediction is at most those plus the writes of unknown outcome that
/// are absent (a transaction committed whose answer never came).
///
/// Only the writes that finished from `from` until `until` count: the
/// promotion at `until` and the one before it at `from` (or 0).
pub fn compare_prediction(
    predicted: Option<u64>,
    check: &Check,
    from: Millis,
    until: Millis,
) -> Option<String> {
    let primary = check.primary()?;
    let lost = check.lost_between(from, until)?;
    let unknown = primary
        .unknown_absent
        .iter()
        .filter(|at| (from..until).contains(*at))
        .count() as u64;
    Some(match predicted {
        None => format!(
            "The promotion could not predict its loss; the checker measured {lost} acknowledged write(s) lost."
        ),
        Some(p) if lost <= p && p <= lost + unknown => format!(
            "The promotion predicted {p} lost transaction(s); the checker measured {lost} acknowledged write(s) lost{}: they agree.",
            if unknown > 0 {
                format!(" and {unknown} write(s) of unknown outcome absent")
            } else {
                String::new()
            }
        ),
        Some(p) => format!(
            "**Finding:** the promotion predicted {p} lost transaction(s), but the checker measured {lost} acknowledged write(s) lost ({unknown} of unknown outcome absent). {}",
            if lost > p {
                "Writes were lost that the promotion did not foresee."
            } else {
                "Fewer writes were lost than predicted: transactions other than the generator's, or ones still unapplied, count in the prediction."
            }
        ),
    })
}

/// Without a history: each database's rows, values written twice, and
/// how each other database differs from the primary, in words.
pub fn compare_holdings(holdings: &[Holding]) -> String {
    use std::collections::HashSet;
    let mut o = String::new();
    let primary = holdings.iter().find(|h| h.primary);
    let primary_values: HashSet<&str> = primary
        .map(|p| p.values.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut sorted: Vec<&Holding> = holdings.iter().collect();
    sorted.sort_by(|a, b| (!a.primary, &a.db).cmp(&(!b.primary, &b.db)));
    for h in sorted {
        let values: HashSet<&str> = h.values.iter().map(String::as_str).collect();
        let twice = h.values.len() - values.len();
        let _ = write!(
            o,
            "- {}/db{}: {} rows",
            h.db,
            if h.primary { " (primary)" } else { "" },
            h.values.len()
        );
        if twice > 0 {
            let _ = write!(o, ", {twice} values written twice");
        }
        if primary.is_some() && !h.primary {
            let lacks = primary_values.difference(&values).count();
            let extra = values.difference(&primary_values).count();
            if lacks == 0 && extra == 0 {
                let _ = write!(o, ", the same values as the primary");
            } else {
                let _ = write!(
                    o,
                    ", lacks {lacks} of the primary's values and has {extra} it does not"
                );
            }
        }
        o.push('\n');
    }
    if primary.is_none() {
        o.push_str("- no primary was read\n");
    }
    o.push_str(
        "(Give --history FILE.jsonl, saved by `traffic --history`, to classify each write.)\n",
    );
    o
}

/// How far behind a database was when it served stale reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleLag {
    /// The database.
    pub db: HostName,
    /// Stale reads it served.
    pub stale: u64,
    /// Its lag in transactions in the seconds it served them, when known:
    /// the least, the median and the most.
    pub behind: Option<(u64, u64, u64)>,
}

impl StaleLag {
    /// In words, for reports.
    pub fn describe(&self) -> String {
        match self.behind {
            Some((least, median, most)) => format!(
                "{} stale read(s) served by {}/db while it was {least} to {most} transaction(s) behind (median {median})",
                self.stale, self.db
            ),
            None => format!(
                "{} stale read(s) served by {}/db (its lag then unknown)",
                self.stale, self.db
            ),
        }
    }
}

/// For each database that served stale reads in `history`, its lag in the
/// seconds it served them: `lag_at(db, second)` gives a database's lag in
/// transactions in a second (Unix time), when known.
pub fn stale_lag(
    history: &[RequestTrace],
    lag_at: impl Fn(&HostName, u64) -> Option<u64>,
) -> Vec<StaleLag> {
    let mut seconds: BTreeMap<&HostName, Vec<u64>> = BTreeMap::new();
    for t in history.iter().filter(|t| t.stale()) {
        if let Some(db) = &t.db {
            seconds.entry(db).or_default().push(t.done() / 1000);
        }
    }
    seconds
        .into_iter()
        .map(|(db, secs)| {
            let mut lags: Vec<u64> = secs.iter().filter_map(|s| lag_at(db, *s)).collect();
            lags.sort_unstable();
            StaleLag {
                db: db.clone(),
                stale: secs.len() as u64,
                behind: (!lags.is_empty())
                    .then(|| (lags[0], lags[lags.len() / 2], lags[lags.len() - 1])),
            }
        })
        .collect()
}

/// Stale reads and answered probes per second (`(second, stale, probes)`),
/// oldest first, for a chart beside the replication lag.
pub fn stale_per_second(history: &[RequestTrace]) -> Vec<(u64, u64, u64)> {
    let mut by_second: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for t in history.iter().filter(|t| t.own.is_some() && t.ok()) {
        let e = by_second.entry(t.at / 1000).or_default();
        e.1 += 1;
        if t.stale() {
            e.0 += 1;
        }
    }
    by_second
        .into_iter()
        .map(|(s, (stale, probes))| (s, stale, probes))
        .collect()
}

/// One line of a saved history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// `write`, `read`, or `read-own-write` (a probe).
    #[serde(rename = "type")]
    pub kind: String,
    /// Sent, milliseconds since the Unix epoch.
    pub invoked: Millis,
    /// Finished.
    pub completed: Millis,
    /// `ok`, `failed` or `unknown`.
    pub outcome: String,
    /// The HTTP status, when answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it got no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The entry point it was sent to.
    pub entry: HostName,
    /// The hosts it went through (`X-Topolab-*` headers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb: Option<HostName>,
    /// The web server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<HostName>,
    /// The app's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<HostName>,
    /// The database's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<HostName>,
    /// A write's value, or the value a probe looked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What a read of `/` saw: the newest item's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<u64>,
    /// A probe: when its write was acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Millis>,
    /// A probe: whether it found its write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<bool>,
    /// The incident (fault, promotion, apply) whose window it was sent in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
}

impl Record {
    /// The record of a traced request.
    pub fn of(t: &RequestTrace) -> Self {
        let kind = if t.write {
            "write"
        } else if t.own.is_some() {
            "read-own-write"
        } else {
            "read"
        };
        Self {
            kind: kind.to_owned(),
            invoked: t.at,
            completed: t.done(),
            outcome: t.outcome().as_str().to_owned(),
            status: t.status,
            error: t.error.clone(),
            entry: t.entry.clone(),
            lb: t.lb.clone(),
            web: t.web.clone(),
            app: t.app.clone(),
            db: t.db.clone(),
            value: t
                .written
                .clone()
                .or_else(|| t.own.as_ref().map(|o| o.value.clone())),
            newest: t.newest,
            acknowledged: t.own.as_ref().map(|o| o.acknowledged),
            found: t.own.as_ref().map(|o| o.found),
            incident: None,
        }
    }

    /// The traced request back, as far as the checker needs it.
    pub fn trace(&self) -> Result<RequestTrace, String> {
        let write = match self.kind.as_str() {
            "write" => true,
            "read" | "read-own-write" => false,
            other => return Err(format!("unknown type {other:?}")),
        };
        let outcome = match self.outcome.as_str() {
            "ok" => Outcome::Ok,
            "failed" => Outcome::Failed,
            "unknown" => Outcome::Unknown,
            other => return Err(format!("unknown outcome {other:?}")),
        };
        if self.completed < self.invoked {
            return Err(format!(
                "it finished before it was sent ({} < {})",
                self.completed, self.invoked
            ));
        }
        let mut t = RequestTrace::new(self.invoked, write, self.entry.clone());
        t.status = self.status;
        t.error = self.error.clone();
        t.latency_ms = self.completed.saturating_sub(self.invoked) as f32;
        t.lb = self.lb.clone();
        t.web = self.web.clone();
        t.app = self.app.clone();
        t.db = self.db.clone();
        t.delivered = self.status.is_some() || outcome == Outcome::Unknown;
        // An answered failure the status alone would leave unknown: the
        // app said it was not done.
        t.not_done = self.status.is_some() && outcome == Outcome::Failed;
        t.newest = self.newest;
        if write {
            t.written = self.value.clone();
        } else if self.kind == "read-own-write" {
            t.own = Some(OwnRead {
                value: self
                    .value
                    .clone()
                    .ok_or("a read-own-write without its value")?,
                acknowledged: self.acknowledged.unwrap_or(self.invoked),
                found: self.found.unwrap_or(false),
            });
        }
        if t.outcome() != outcome {
            return Err(format!(
                "outcome {:?} does not follow from status {:?}",
                self.outcome, self.status
            ));
        }
        Ok(t)
    }
}

/// `history` as JSON Lines: one [`Record`] per request, in order.
pub fn to_json_lines(history: &[RequestTrace]) -> String {
    to_json_lines_marked(history, &[])
}

/// `history` as JSON Lines, each request marked with the incident it was
/// sent in: the last of `incidents` (when it began, its label; in time
/// order) that began at or before it.
pub fn to_json_lines_marked(history: &[RequestTrace], incidents: &[(Millis, String)]) -> String {
    let mut out = String::with_capacity(history.len() * 200);
    for t in history {
        let mut record = Record::of(t);
        let began = incidents.partition_point(|(at, _)| *at <= t.at);
        record.incident = began.checked_sub(1).map(|i| incidents[i].1.clone());
        // Plain fields: serializing cannot fail.
        if let Ok(line) = serde_json::to_string(&record) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// A saved history back; the error names the line and what is wrong.
pub fn from_json_lines(text: &str) -> Result<Vec<RequestTrace>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<Record>(l)
                .map_err(|e| e.to_string())
                .and_then(|r| r.trace())
                .map_err(|e| format!("line {}: {e}", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests;
