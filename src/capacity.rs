//! Capacity, as `topolab bench capacity` measures it: a ramp of open-loop
//! rates, the knee (the highest rate served within the latency and error
//! targets), and the bottleneck named from each container's CPU against its
//! host's size. Pure: the lab runs the steps, this module judges them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::live::RequestTrace;
use crate::model::{HostName, HostSize, cpus_text};

/// A host at this share of its CPU budget or more is saturated.
pub const SATURATED: f64 = 0.85;
/// A host whose quota ran out in this share of the CPU periods or more is
/// saturated too: requests that arrive after its quota is spent wait for
/// the next period, so latency climbs before the average use reaches the
/// whole budget (the smaller the budget, the sooner).
pub const THROTTLED: f64 = 0.2;
/// The machine at this share of its CPU or more is the limit itself.
pub const MACHINE_SATURATED: f64 = 0.9;
/// A step whose answers fall this far behind the rate asked for did not
/// sustain it.
pub const SUSTAINED: f64 = 0.9;
/// A step that missed the targets while the hypervisor took at least this
/// share of the machine's CPU time (steal time: the machine's own CPUs
/// were ready to run but the host ran something else) is in doubt: on a
/// shared virtual machine such bursts stall every process of the lab
/// alike, and a knee measured through them can be half the real one. The
/// ramp sets such a step aside and measures its rate again.
pub const STOLEN_LIMIT: f64 = 0.03;

/// The column heads of [`Step::line`].
pub const STEP_HEADER: &str =
    "     rate  answered   p50 ms   p95 ms   p99 ms  errors  machine  stolen  verdict";

/// What a step must meet to count as served.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Targets {
    /// The 95th percentile latency, milliseconds.
    pub p95_ms: f64,
    /// The share of requests that may fail (0.01 is 1%).
    pub max_errors: f64,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            p95_ms: 50.0,
            max_errors: 0.01,
        }
    }
}

/// CPU a container used during a step.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerCpu {
    /// Its host.
    pub host: HostName,
    /// What it is on the host (`app`, `db`, `nginx`, `lb`, ...).
    pub part: String,
    /// Cores used on average (0.5 is half a core).
    pub cores: f64,
}

/// One step of the ramp.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    /// The rate asked for, requests per second.
    pub offered: f64,
    /// Requests answered per second (successfully or not).
    pub answered: f64,
    /// Requests sent.
    pub requests: u64,
    /// Requests that failed (no answer, or an error status).
    pub errors: u64,
    /// Latency percentiles, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// CPU per container.
    pub cpu: Vec<ContainerCpu>,
    /// The machine's CPU in use, as a share of all its cores (None: not
    /// measured, e.g. a remote engine). Time the hypervisor took counts as
    /// in use: the lab could not have it.
    pub machine_busy: Option<f64>,
    /// The share of the machine's CPU time the hypervisor took for other
    /// guests during the step (None: not measured).
    pub stolen: Option<f64>,
    /// Set aside: the step missed the targets while the hypervisor took
    /// [`STOLEN_LIMIT`] or more of the machine, and its rate was measured
    /// again. It counts neither for the knee nor for the bottleneck.
    pub set_aside: bool,
    /// Per host, the share of the kernel's CPU periods (100 ms) in which
    /// its quota ran out and its processes had to wait for the next one.
    pub throttled: BTreeMap<HostName, f64>,
}

impl Step {
    /// A step's numbers from the requests it sent over `seconds`.
    pub fn from_traces(offered: f64, seconds: f64, traces: &[RequestTrace]) -> Self {
        let mut latencies: Vec<f64> = traces.iter().map(|t| f64::from(t.latency_ms)).collect();
        latencies.sort_by(f64::total_cmp);
        let errors = traces.iter().filter(|t| !t.ok()).count() as u64;
        Self {
            offered,
            answered: if seconds > 0.0 {
                traces.len() as f64 / seconds
            } else {
                0.0
            },
            requests: traces.len() as u64,
            errors,
            p50_ms: percentile(&latencies, 0.50),
            p95_ms: percentile(&latencies, 0.95),
            p99_ms: percentile(&latencies, 0.99),
            ..Self::default()
        }
    }

