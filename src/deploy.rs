//! The plan of a rolling deploy of the application's files (pure): which
//! hosts change release, in which batches (a canary alone first), what is
//! rolled back when a batch fails, and the canary's verdict from the
//! requests it served.
//!
//! The lab carries the plan out (`lab::deploy`): it drains each batch in
//! every load balancer, switches the `current` release, restarts the app
//! gracefully, waits for its health check and sets it ready.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{ComponentKind, HostName, Topology};

pub use crate::model::RELEASES;

/// What the user asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The release to deploy.
    pub version: String,
    /// Hosts per batch (at least 1).
    pub batch: usize,
    /// A host to deploy first, alone, and watch.
    pub canary: Option<HostName>,
    /// Seconds to watch the canary before the rest.
    pub pause_s: f64,
}

/// One batch of hosts that change together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Its hosts.
    pub hosts: Vec<HostName>,
    /// The canary (watched before the next batch).
    pub canary: bool,
}

/// A rolling deploy, planned.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The release deployed.
    pub version: String,
    /// Batches, in order.
    pub batches: Vec<Batch>,
    /// Each host's release before the deploy (what a rollback restores).
    pub previous: BTreeMap<HostName, String>,
    /// Hosts that already run the release.
    pub unchanged: Vec<HostName>,
    /// Seconds the canary is watched.
    pub pause_s: f64,
}

/// Why there is no plan.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Not a release topolab ships.
    #[error("no release named {0:?} (topolab ships {releases})", releases = RELEASES.join(", "))]
    UnknownRelease(String),
    /// A batch of 0.
    #[error("--batch must be at least 1")]
    EmptyBatch,
    /// A pause that is not a duration.
    #[error("--pause must be between 0 and 3600 seconds")]
    BadPause,
    /// The canary runs no app.
    #[error("{0} runs no application server: it cannot be the canary")]
    CanaryNotAnApp(HostName),
    /// Nothing runs an app.
    #[error("the topology runs no application server")]
    NoApp,
    /// A batch would take every server out of rotation at once.
    #[error(
        "a batch of {batch} takes all {servers} application server(s) out of rotation at once: \
         requests would fail (use a smaller --batch, or add a server)"
    )]
    NoneLeftServing {
        /// The batch size.
        batch: usize,
        /// The servers.
        servers: usize,
    },
}

/// Plans deploying `request.version` to every app host of `topology`, each
/// running the release `running` names (a host it does not name runs
/// `v1`). Hosts already on the release are left alone.
pub fn plan(
    topology: &Topology,
    running: &BTreeMap<HostName, String>,
    request: &Request,
) -> Result<Plan, PlanError> {
    if !RELEASES.contains(&request.version.as_str()) {
        return Err(PlanError::UnknownRelease(request.version.clone()));
    }
    if request.batch == 0 {
        return Err(PlanError::EmptyBatch);
    }
    if !(request.pause_s.is_finite() && (0.0..=3600.0).contains(&request.pause_s)) {
        return Err(PlanError::BadPause);
    }
    let mut apps: Vec<&HostName> = topology
        .hosts
        .iter()
        .filter(|h| h.has(ComponentKind::App))
        .map(|h| &h.name)
        .collect();
    apps.sort();
    if apps.is_empty() {
        return Err(PlanError::NoApp);
    }
    if let Some(c) = &request.canary
        && !apps.contains(&c)
    {
        return Err(PlanError::CanaryNotAnApp(c.clone()));
    }
    let release = |h: &HostName| running.get(h).cloned().unwrap_or_else(|| "v1".to_owned());
    let previous: BTreeMap<HostName, String> =
        apps.iter().map(|h| ((*h).clone(), release(h))).collect();
    let (unchanged, mut changing): (Vec<HostName>, Vec<HostName>) = apps
        .iter()
        .map(|h| (*h).clone())
        .partition(|h| previous[h] == request.version);
    let mut batches = Vec::new();
    if let Some(c) = &request.canary
        && let Some(i) = changing.iter().position(|h| h == c)
    {
        let canary = changing.remove(i);
        batches.push(Batch {
            hosts: vec![canary],
            canary: true,
        });
    }
    batches.extend(changing.chunks(request.batch).map(|hosts| Batch {
        hosts: hosts.to_vec(),
        canary: false,
    }));
    // Every batch leaves at least one server answering (a single server
    // cannot be deployed without an outage).
    if batches.iter().any(|b| b.hosts.len() >= apps.len()) {
        return Err(PlanError::NoneLeftServing {
            batch: request.batch,
            servers: apps.len(),
        });
    }
    Ok(Plan {
        version: request.version.clone(),
        batches,
        previous,
        unchanged,
        pause_s: request.pause_s,
    })
}

