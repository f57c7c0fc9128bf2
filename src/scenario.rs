//! Scenario files: a versioned RON list of timed steps — start traffic,
//! wait, inject a fault, heal, promote — with expectations checked on the
//! way. `topolab scenario LAB FILE` runs one; the project ships one per
//! lesson of the reference design in `presets/scenarios/`.
//!
//! ```ron
//! (
//!     version: 1,
//!     name: "web-server-failure",
//!     description: "A web server dies under load; HAProxy takes it out of rotation.",
//!     steps: [
//!         say("50 reads per second, shared by web-01 and web-02."),
//!         traffic(rate: 50, writes: 0),
//!         wait(2.0),
//!         fault(target: "web-01/nginx", kind: "kill"),
//!         wait(3.0),
//!         expect(down_within(host: "web-01", seconds: 1.0)),
//!         expect(failed_percent_at_most(1.0)),
//!         heal(target: "web-01/nginx"),
//!     ],
//! )
//! ```
//!
//! Expectations (checked when reached; a failed one makes the run exit 1):
//! - `failed_at_most(N)`: at most N requests failed since the last fault or promotion.
//! - `failed_percent_at_most(P)`: at most P% of them failed.
//! - `slowed_at_most(S)`: requests were slowed for at most S seconds since it.
//! - `down_within(host: H, seconds: S)`: the load balancer (or, for a host no
//!   load balancer serves, the monitor) reported H down within S seconds of it.
//! - `up_within(host: H, seconds: S)`: H was back UP within S seconds of the last heal.
//! - `served_only_by(["web-02"])`: successful requests since one second after the
//!   last step that changed the lab went to these web servers only.
//! - `lost_writes(N)` / `lost_writes_at_least(N)` / `lost_writes_at_most(N)`:
//!   acknowledged writes missing from the current primary, found by the
//!   value each write carries ([`crate::consistency`]).
//! - `stale_reads_at_most(P)` / `stale_reads_at_least(P)`: at most (at
//!   least) P% of the read-your-writes probes (`traffic(..., read_back:
//!   true)`) sent since the last step that changed the lab missed the
//!   client's own write.
//! - `first_write_within(S)`: a write succeeded within S seconds of the last promotion.
//! - `knee_ratio_at_least(of: A, over: B, ratio: R)`: the knee of the
//!   `capacity` step labelled A is at least R times the knee of the one
//!   labelled B.
//! - `bottleneck_on(label: A, hosts: ["db-01"])`: where the ramp labelled A
//!   ran out, each of these hosts was at its CPU size.
//! - `deploy_completed` / `deploy_rolled_back`: how the last `deploy` ended.
//! - `every_app_runs("v2")`: every app server runs this release (the lab's
//!   record, and the last answer of each since the last change).
//! - `promoted_automatically_within(S)`: the orchestrator (running when the
//!   design's failover is automatic) promoted a replica within S seconds of
//!   the last fault.
//! - `writable_databases(N)`: exactly N databases take writes.
//! - `resolves_to(["lb-02"])`: every DNS server that answers now names
//!   exactly these entry points.
//! - `served_from_cache_for_at_most(S)`: after the last fault, clients went
//!   on from their cached DNS answers for at most S seconds.
//! - `vip_held_by("lb-02")`: every virtual IP this load balancer shares
//!   answers from it now.
//!
//! A `deploy(version: "v2", canary: "web-02", pause: 3.0)` step rolls a
//! release out (`topolab deploy`; `batch` and `max_errors` as there).
//!
//! In a design of regions, `region_fault(region: "a", kind: "region-outage")`
//! (or `"partition"`) acts on a whole region and `heal_region(region: "a")`
//! undoes it.
//!
//! A `capacity(label: "two servers", p95_ms: 50, writes: 0)` step ramps an
//! open-loop rate until p95 passes `p95_ms` or more than 1% of requests fail
//! (`topolab bench capacity`), and keeps its knee and bottleneck under its
//! label. It runs its own load, so no `traffic` may be running then.