    /// The share of requests that failed.
    pub fn error_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    /// "served", or why the step missed the targets (and, when it was set
    /// aside, why).
    pub fn verdict(&self, targets: Targets) -> String {
        let verdict = self.missed(targets).unwrap_or_else(|| "served".to_owned());
        if self.set_aside {
            format!(
                "{verdict}; set aside, measured again: the hypervisor took {} of the machine's CPU",
                self.stolen.map_or("-".to_owned(), percent)
            )
        } else {
            verdict
        }
    }

    /// Whether the step missed the targets on latency or rate (not on
    /// errors) while the hypervisor took [`STOLEN_LIMIT`] or more of the
    /// machine: a miss that may say more about the machine's neighbours
    /// than about the lab.
    pub fn disturbed(&self, targets: Targets) -> bool {
        self.missed(targets).is_some()
            && self.error_ratio() <= targets.max_errors
            && self.stolen.is_some_and(|s| s >= STOLEN_LIMIT)
    }

    /// The step as one fixed-width line under [`STEP_HEADER`].
    pub fn line(&self, targets: Targets) -> String {
        format!(
            "{:>9.0} {:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>6.2}% {:>8} {:>7}  {}",
            self.offered,
            self.answered,
            self.p50_ms,
            self.p95_ms,
            self.p99_ms,
            self.error_ratio() * 100.0,
            self.machine_busy.map_or("-".to_owned(), percent),
            self.stolen.map_or("-".to_owned(), percent),
            self.verdict(targets)
        )
    }

    /// Why the step missed the targets, or `None` when it met them.
    pub fn missed(&self, targets: Targets) -> Option<String> {
        if self.requests == 0 {
            return Some("no request was answered".to_owned());
        }
        if self.error_ratio() > targets.max_errors {
            return Some(format!(
                "{:.1}% of requests failed (target {:.1}%)",
                self.error_ratio() * 100.0,
                targets.max_errors * 100.0
            ));
        }
        if self.p95_ms > targets.p95_ms {
            return Some(format!(
                "p95 {:.1} ms (target {} ms)",
                self.p95_ms, targets.p95_ms
            ));
        }
        if self.answered < self.offered * SUSTAINED {
            return Some(format!(
                "only {:.0} of {:.0} req/s answered",
                self.answered, self.offered
            ));
        }
        None
    }
}

/// The `q` quantile of sorted values (nearest rank); 0 when empty.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The index of the knee: the highest-rate step that met the targets
/// (steps set aside do not count).
pub fn knee(steps: &[Step], targets: Targets) -> Option<usize> {
    steps
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.set_aside && s.missed(targets).is_none())
        .max_by(|(_, a), (_, b)| a.offered.total_cmp(&b.offered))
        .map(|(i, _)| i)
}

/// The step that shows the bottleneck: the lowest rate above the knee that
/// missed the targets (where something ran out) on a quiet machine, else
/// the lowest that missed at all, else the knee itself.
pub fn saturated_step(steps: &[Step], targets: Targets) -> Option<&Step> {
    let k = &steps[knee(steps, targets)?];
    let misses = misses_above(steps, targets, k.offered);
    misses
        .iter()
        .find(|s| !s.disturbed(targets))
        .or(misses.first())
        .copied()
        .or(Some(k))
}

/// The counted steps above `rate` that missed the targets, lowest first.
fn misses_above(steps: &[Step], targets: Targets, rate: f64) -> Vec<&Step> {
    let mut misses: Vec<&Step> = steps
        .iter()
        .filter(|s| !s.set_aside && s.offered > rate && s.missed(targets).is_some())
        .collect();
    misses.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    misses
}

/// The step a ramp's knee rests on, when the hypervisor spoiled it: the
/// lowest counted step above the knee (or, with no knee, the lowest
/// counted step) missed the targets while it took [`STOLEN_LIMIT`] or more
/// of the machine, after the ramp had run out of steps to set aside, and
/// no miss on a quiet machine bounds the knee within a fine step
/// ([`FINE`]) of it. The lab's knee may then be well above the one
/// measured: a verdict that rests on it is in doubt.
pub fn in_doubt(steps: &[Step], targets: Targets) -> Option<&Step> {
    let Some(k) = knee(steps, targets) else {
        return steps
            .iter()
            .filter(|s| !s.set_aside)
            .min_by(|a, b| a.offered.total_cmp(&b.offered))
            .filter(|s| s.disturbed(targets));
    };
    let rate = steps[k].offered;
    let misses = misses_above(steps, targets, rate);
    let lowest = *misses.first()?;
    let bounded = misses
        .iter()
        .any(|s| !s.disturbed(targets) && s.offered <= rate * FINE);
    (lowest.disturbed(targets) && !bounded).then_some(lowest)
}