impl Plan {
    /// What a rollback does after `done` batches completed and batch
    /// `done` (if any) failed part-way with `touched` of its hosts
    /// switched: each host switched so far, with the release it goes back
    /// to, in reverse order of deploy.
    pub fn rollback(&self, done: usize, touched: &[HostName]) -> Vec<(HostName, String)> {
        let mut hosts: Vec<&HostName> = self
            .batches
            .iter()
            .take(done)
            .flat_map(|b| b.hosts.iter())
            .collect();
        if let Some(failed) = self.batches.get(done) {
            hosts.extend(failed.hosts.iter().filter(|h| touched.contains(h)));
        }
        hosts
            .into_iter()
            .rev()
            .map(|h| (h.clone(), self.previous[h].clone()))
            .collect()
    }

    /// The plan in words, one line per batch.
    pub fn describe(&self) -> String {
        let mut lines: Vec<String> = self
            .batches
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let hosts: Vec<String> = b
                    .hosts
                    .iter()
                    .map(|h| format!("{h} ({} → {})", self.previous[h], self.version))
                    .collect();
                format!(
                    "{}. {}{}",
                    i + 1,
                    hosts.join(", "),
                    if b.canary {
                        format!(" — canary, watched {} s", self.pause_s)
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        if !self.unchanged.is_empty() {
            let names: Vec<String> = self.unchanged.iter().map(ToString::to_string).collect();
            lines.push(format!("already on {}: {}", self.version, names.join(", ")));
        }
        lines.join("\n")
    }
}

/// A rollback, for the report: why the deploy stopped, the hosts put
/// back with their release, and how long it took.
#[derive(Clone, Debug, PartialEq)]
pub struct RolledBack<'a> {
    /// Why the deploy stopped.
    pub why: &'a str,
    /// The hosts put back.
    pub hosts: &'a [(HostName, String)],
    /// How long the rollback took.
    pub took: Duration,
}

/// The deploy's report in Markdown: the plan, each batch's time, how it
/// ended.
pub fn markdown(
    lab: &str,
    plan: &Plan,
    took: &[Duration],
    rolled_back: Option<&RolledBack<'_>>,
    total: Duration,
) -> String {
    let mut o = format!("# Deploy of {} to lab {lab}\n\n", plan.version);
    o.push_str("| batch | hosts | took |\n|---|---|---|\n");
    for (i, b) in plan.batches.iter().enumerate() {
        let hosts: Vec<String> = b.hosts.iter().map(ToString::to_string).collect();
        let time = took.get(i).map_or_else(
            || "not run".to_owned(),
            |d| format!("{:.2} s", d.as_secs_f64()),
        );
        o.push_str(&format!(
            "| {} | {}{} | {time} |\n",
            i + 1,
            hosts.join(", "),
            if b.canary { " (canary)" } else { "" }
        ));
    }
    if !plan.unchanged.is_empty() {
        let names: Vec<String> = plan.unchanged.iter().map(ToString::to_string).collect();
        o.push_str(&format!(
            "\nAlready on {}: {}.\n",
            plan.version,
            names.join(", ")
        ));
    }
    match rolled_back {
        None => o.push_str(&format!(
            "\n**Completed** in {:.2} s: every application server runs {}.\n",
            total.as_secs_f64(),
            plan.version
        )),
        Some(r) => {
            let hosts: Vec<String> = r.hosts.iter().map(|(h, v)| format!("{h} → {v}")).collect();
            o.push_str(&format!(
                "\n**Rolled back** after {:.2} s: {}.\n\nRolled back in {:.2} s: {}.\n",
                total.as_secs_f64(),
                r.why,
                r.took.as_secs_f64(),
                if hosts.is_empty() {
                    "nothing had been switched".to_owned()
                } else {
                    hosts.join(", ")
                }
            ));
        }
    }
    o
}

/// Whether the canary may be followed by the rest.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Healthy: go on.
    Pass,
    /// Stop and roll back, with why.
    Fail(String),
}

/// The canary's verdict from what it served while watched: its health
/// check, and its failed requests against `max_error_percent` (with fewer
/// than `min_requests` answered, only the health check and any failure
/// count: a single failed request among few is enough to stop).
pub fn canary_verdict(
    healthy: bool,
    requests: u64,
    failed: u64,
    max_error_percent: f64,
    min_requests: u64,
) -> Verdict {
    if !healthy {
        return Verdict::Fail("its health check fails".to_owned());
    }
    if requests < min_requests {
        return if failed > 0 {
            Verdict::Fail(format!(
                "{failed} of only {requests} request(s) failed while it was watched"
            ))
        } else {
            Verdict::Pass
        };
    }
    let percent = 100.0 * failed as f64 / requests as f64;
    if percent > max_error_percent {
        Verdict::Fail(format!(
            "{failed} of {requests} requests failed ({percent:.1}%, above {max_error_percent}%)"
        ))
    } else {
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests;