use serde::Deserialize;

use crate::model::Subject;
use crate::protocol::{FaultKind, MAX_RATE, RegionFaultKind};

/// The scenario file format version this build reads.
pub const VERSION: u32 = 1;

/// A scenario shipped with topolab.
#[derive(Clone, Copy, Debug)]
pub struct Shipped {
    /// Its name.
    pub name: &'static str,
    /// The preset it is written for (the topology's name).
    pub design: &'static str,
    /// Its file's text.
    pub source: &'static str,
}

/// The scenarios in `presets/scenarios/`, one per lesson.
pub const SHIPPED: [Shipped; 24] = [
    Shipped {
        name: "web-server-failure",
        design: "reference",
        source: include_str!("../presets/scenarios/web-server-failure.scenario.ron"),
    },
    Shipped {
        name: "active-passive-failover",
        design: "active-passive",
        source: include_str!("../presets/scenarios/active-passive-failover.scenario.ron"),
    },
    Shipped {
        name: "primary-failure-promotion",
        design: "reference",
        source: include_str!("../presets/scenarios/primary-failure-promotion.scenario.ron"),
    },
    Shipped {
        name: "lag-and-lost-writes",
        design: "reference",
        source: include_str!("../presets/scenarios/lag-and-lost-writes.scenario.ron"),
    },
    Shipped {
        name: "semi-sync-keeps-writes",
        design: "semi-sync",
        source: include_str!("../presets/scenarios/semi-sync-keeps-writes.scenario.ron"),
    },
    Shipped {
        name: "planned-switchover",
        design: "reference",
        source: include_str!("../presets/scenarios/planned-switchover.scenario.ron"),
    },
    Shipped {
        name: "add-a-server",
        design: "small-web",
        source: include_str!("../presets/scenarios/add-a-server.scenario.ron"),
    },
    Shipped {
        name: "active-active-vs-active-passive",
        design: "small-web",
        source: include_str!("../presets/scenarios/active-active-vs-active-passive.scenario.ron"),
    },
    Shipped {
        name: "read-heavy-vs-write-heavy",
        design: "small-db",
        source: include_str!("../presets/scenarios/read-heavy-vs-write-heavy.scenario.ron"),
    },
    Shipped {
        name: "scale-out-under-load",
        design: "reference",
        source: include_str!("../presets/scenarios/scale-out-under-load.scenario.ron"),
    },
    Shipped {
        name: "switch-to-semi-sync",
        design: "reference",
        source: include_str!("../presets/scenarios/switch-to-semi-sync.scenario.ron"),
    },
    Shipped {
        name: "semi-sync-falls-back",
        design: "semi-sync",
        source: include_str!("../presets/scenarios/semi-sync-falls-back.scenario.ron"),
    },
    Shipped {
        name: "stale-reads-and-read-your-writes",
        design: "reference",
        source: include_str!("../presets/scenarios/stale-reads-and-read-your-writes.scenario.ron"),
    },
    Shipped {
        name: "rolling-deploy-under-load",
        design: "reference",
        source: include_str!("../presets/scenarios/rolling-deploy-under-load.scenario.ron"),
    },
    Shipped {
        name: "bad-release-rollback",
        design: "reference",
        source: include_str!("../presets/scenarios/bad-release-rollback.scenario.ron"),
    },
    Shipped {
        name: "orchestrated-failover",
        design: "reference",
        source: include_str!("../presets/scenarios/orchestrated-failover.scenario.ron"),
    },
    Shipped {
        name: "partitioned-primary-fenced",
        design: "reference",
        source: include_str!("../presets/scenarios/partitioned-primary-fenced.scenario.ron"),
    },
    Shipped {
        name: "dns-stops-naming-a-dead-lb",
        design: "dns",
        source: include_str!("../presets/scenarios/dns-stops-naming-a-dead-lb.scenario.ron"),
    },
    Shipped {
        name: "dns-outage-and-cached-answers",
        design: "dns",
        source: include_str!("../presets/scenarios/dns-outage-and-cached-answers.scenario.ron"),
    },
    Shipped {
        name: "stale-dns-record",
        design: "dns",
        source: include_str!("../presets/scenarios/stale-dns-record.scenario.ron"),
    },
    Shipped {
        name: "lb-dies-vip-moves",
        design: "vip",
        source: include_str!("../presets/scenarios/lb-dies-vip-moves.scenario.ron"),
    },
    Shipped {
        name: "region-a-goes-dark",
        design: "two-regions",
        source: include_str!("../presets/scenarios/region-a-goes-dark.scenario.ron"),
    },
    Shipped {
        name: "two-regions-lb-dies-vip-moves",
        design: "two-regions",
        source: include_str!("../presets/scenarios/two-regions-lb-dies-vip-moves.scenario.ron"),
    },
    Shipped {
        name: "two-regions-dns-server-dies",
        design: "two-regions",
        source: include_str!("../presets/scenarios/two-regions-dns-server-dies.scenario.ron"),
    },
];