/// The highest the lab's knee can be, by this ramp: the lowest rate above
/// the knee that missed the targets on a quiet machine (`None`: no such
/// step, the ramp sets no bound).
pub fn quiet_bound(steps: &[Step], targets: Targets) -> Option<f64> {
    let rate = knee(steps, targets).map_or(0.0, |k| steps[k].offered);
    misses_above(steps, targets, rate)
        .into_iter()
        .find(|s| !s.disturbed(targets))
        .map(|s| s.offered)
}

/// Why a ramp is in doubt, in words (see [`in_doubt`]).
pub fn doubt(step: &Step) -> String {
    format!(
        "in doubt: the hypervisor took {} of the machine's CPU during the step at {:.0} req/s \
         that the ramp's result rests on (measure again when the machine is quieter)",
        step.stolen.map_or("-".to_owned(), percent),
        step.offered
    )
}

/// The finer factor between two rates of the ramp, used near the target.
pub const FINE: f64 = 1.15;

/// The next rate of the ramp after `rate` met the targets: geometric
/// steps while far from the limit, finer ones once p95 has used up half
/// the target.
pub fn next_rate(step: &Step, targets: Targets) -> f64 {
    let factor = if step.p95_ms > targets.p95_ms / 2.0 || step.error_ratio() > 0.0 {
        FINE
    } else {
        1.4
    };
    (step.offered * factor).round()
}

/// One host's CPU during a step.
#[derive(Clone, Debug, PartialEq)]
pub struct HostCpu {
    /// The host.
    pub host: HostName,
    /// Its size's CPUs.
    pub budget: f64,
    /// Cores its containers used together.
    pub used: f64,
    /// Its containers, the busiest first.
    pub parts: Vec<(String, f64)>,
}

impl HostCpu {
    /// Used / budget.
    pub fn share(&self) -> f64 {
        if self.budget > 0.0 {
            self.used / self.budget
        } else {
            0.0
        }
    }
}

/// Each host's CPU against its size, the busiest (by share) first.
pub fn host_cpu(cpu: &[ContainerCpu], sizes: &BTreeMap<HostName, HostSize>) -> Vec<HostCpu> {
    let mut by_host: BTreeMap<&HostName, Vec<(String, f64)>> = BTreeMap::new();
    for c in cpu {
        by_host
            .entry(&c.host)
            .or_default()
            .push((c.part.clone(), c.cores));
    }
    let mut hosts: Vec<HostCpu> = by_host
        .into_iter()
        .filter_map(|(host, mut parts)| {
            let budget = sizes.get(host)?.cpus;
            parts.sort_by(|a, b| b.1.total_cmp(&a.1));
            Some(HostCpu {
                host: host.clone(),
                budget,
                used: parts.iter().map(|(_, c)| c).sum(),
                parts,
            })
        })
        .collect();
    hosts.sort_by(|a, b| b.share().total_cmp(&a.share()).then(a.host.cmp(&b.host)));
    hosts
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// "a", "a and b", "a, b and c".
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn group_name(part: &str) -> &str {
    match part {
        "lb" => "the load balancers",
        "nginx" => "Nginx",
        "app" => "the apps",
        "db" => "the databases",
        "exporter" => "the exporters",
        other => other,
    }
}

/// Whether a host ran out of CPU in a step: it used most of its size, or
/// its quota ran out in enough of the kernel's periods.
fn is_saturated(step: &Step, host: &HostCpu) -> bool {
    host.share() >= SATURATED || step.throttled.get(&host.host).copied().unwrap_or(0.0) >= THROTTLED
}

/// The hosts that ran out of CPU in a step, the busiest first.
pub fn saturated_hosts(step: &Step, sizes: &BTreeMap<HostName, HostSize>) -> Vec<HostName> {
    host_cpu(&step.cpu, sizes)
        .into_iter()
        .filter(|h| is_saturated(step, h))
        .map(|h| h.host)
        .collect()
}

/// The bottleneck of a step in words: the saturated hosts and what in them
/// uses the CPU, then everything else by kind; or the machine itself when
/// no host is at its size but the machine's CPU is used up.
pub fn bottleneck(step: &Step, sizes: &BTreeMap<HostName, HostSize>) -> String {
    let hosts = host_cpu(&step.cpu, sizes);
    let throttled = |h: &HostCpu| step.throttled.get(&h.host).copied().unwrap_or(0.0);
    let saturated: Vec<&HostCpu> = hosts.iter().filter(|h| is_saturated(step, h)).collect();
    let mut text = String::new();
    if saturated.is_empty() {
        if let Some(busiest) = hosts.first() {
            let _ = write!(
                text,
                "the busiest host, {}, is at {} of its {} CPU; ",
                busiest.host,
                percent(busiest.share()),
                cpus_text(busiest.budget)
            );
        }
        match step.machine_busy {
            Some(busy) if busy >= MACHINE_SATURATED => {
                let _ = write!(
                    text,
                    "no host is at its CPU size; the machine itself is at {} of its CPU \
                     (the lab and the load generator share it): the machine is the limit",
                    percent(busy)
                );
            }
            _ => text.push_str(
                "no host is at its CPU size and the machine has CPU to spare: \
                 the limit is latency or waiting (a database, a lock, a timeout), not CPU",
            ),
        }
    } else {
        // Group the saturated hosts by their busiest part and budget, so
        // that twins read as one: "web-01/app and web-02/app at 97% ...".
        let mut groups: BTreeMap<(String, String), Vec<&HostCpu>> = BTreeMap::new();
        for h in &saturated {
            let part = h.parts.first().map(|p| p.0.clone()).unwrap_or_default();
            groups
                .entry((part, cpus_text(h.budget)))
                .or_default()
                .push(h);
        }
        let mut phrases = Vec::new();
        for ((part, budget), hs) in &groups {
            let names: Vec<String> = hs.iter().map(|h| format!("{}/{part}", h.host)).collect();
            let top = hs.iter().map(|h| h.share()).fold(0.0, f64::max);
            let whose = if hs.len() == 1 {
                "its host's"
            } else {
                "their hosts'"
            };
            let throttle = hs.iter().map(|h| throttled(h)).fold(0.0, f64::max);
            let mut phrase = format!(
                "{} at {} of {whose} {budget} CPU",
                list(&names),
                percent(top)
            );
            if throttle >= THROTTLED {
                let _ = write!(
                    phrase,
                    ", throttled in {} of CPU periods",
                    percent(throttle)
                );
            }
            phrases.push(phrase);
        }
        let _ = write!(text, "{}", list(&phrases));
    }
    // Everything else, by kind: the highest share of its host's budget.
    let bottleneck_parts: Vec<(HostName, String)> = saturated
        .iter()
        .filter_map(|h| Some((h.host.clone(), h.parts.first()?.0.clone())))
        .collect();
    let mut others: BTreeMap<String, f64> = BTreeMap::new();
    for h in &hosts {
        for (part, cores) in &h.parts {
            if bottleneck_parts.contains(&(h.host.clone(), part.clone())) {
                continue;
            }
            let share = if h.budget > 0.0 {
                cores / h.budget
            } else {
                0.0
            };
            let e = others.entry(part.clone()).or_insert(0.0);
            *e = e.max(share);
        }
    }
    let mut others: Vec<(String, f64)> = others.into_iter().collect();
    others.sort_by(|a, b| b.1.total_cmp(&a.1));
    let rest: Vec<String> = others
        .iter()
        .filter(|(_, s)| *s >= 0.01)
        .map(|(part, share)| format!("{} at {}", group_name(part), percent(*share)))
        .collect();
    if !rest.is_empty() && !saturated.is_empty() {
        let _ = write!(text, "; {}", list(&rest));
    }
    text
}

/// Each host's CPU against its size in one line, the busiest first:
/// "web-01 42% of 0.05 CPU, lb-01 6% of 0.5 CPU".
pub fn cpu_summary(step: &Step, sizes: &BTreeMap<HostName, HostSize>) -> String {
    let hosts: Vec<String> = host_cpu(&step.cpu, sizes)
        .iter()
        .map(|h| {
            format!(
                "{} {} of {} CPU",
                h.host,
                percent(h.share()),
                cpus_text(h.budget)
            )
        })
        .collect();
    hosts.join(", ")
}

/// The knee and the bottleneck in one line.
pub fn summary(steps: &[Step], targets: Targets, sizes: &BTreeMap<HostName, HostSize>) -> String {
    let line = match (knee(steps, targets), saturated_step(steps, targets)) {
        (Some(k), Some(past)) => format!(
            "knee {:.0} req/s (p95 {:.1} ms); bottleneck at {:.0} req/s: {}",
            steps[k].offered,
            steps[k].p95_ms,
            past.offered,
            bottleneck(past, sizes)
        ),
        _ => "no knee: no step met the targets".to_owned(),
    };
    match in_doubt(steps, targets) {
        Some(step) => format!("{line}; {}", doubt(step)),
        None => line,
    }
}

/// A ramp's results as a Markdown report.
pub fn report(
    lab: &str,
    steps: &[Step],
    targets: Targets,
    sizes: &BTreeMap<HostName, HostSize>,
    writes_percent: u8,
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Capacity of lab {lab}\n");
    let _ = writeln!(
        o,
        "Open-loop ramp, {writes_percent}% writes; a step is served when p95 ≤ {} ms, \
         at most {:.1}% of requests fail and at least {:.0}% of the rate is answered.\n",
        targets.p95_ms,
        targets.max_errors * 100.0,
        SUSTAINED * 100.0
    );
    let _ = writeln!(
        o,
        "| rate (req/s) | answered | p50 ms | p95 ms | p99 ms | errors | machine CPU | stolen | verdict |"
    );
    let _ = writeln!(o, "|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut by_rate: Vec<&Step> = steps.iter().collect();
    by_rate.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    for s in by_rate {
        let _ = writeln!(
            o,
            "| {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.2}% | {} | {} | {} |",
            s.offered,
            s.answered,
            s.p50_ms,
            s.p95_ms,
            s.p99_ms,
            s.error_ratio() * 100.0,
            s.machine_busy.map_or("-".to_owned(), percent),
            s.stolen.map_or("-".to_owned(), percent),
            s.verdict(targets)
        );
    }
    let _ = writeln!(o);
    match knee(steps, targets) {
        Some(k) => {
            let s = &steps[k];
            let _ = writeln!(
                o,
                "**Knee: {:.0} req/s** (p95 {:.1} ms, {:.2}% errors).\n",
                s.offered,
                s.p95_ms,
                s.error_ratio() * 100.0
            );
            if let Some(past) = saturated_step(steps, targets) {
                let _ = writeln!(
                    o,
                    "**Bottleneck** (at {:.0} req/s): {}.\n",
                    past.offered,
                    bottleneck(past, sizes)
                );
            }
            let _ = writeln!(o, "CPU at the knee, against each host's size:\n");
            let _ = writeln!(o, "| host | size | used | share | by container |");
            let _ = writeln!(o, "|---|---:|---:|---:|---|");
            for h in host_cpu(&s.cpu, sizes) {
                let parts: Vec<String> =
                    h.parts.iter().map(|(p, c)| format!("{p} {c:.2}")).collect();
                let _ = writeln!(
                    o,
                    "| {} | {} CPU | {:.2} | {} | {} |",
                    h.host,
                    cpus_text(h.budget),
                    h.used,
                    percent(h.share()),
                    parts.join(", ")
                );
            }
        }
        None => {
            let _ = writeln!(
                o,
                "**No knee:** no step met the targets (the first: {}).",
                steps
                    .first()
                    .and_then(|s| s.missed(targets))
                    .unwrap_or_else(|| "no step ran".to_owned())
            );
        }
    }
    if let Some(step) = in_doubt(steps, targets) {
        let _ = writeln!(o, "\n**In doubt:** {}.", doubt(step));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(cpus: f64) -> HostSize {
        HostSize {
            cpus,
            memory_mib: 1024,
        }
    }

    fn cpu(host: &str, part: &str, cores: f64) -> ContainerCpu {
        ContainerCpu {
            host: HostName::new(host),
            part: part.to_owned(),
            cores,
        }
    }

    fn step(offered: f64, p95_ms: f64, errors: u64) -> Step {
        Step {
            offered,
            answered: offered,
            requests: 1000,
            errors,
            p50_ms: p95_ms / 3.0,
            p95_ms,
            p99_ms: p95_ms * 1.5,
            ..Step::default()
        }
    }

    fn reference_sizes(web: f64) -> BTreeMap<HostName, HostSize> {
        BTreeMap::from([
            (HostName::new("lb-01"), size(0.5)),
            (HostName::new("web-01"), size(web)),
            (HostName::new("web-02"), size(web)),
        ])
    }

    #[test]
    fn the_knee_is_the_highest_rate_within_the_targets() {
        let targets = Targets {
            p95_ms: 50.0,
            max_errors: 0.01,
        };
        let steps = vec![
            step(100.0, 5.0, 0),
            step(140.0, 6.0, 0),
            step(196.0, 12.0, 5),
            step(274.0, 48.0, 10),
            step(315.0, 80.0, 0),
            step(362.0, 300.0, 200),
        ];
        assert_eq!(knee(&steps, targets), Some(3));
        // Errors over 1% fail a step even with a low p95.
        let mut failing = steps.clone();
        failing[3].errors = 11;
        assert_eq!(knee(&failing, targets), Some(2));
        assert!(
            failing[3]
                .missed(targets)
                .expect("missed")
                .contains("1.1% of requests failed")
        );
        // A rate the lab did not keep up with is not served.
        let mut behind = steps.clone();
        behind[3].answered = 200.0;
        assert_eq!(knee(&behind, targets), Some(2));
        // No step served: no knee.
        assert_eq!(knee(&steps[4..], targets), None);
    }

    #[test]
    fn a_miss_while_the_hypervisor_took_the_machine_is_in_doubt_and_set_aside() {
        let targets = Targets::default();
        let stolen = |mut s: Step, share: f64| {
            s.stolen = Some(share);
            s
        };
        // Only a miss is in doubt, and only from STOLEN_LIMIT on.
        assert!(stolen(step(200.0, 80.0, 0), STOLEN_LIMIT).disturbed(targets));
        assert!(!stolen(step(200.0, 80.0, 0), STOLEN_LIMIT - 0.005).disturbed(targets));
        assert!(!stolen(step(200.0, 20.0, 0), 0.5).disturbed(targets));
        assert!(
            !step(200.0, 80.0, 0).disturbed(targets),
            "steal not measured"
        );

        // A step set aside counts neither as the knee nor as the step past
        // it: here 150 was served on its second try, and 160 missed.
        let mut aside = stolen(step(150.0, 90.0, 0), 0.08);
        aside.set_aside = true;
        let steps = vec![
            step(100.0, 5.0, 0),
            aside.clone(),
            stolen(step(150.0, 30.0, 0), 0.01),
            step(160.0, 70.0, 0),
        ];
        assert_eq!(knee(&steps, targets), Some(2));
        let past = saturated_step(&steps, targets).expect("a step past the knee");
        assert!((past.offered - 160.0).abs() < f64::EPSILON, "{past:?}");
        // Set aside, its own verdict says why; without the retry it would
        // have been the step past the knee.
        assert_eq!(
            aside.verdict(targets),
            "p95 90.0 ms (target 50 ms); set aside, measured again: the hypervisor took 8% of the machine's CPU"
        );
        let mut counted = steps.clone();
        counted[1].set_aside = false;
        counted[2].p95_ms = 60.0;
        assert_eq!(knee(&counted, targets), Some(0));
        let past = saturated_step(&counted, targets).expect("a step past the knee");
        assert!((past.offered - 150.0).abs() < f64::EPSILON, "{past:?}");
        // The line and the report show the stolen share.
        assert!(
            aside.line(targets).contains("     8%  p95 90.0 ms"),
            "{}",
            aside.line(targets)
        );
    }

    #[test]
    fn a_knee_that_rests_on_a_disturbed_step_is_in_doubt() {
        let targets = Targets::default();
        let stolen = |mut s: Step, share: f64| {
            s.stolen = Some(share);
            s
        };
        let sizes = reference_sizes(0.05);
        // 30 served, 35 missed at 30% stolen with no set-aside left: the
        // knee rests on 35's miss.
        let steps = vec![
            stolen(step(30.0, 40.0, 0), 0.26),
            stolen(step(35.0, 96.0, 0), 0.30),
        ];
        let doubtful = in_doubt(&steps, targets).expect("in doubt");
        assert!((doubtful.offered - 35.0).abs() < f64::EPSILON);
        let line = summary(&steps, targets, &sizes);
        assert!(
            line.ends_with(
                "in doubt: the hypervisor took 30% of the machine's CPU during the step at \
                 35 req/s that the ramp's result rests on (measure again when the machine is \
                 quieter)"
            ),
            "{line}"
        );
        assert!(report("lab", &steps, targets, &sizes, 0).contains("**In doubt:** "));
        // The same miss on a quiet machine is the lab's own.
        let quiet = vec![
            stolen(step(30.0, 40.0, 0), 0.26),
            stolen(step(35.0, 96.0, 0), 0.01),
        ];
        assert_eq!(in_doubt(&quiet, targets), None);
        assert!(!summary(&quiet, targets, &sizes).contains("in doubt"));
        // A disturbed miss set aside, then measured again quietly: no doubt.
        let mut aside = stolen(step(35.0, 96.0, 0), 0.30);
        aside.set_aside = true;
        let retried = vec![
            stolen(step(30.0, 40.0, 0), 0.26),
            aside,
            stolen(step(35.0, 90.0, 0), 0.0),
        ];
        assert_eq!(in_doubt(&retried, targets), None);
        // A quiet miss within a fine step of the knee bounds it: a weak,
        // disturbed miss below that (as on the way down) is no doubt, and
        // the bottleneck is read where the quiet miss ran.
        let bounded = vec![
            stolen(step(100.0, 90.0, 0), 0.2),
            stolen(step(50.0, 5.0, 0), 0.0),
            stolen(step(98.0, 30.0, 0), 0.0),
            stolen(step(103.0, 70.0, 0), 0.01),
        ];
        assert_eq!(in_doubt(&bounded, targets), None);
        let past = saturated_step(&bounded, targets).expect("past the knee");
        assert!((past.offered - 103.0).abs() < f64::EPSILON, "{past:?}");
        assert_eq!(quiet_bound(&bounded, targets), Some(103.0));
        // A quiet miss far above leaves the knee in doubt, and bounds it.
        let mut far = bounded.clone();
        far[3].offered = 140.0;
        let doubtful = in_doubt(&far, targets).expect("in doubt");
        assert!((doubtful.offered - 100.0).abs() < f64::EPSILON);
        assert_eq!(quiet_bound(&far, targets), Some(140.0));
        assert_eq!(quiet_bound(&steps, targets), None, "no quiet miss");
        // A miss on errors is the lab's, whatever the hypervisor took.
        let failing = vec![
            stolen(step(30.0, 40.0, 0), 0.2),
            stolen(step(35.0, 20.0, 50), 0.3),
        ];
        assert!(!failing[1].disturbed(targets));
        assert_eq!(in_doubt(&failing, targets), None);
        // No knee: the lowest step's miss decides.
        let none = vec![stolen(step(20.0, 200.0, 0), 0.2)];
        assert!(in_doubt(&none, targets).is_some());
        let text = report("lab", &none, targets, &sizes, 0);
        assert!(text.contains("**In doubt:** "), "{text}");
        assert_eq!(
            in_doubt(&[stolen(step(20.0, 200.0, 0), 0.0)], targets),
            None
        );
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.95), 95.0);
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn the_ramp_slows_down_near_the_target() {
        let targets = Targets::default();
        assert_eq!(next_rate(&step(100.0, 5.0, 0), targets), 140.0);
        assert_eq!(next_rate(&step(100.0, 30.0, 0), targets), 115.0);
    }

    #[test]
    fn saturated_twins_are_named_together_with_the_rest_by_kind() {
        let mut s = step(1000.0, 40.0, 0);
        s.cpu = vec![
            cpu("lb-01", "lb", 0.15),
            cpu("web-01", "app", 0.40),
            cpu("web-01", "nginx", 0.05),
            cpu("web-01", "db", 0.04),
            cpu("web-02", "app", 0.39),
            cpu("web-02", "nginx", 0.05),
            cpu("web-02", "db", 0.05),
        ];
        let text = bottleneck(&s, &reference_sizes(0.5));
        assert_eq!(
            text,
            "web-01/app and web-02/app at 98% of their hosts' 0.5 CPU; \
             the load balancers at 30%, the databases at 10% and Nginx at 10%"
        );
    }

    #[test]
    fn a_single_saturated_database_is_named_alone() {
        let mut s = step(500.0, 40.0, 0);
        s.cpu = vec![
            cpu("web-01", "app", 0.2),
            cpu("db-01", "db", 0.48),
            cpu("lb-01", "lb", 0.05),
        ];
        let sizes = BTreeMap::from([
            (HostName::new("web-01"), size(1.0)),
            (HostName::new("db-01"), size(0.5)),
            (HostName::new("lb-01"), size(0.5)),
        ]);
        let text = bottleneck(&s, &sizes);
        assert!(
            text.starts_with("db-01/db at 96% of its host's 0.5 CPU; the apps at 20%"),
            "{text}"
        );
        assert_eq!(saturated_hosts(&s, &sizes), vec![HostName::new("db-01")]);
    }

    #[test]
    fn a_throttled_host_is_a_bottleneck_below_its_average_budget() {
        let mut s = step(400.0, 120.0, 0);
        s.cpu = vec![cpu("web-01", "app", 0.03), cpu("web-01", "nginx", 0.002)];
        s.throttled = BTreeMap::from([(HostName::new("web-01"), 0.45)]);
        let sizes = BTreeMap::from([(HostName::new("web-01"), size(0.05))]);
        assert_eq!(
            bottleneck(&s, &sizes),
            "web-01/app at 64% of its host's 0.05 CPU, throttled in 45% of CPU periods; Nginx at 4%"
        );
        assert_eq!(saturated_hosts(&s, &sizes), vec![HostName::new("web-01")]);
        s.throttled.clear();
        assert!(bottleneck(&s, &sizes).starts_with("the busiest host, web-01, is at 64%"));
        assert!(saturated_hosts(&s, &sizes).is_empty());
    }

    #[test]
    fn without_a_saturated_host_the_machine_or_waiting_is_named() {
        let mut s = step(500.0, 40.0, 0);
        s.cpu = vec![cpu("web-01", "app", 0.3), cpu("web-02", "app", 0.3)];
        s.machine_busy = Some(0.97);
        let sizes = reference_sizes(1.0);
        let text = bottleneck(&s, &sizes);
        assert!(text.contains("the machine itself is at 97%"), "{text}");
        s.machine_busy = Some(0.4);
        let text = bottleneck(&s, &sizes);
        assert!(text.contains("not CPU"), "{text}");
    }

    #[test]
    fn a_served_step_lists_each_host_against_its_size() {
        let mut s = step(100.0, 5.0, 0);
        s.cpu = vec![cpu("web-01", "app", 0.2), cpu("lb-01", "lb", 0.05)];
        assert_eq!(
            cpu_summary(&s, &reference_sizes(0.5)),
            "web-01 40% of 0.5 CPU, lb-01 10% of 0.5 CPU"
        );
    }

    #[test]
    fn the_report_names_the_knee_and_the_bottleneck() {
        let mut steps = vec![step(100.0, 5.0, 0), step(140.0, 90.0, 0)];
        steps[0].cpu = vec![cpu("web-01", "app", 0.24), cpu("web-02", "app", 0.23)];
        steps[1].cpu = vec![cpu("web-01", "app", 0.25), cpu("web-02", "app", 0.25)];
        assert_eq!(
            saturated_step(&steps, Targets::default()).map(|s| s.offered),
            Some(140.0)
        );
        // A refinement step between them, run last, is the one named.
        let mut refined = steps.clone();
        refined.push(step(120.0, 70.0, 0));
        assert_eq!(
            saturated_step(&refined, Targets::default()).map(|s| s.offered),
            Some(120.0)
        );
        let text = report(
            "cap",
            &steps,
            Targets::default(),
            &reference_sizes(0.25),
            10,
        );
        assert!(text.contains("**Knee: 100 req/s**"), "{text}");
        // The bottleneck is named where the ramp went past the knee.
        assert!(text.contains("**Bottleneck** (at 140 req/s): web-01/app and web-02/app at 100%"));
        assert!(text.contains(
            "| 140 | 140 | 30.0 | 90.0 | 135.0 | 0.00% | - | - | p95 90.0 ms (target 50 ms) |"
        ));
        assert!(text.contains("| web-01 | 0.25 CPU | 0.24 | 96% | app 0.24 |"));
    }
}