/// The designs shipped beside the scenarios, for their `apply` steps:
/// (file name, text).
pub const DESIGNS: [(&str, &str); 5] = [
    (
        "reference-plus-web-03.topology.ron",
        include_str!("../presets/scenarios/reference-plus-web-03.topology.ron"),
    ),
    (
        "reference-semi-sync.topology.ron",
        include_str!("../presets/scenarios/reference-semi-sync.topology.ron"),
    ),
    (
        "dns-plain-records.topology.ron",
        include_str!("../presets/scenarios/dns-plain-records.topology.ron"),
    ),
    (
        "reference-read-your-writes.topology.ron",
        include_str!("../presets/scenarios/reference-read-your-writes.topology.ron"),
    ),
    (
        "reference-automatic-failover.topology.ron",
        include_str!("../presets/scenarios/reference-automatic-failover.topology.ron"),
    ),
];

/// A scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Scenario {
    /// Format version.
    pub version: u32,
    /// Its name.
    pub name: String,
    /// What it teaches.
    #[serde(default)]
    pub description: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The folder of the scenario's file, where its `apply` steps find
    /// their designs (none for a scenario given as text).
    #[serde(skip)]
    pub folder: Option<std::path::PathBuf>,
}

/// One step.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A line telling the learner what to expect next.
    Say(String),
    /// Start (or change) traffic: requests per second and percent writes.
    Traffic {
        /// Requests per second.
        rate: f64,
        /// Percent writes.
        #[serde(default)]
        writes: u8,
        /// Each acknowledged write is read back by its client (the
        /// read-your-writes probe).
        #[serde(default)]
        read_back: bool,
    },
    /// Stop the traffic.
    StopTraffic,
    /// Wait this many seconds.
    Wait(f64),
    /// Inject a fault (`topolab fault`).
    Fault {
        /// A host or HOST/KIND.
        target: Subject,
        /// A fault kind, e.g. `"kill"` (written as text, as on the command line).
        #[serde(deserialize_with = "from_text")]
        kind: FaultKind,
    },
    /// Heal a target's faults.
    Heal {
        /// A host or HOST/KIND.
        target: Subject,
    },
    /// Heal everything.
    HealAll,
    /// A fault on a whole region (`topolab fault LAB region-outage REGION`).
    RegionFault {
        /// The region.
        region: String,
        /// `"region-outage"` or `"partition"`.
        #[serde(deserialize_with = "from_text")]
        kind: RegionFaultKind,
    },
    /// Heal a region's faults, both kinds.
    HealRegion {
        /// The region.
        region: String,
    },
    /// Promote a replica.
    Promote {
        /// The replica (host or HOST/db).
        replica: Subject,
        /// A planned switchover.
        #[serde(default)]
        planned: bool,
        /// Go ahead even when writes would be lost.
        #[serde(default)]
        accept_loss: bool,
    },
    /// Ramp the rate to find the lab's knee (`topolab bench capacity`).
    Capacity(CapacityStep),
    /// Apply an edited design to the lab (`topolab apply`): one of the
    /// designs shipped beside the scenarios ([`DESIGNS`]), a file beside
    /// the scenario file, or a preset's name. Each action is measured.
    Apply {
        /// The design.
        file: String,
        /// Go ahead with destructive actions.
        #[serde(default)]
        yes: bool,
    },
    /// Roll a release out to the app servers (`topolab deploy`); the
    /// whole deploy is one incident of the report.
    Deploy {
        /// The release: v1, v2 or v2-broken.
        version: String,
        /// Hosts switched together.
        #[serde(default = "default_batch")]
        batch: usize,
        /// A host deployed first, alone, and watched.
        #[serde(default)]
        canary: Option<String>,
        /// Seconds the canary is watched.
        #[serde(default)]
        pause: f64,
        /// Failed requests (percent) above which the canary stops it.
        #[serde(default = "default_max_errors")]
        max_errors: f64,
    },
    /// Check an expectation.
    Expect(Expectation),
}

fn default_batch() -> usize {
    1
}

fn default_max_errors() -> f64 {
    1.0
}

/// A capacity ramp in a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CapacityStep {
    /// What expectations and the report call its result.
    pub label: String,
    /// The p95 latency target, milliseconds.
    #[serde(default = "default_p95_ms")]
    pub p95_ms: f64,
    /// Percent writes.
    #[serde(default)]
    pub writes: u8,
    /// The first step's rate, requests per second.
    #[serde(default = "default_start_rate")]
    pub start_rate: f64,
    /// Seconds each step sends.
    #[serde(default = "default_step_seconds")]
    pub step_seconds: f64,
}

fn default_p95_ms() -> f64 {
    50.0
}

fn default_start_rate() -> f64 {
    50.0
}

fn default_step_seconds() -> f64 {
    3.0
}

/// A value written as text in the file, read by its `FromStr`, so the file
/// says `kind: "stop-replication"` as the command line does.
fn from_text<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// What a scenario expects; see the module documentation.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// At most N failed requests.
    FailedAtMost(u64),
    /// At most P% failed requests.
    FailedPercentAtMost(f64),
    /// Slowed for at most S seconds.
    SlowedAtMost(f64),
    /// Reported down within S seconds.
    DownWithin {
        /// The host.
        host: String,
        /// Seconds.
        seconds: f64,
    },
    /// Back UP within S seconds of the last heal.
    UpWithin {
        /// The host.
        host: String,
        /// Seconds.
        seconds: f64,
    },
    /// Only these web servers served.
    ServedOnlyBy(Vec<String>),
    /// Exactly N acknowledged writes lost.
    LostWrites(u64),
    /// At least N acknowledged writes lost.
    LostWritesAtLeast(u64),
    /// At most N acknowledged writes lost.
    LostWritesAtMost(u64),
    /// At most P% of read-your-writes probes stale.
    StaleReadsAtMost(f64),
    /// At least P% of read-your-writes probes stale.
    StaleReadsAtLeast(f64),
    /// A write succeeded within S seconds of the last promotion.
    FirstWriteWithin(f64),
    /// One capacity step's knee against another's.
    KneeRatioAtLeast {
        /// The label of the larger knee.
        of: String,
        /// The label it is compared with.
        over: String,
        /// The least ratio.
        ratio: f64,
    },
    /// Where a capacity step ran out, these hosts were at their CPU size.
    BottleneckOn {
        /// The capacity step's label.
        label: String,
        /// The hosts.
        hosts: Vec<String>,
    },
    /// The last deploy completed.
    DeployCompleted,
    /// The last deploy was stopped and rolled back.
    DeployRolledBack,
    /// Every app server runs this release: the lab's record says so, and
    /// the last request each answered since the last change carried it.
    EveryAppRuns(String),
    /// The orchestrator promoted a replica by itself within S seconds of
    /// the last fault.
    PromotedAutomaticallyWithin(f64),
    /// Exactly N databases take writes (`read_only` off): never two
    /// primaries.
    WritableDatabases(u32),
    /// Asked now, every DNS server that answers names exactly these entry
    /// points for the site's name.
    ResolvesTo(Vec<String>),
    /// After the last fault, requests went on (their clients' cached
    /// answers) for at most S seconds, then failed for want of DNS.
    ServedFromCacheForAtMost(f64),
    /// Asked now, every virtual IP that H shares answers from H.
    VipHeldBy(String),
}

impl std::fmt::Display for Expectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::FailedAtMost(n) => write!(f, "at most {n} failed request(s)"),
            Self::FailedPercentAtMost(p) => write!(f, "at most {p}% failed requests"),
            Self::SlowedAtMost(s) => write!(f, "requests slowed for at most {s} s"),
            Self::DownWithin { host, seconds } => {
                write!(f, "{host} reported down within {seconds} s")
            }
            Self::UpWithin { host, seconds } => write!(f, "{host} back UP within {seconds} s"),
            Self::ServedOnlyBy(hosts) => write!(f, "served only by {}", hosts.join(", ")),
            Self::LostWrites(n) => write!(f, "exactly {n} acknowledged write(s) lost"),
            Self::LostWritesAtLeast(n) => write!(f, "at least {n} acknowledged write(s) lost"),
            Self::LostWritesAtMost(n) => write!(f, "at most {n} acknowledged write(s) lost"),
            Self::StaleReadsAtMost(p) => write!(f, "at most {p}% stale reads"),
            Self::StaleReadsAtLeast(p) => write!(f, "at least {p}% stale reads"),
            Self::FirstWriteWithin(s) => {
                write!(f, "a write succeeds within {s} s of the promotion")
            }
            Self::KneeRatioAtLeast { of, over, ratio } => {
                write!(
                    f,
                    "the knee with {of} is at least {ratio}× the knee with {over}"
                )
            }
            Self::BottleneckOn { label, hosts } => {
                write!(f, "with {label}, {} ran out of CPU", hosts.join(" and "))
            }
            Self::DeployCompleted => f.write_str("the deploy completed"),
            Self::DeployRolledBack => f.write_str("the deploy was rolled back"),
            Self::EveryAppRuns(v) => write!(f, "every app server runs {v}"),
            Self::PromotedAutomaticallyWithin(s) => write!(
                f,
                "a replica was promoted automatically within {s} s of the fault"
            ),
            Self::WritableDatabases(n) => write!(f, "exactly {n} writable database(s)"),
            Self::ResolvesTo(hosts) => {
                write!(f, "the site's name resolves to {}", hosts.join(", "))
            }
            Self::ServedFromCacheForAtMost(s) => write!(
                f,
                "clients went on from their cached answers for at most {s} s, then could not resolve"
            ),
            Self::VipHeldBy(host) => write!(f, "{host} holds its virtual IP"),
        }
    }
}

/// Parses a scenario; errors name the line and column, or the version.
pub fn parse(text: &str) -> Result<Scenario, String> {
    let options =
        // `capacity(label: "a")`, not `capacity(label: "a")`.
        ron::Options::default().with_default_extension(
            ron::extensions::Extensions::IMPLICIT_SOME
                | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES,
        );
    let scenario: Scenario = options.from_str(text).map_err(|e| {
        format!(
            "line {}, column {}: {}",
            e.span.start.line, e.span.start.col, e.code
        )
    })?;
    if scenario.version != VERSION {
        return Err(format!(
            "scenario format version {} is not supported (this topolab reads version {VERSION})",
            scenario.version
        ));
    }
    check_steps(&scenario.steps)?;
    Ok(scenario)
}

/// The checks that need more than one step at a time: values in range, a
/// capacity ramp never while traffic runs, labels unique and defined before
/// an expectation uses them.
fn check_steps(steps: &[Step]) -> Result<(), String> {
    let mut traffic = false;
    let mut labels: Vec<&str> = Vec::new();
    let known = |labels: &[&str], label: &str| {
        if labels.contains(&label) {
            Ok(())
        } else {
            Err(format!(
                "no capacity step before this expectation is labelled \"{label}\""
            ))
        }
    };
    for step in steps {
        match step {
            Step::Traffic { rate, writes, .. } => {
                if !(*rate > 0.0 && *rate <= MAX_RATE) || *writes > 100 {
                    return Err(format!(
                        "traffic(rate: {rate}, writes: {writes}): rate must be in (0, {MAX_RATE}] and writes in 0..=100"
                    ));
                }
                traffic = true;
            }
            Step::StopTraffic => traffic = false,
            Step::Wait(s) if !(s.is_finite() && *s >= 0.0 && *s <= 3600.0) => {
                return Err(format!("wait({s}): seconds must be between 0 and 3600"));
            }
            Step::Capacity(c) => {
                let label = &c.label;
                if traffic {
                    return Err(format!(
                        "capacity(label: \"{label}\") runs its own load: add stop_traffic before it"
                    ));
                }
                if labels.contains(&label.as_str()) {
                    return Err(format!("two capacity steps are labelled \"{label}\""));
                }
                if !(c.p95_ms > 0.0 && c.p95_ms <= 10_000.0) {
                    return Err(format!(
                        "capacity(label: \"{label}\"): p95_ms must be in (0, 10000]"
                    ));
                }
                if c.writes > 100 {
                    return Err(format!(
                        "capacity(label: \"{label}\"): writes must be in 0..=100"
                    ));
                }
                if !(c.start_rate > 0.0 && c.start_rate <= MAX_RATE) {
                    return Err(format!(
                        "capacity(label: \"{label}\"): start_rate must be in (0, {MAX_RATE}]"
                    ));
                }
                if !(c.step_seconds >= 1.0 && c.step_seconds <= 60.0) {
                    return Err(format!(
                        "capacity(label: \"{label}\"): step_seconds must be between 1 and 60"
                    ));
                }
                labels.push(label);
            }
            Step::Expect(Expectation::KneeRatioAtLeast { of, over, ratio }) => {
                known(&labels, of)?;
                known(&labels, over)?;
                if !(ratio.is_finite() && *ratio > 0.0) {
                    return Err(format!(
                        "knee_ratio_at_least: ratio {ratio} must be above 0"
                    ));
                }
            }
            Step::Expect(Expectation::StaleReadsAtMost(p) | Expectation::StaleReadsAtLeast(p))
                if !(0.0..=100.0).contains(p) =>
            {
                return Err(format!(
                    "stale_reads_at_most({p}): a percentage from 0 to 100"
                ));
            }
            Step::Deploy {
                version,
                batch,
                pause,
                max_errors,
                ..
            } => {
                if !crate::model::RELEASES.contains(&version.as_str()) {
                    return Err(format!(
                        "deploy(version: \"{version}\"): topolab ships {}",
                        crate::model::RELEASES.join(", ")
                    ));
                }
                if *batch == 0 || !(pause.is_finite() && (0.0..=3600.0).contains(pause)) {
                    return Err(format!(
                        "deploy(batch: {batch}, pause: {pause}): batch at least 1, pause 0 to 3600 s"
                    ));
                }
                if !(max_errors.is_finite() && (0.0..=100.0).contains(max_errors)) {
                    return Err(format!(
                        "deploy(max_errors: {max_errors}): a percentage from 0 to 100"
                    ));
                }
            }
            Step::Expect(Expectation::BottleneckOn { label, hosts }) => {
                known(&labels, label)?;
                if hosts.is_empty() {
                    return Err("bottleneck_on: name at least one host".to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_scenarios_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("scenarios folder") {
            let path = entry.expect("entry").path();
            if path.to_string_lossy().ends_with(".scenario.ron") {
                let text = std::fs::read_to_string(&path).expect("read");
                let s = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(!s.steps.is_empty());
                n += 1;
            }
        }
        assert_eq!(n, SHIPPED.len(), "one scenario per lesson, each shipped");
        for shipped in SHIPPED {
            let s = parse(shipped.source).expect("embedded scenario");
            assert_eq!(s.name, shipped.name);
        }
    }

    #[test]
    fn each_scenario_names_a_preset() {
        for shipped in SHIPPED {
            let preset = crate::preset::Preset::find(shipped.design)
                .unwrap_or_else(|| panic!("{}: no preset {}", shipped.name, shipped.design));
            let t = preset.topology().expect("presets are valid");
            assert_eq!(t.name, shipped.design);
        }
    }

    #[test]
    fn bad_scenarios_say_what_is_wrong() {
        let e = parse("(version: 2, name: \"x\", steps: [])").expect_err("version");
        assert!(e.contains("version 2"), "{e}");
        let e = parse(
            "(version: 1, name: \"x\", steps: [fault(target: \"web-01\", kind: \"explode\")])",
        )
        .expect_err("kind");
        assert!(e.contains("unknown fault"), "{e}");
        let e = parse("(version: 1, name: \"x\", steps: [jump(3)])").expect_err("step");
        assert!(e.contains("line 1"), "{e}");
        let e =
            parse("(version: 1, name: \"x\", steps: [traffic(rate: 50000)])").expect_err("rate");
        assert!(e.contains("rate"), "{e}");
    }

    #[test]
    fn capacity_steps_are_checked_against_each_other() {
        let ok = parse(
            r#"(version: 1, name: "x", steps: [
                capacity(label: "two"),
                capacity(label: "three", p95_ms: 30, writes: 10),
                expect(knee_ratio_at_least(of: "three", over: "two", ratio: 1.2)),
                expect(bottleneck_on(label: "two", hosts: ["web-01"])),
            ])"#,
        )
        .expect("valid");
        assert_eq!(
            ok.steps[0],
            Step::Capacity(CapacityStep {
                label: "two".to_owned(),
                p95_ms: 50.0,
                writes: 0,
                start_rate: 50.0,
                step_seconds: 3.0,
            })
        );
        let bad = |steps: &str| {
            parse(&format!("(version: 1, name: \"x\", steps: [{steps}])")).expect_err(steps)
        };
        let e = bad(r#"traffic(rate: 10), capacity(label: "a")"#);
        assert!(e.contains("stop_traffic"), "{e}");
        // Stopped first, it is fine.
        parse(r#"(version: 1, name: "x", steps: [traffic(rate: 10), stop_traffic, capacity(label: "a")])"#)
            .expect("stopped first");
        let e = bad(r#"capacity(label: "a"), capacity(label: "a")"#);
        assert!(e.contains("two capacity steps"), "{e}");
        let e =
            bad(r#"expect(bottleneck_on(label: "a", hosts: ["web-01"])), capacity(label: "a")"#);
        assert!(e.contains("labelled \"a\""), "{e}");
        let e = bad(
            r#"capacity(label: "a"), expect(knee_ratio_at_least(of: "a", over: "b", ratio: 1.5))"#,
        );
        assert!(e.contains("labelled \"b\""), "{e}");
        let e = bad(r#"capacity(label: "a", step_seconds: 0.5)"#);
        assert!(e.contains("step_seconds"), "{e}");
        let e = bad(r#"capacity(label: "a", p95_ms: -1)"#);
        assert!(e.contains("p95_ms"), "{e}");
        let e = bad(r#"capacity(label: "a"), expect(bottleneck_on(label: "a", hosts: []))"#);
        assert!(e.contains("at least one host"), "{e}");
    }
}
