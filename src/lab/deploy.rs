//! `deploy`: a rolling deploy of a release of the application's files on a
//! running lab, as [`crate::deploy::plan`] orders it. For each batch: drain
//! its hosts in every load balancer (runtime API) and wait until their
//! sessions end (bounded), switch each host's `current` link atomically,
//! restart its app gracefully (SIGTERM: it stops accepting and finishes
//! what it serves), wait for its own health check, and set it ready again.
//! A canary batch is then watched for `pause_s` through the load
//! balancers' counters. A failed health check, or a canary whose error rate
//! passes the threshold, stops the deploy and rolls back every host
//! already switched, in reverse order, the same way.
//!
//! The lab's lock is held throughout, and the lab's record names each
//! host's release as soon as its link is switched: a deploy interrupted
//! half-way leaves a record that matches what runs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::apply::{Exec, lb_container, save};
use super::docker::Engine;
use super::error::LabError;
use super::haproxy;
use super::launch;
use super::plan::{self, Part};
use super::state::{LabState, Locked};
use crate::change::Impact;
use crate::deploy::{self, Plan, Request, Verdict};
use crate::generate::paths;
use crate::model::{ComponentKind, HostName};
use crate::protocol::ApplyProgress;

/// How long a restarted app may take to pass its own health check.
const HEALTH_LIMIT: Duration = Duration::from_secs(15);
/// A release that answers its health check with an error this many times
/// in a row has failed it (it runs, and says it cannot serve).
const FAILED_CHECKS: u32 = 3;
/// How long an app may take to finish its requests when it is stopped.
const STOP_GRACE_S: i32 = 10;

/// What the canary may do while it is watched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Watch {
    /// Above this share of failed requests (percent) the deploy stops.
    pub max_error_percent: f64,
    /// Below this many requests, any failure stops it.
    pub min_requests: u64,
}

impl Default for Watch {
    fn default() -> Self {
        Self {
            max_error_percent: 1.0,
            min_requests: 20,
        }
    }
}

/// How a deploy ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every host runs the release.
    Completed,
    /// Stopped and rolled back: why, and the hosts put back.
    RolledBack {
        /// Why it stopped.
        why: String,
        /// The hosts rolled back, with the release each runs again.
        hosts: Vec<(HostName, String)>,
    },
}

/// What a deploy did.
#[derive(Clone, Debug)]
pub struct Deployed {
    /// The plan carried out.
    pub plan: Plan,
    /// How it ended.
    pub outcome: Outcome,
    /// Each batch's time (those run).
    pub took: Vec<Duration>,
    /// The rollback's time, if there was one.
    pub rollback_took: Option<Duration>,
    /// When it began (milliseconds since the epoch) and how long it took.
    pub started_at: crate::live::Millis,
    /// The whole deploy.
    pub total: Duration,
}

/// The plan of deploying `request` on the lab `state` records (no Docker:
/// for the app's dialog and `--dry-run`).
pub fn plan_for(state: &LabState, request: &Request) -> Result<Plan, deploy::PlanError> {
    deploy::plan(&state.topology, &releases(state), request)
}

/// Each app host's release, as the lab's record says.
pub fn releases(state: &LabState) -> BTreeMap<HostName, String> {
    state
        .topology
        .hosts
        .iter()
        .filter_map(|h| Some((h.name.clone(), h.app_server()?.release.clone())))
        .collect()
}

/// Deploys `request.version` on lab `lab`, batch by batch; refused (nothing
/// changed) when the plan cannot be made.
pub async fn deploy(
    engine: &Engine,
    lab: &str,
    request: &Request,
    watch: Watch,
    cancel: &CancellationToken,
    report: &(dyn Fn(ApplyProgress) + Sync),
) -> Result<Deployed, LabError> {
    launch::check_lab_name(lab)?;
    let mut state = super::state::lock(lab).await?;
    let plan = plan_for(&state, request).map_err(|e| LabError::Refused(e.to_string()))?;
    let (resources, _, _) = engine.resources().await?;
    let exec = Exec {
        engine,
        report,
        whole: CancellationToken::new(),
        resources,
    };
    let started_at = crate::live::now();
    let start = Instant::now();
    let mut took = Vec::new();
    let mut failure: Option<(usize, Vec<HostName>, String)> = None;
    for (index, batch) in plan.batches.iter().enumerate() {
        if cancel.is_cancelled() {
            failure = Some((index, Vec::new(), "cancelled".to_owned()));
            break;
        }
        let hosts: Vec<String> = batch.hosts.iter().map(ToString::to_string).collect();
        report(ApplyProgress::Started {
            index,
            summary: format!(
                "{} → {}{}",
                hosts.join(", "),
                plan.version,
                if batch.canary { " (canary)" } else { "" }
            ),
            impact: Impact::Hitless,
        });
        let began = Instant::now();
        let mut touched = Vec::new();
        let result =
            switch_batch(&exec, &mut state, &batch.hosts, &plan.version, &mut touched).await;
        let result = match result {
            Ok(()) if batch.canary && plan.pause_s > 0.0 => {
                watch_canary(&exec, &state, &batch.hosts, plan.pause_s, watch, cancel).await
            }
            other => other.map(|()| None),
        };
        match result {
            Ok(None) => {
                let elapsed = began.elapsed();
                took.push(elapsed);
                report(ApplyProgress::Finished {
                    index,
                    took: elapsed,
                });
            }
            Ok(Some(why)) => {
                took.push(began.elapsed());
                failure = Some((index + 1, Vec::new(), why));
                break;
            }
            Err(e) => {
                took.push(began.elapsed());
                let why = match e {
                    LabError::Step { why, .. } => why,
                    other => other.to_string(),
                };
                failure = Some((index, touched, why));
                break;
            }
        }
    }
    let Some((done, touched, why)) = failure else {
        return Ok(Deployed {
            plan,
            outcome: Outcome::Completed,
            took,
            rollback_took: None,
            started_at,
            total: start.elapsed(),
        });
    };
    // Back to what ran before, in reverse order, the same careful way.
    let back = plan.rollback(done, &touched);
    exec.note(format!(
        "stopping the deploy: {why}; rolling back {} host(s)",
        back.len()
    ));
    let rollback_start = Instant::now();
    report(ApplyProgress::Started {
        index: plan.batches.len(),
        summary: format!("roll back {} host(s)", back.len()),
        impact: Impact::Hitless,
    });
    for (host, release) in &back {
        let mut ignored = Vec::new();
        switch_batch(
            &exec,
            &mut state,
            std::slice::from_ref(host),
            release,
            &mut ignored,
        )
        .await
        .map_err(|e| LabError::Step {
            phase: "rollback",
            why: format!(
                "the deploy stopped ({why}) and rolling {host} back to {release} failed too: {e}"
            ),
        })?;
    }
    let rollback_took = rollback_start.elapsed();
    report(ApplyProgress::Finished {
        index: plan.batches.len(),
        took: rollback_took,
    });
    Ok(Deployed {
        plan,
        outcome: Outcome::RolledBack { why, hosts: back },
        took,
        rollback_took: Some(rollback_took),
        started_at,
        total: start.elapsed(),
    })
}

/// Takes `hosts` out of rotation, switches each to `release` and restarts
/// its app, waits for their health checks, and puts them back. `touched`
/// collects the hosts switched so far (what a rollback must undo).
async fn switch_batch(
    exec: &Exec<'_>,
    state: &mut Locked,
    hosts: &[HostName],
    release: &str,
    touched: &mut Vec<HostName>,
) -> Result<(), LabError> {
    // Never drain the last servers answering: a load balancer needs
    // another server UP for every request to find one.
    for (lb, balancer) in state.topology.load_balancers() {
        if !balancer.backends.iter().any(|b| hosts.contains(&b.host)) {
            continue;
        }
        let servers = haproxy::servers(exec.engine, &lb_container(&state.lab, &lb.name))
            .await
            .map_err(|e| LabError::Step {
                phase: "deploy",
                why: format!("{}/lb cannot be read: {e}", lb.name),
            })?;
        let others_up = servers.iter().any(|s| {
            s.status == crate::live::BackendStatus::Up
                && !hosts.iter().any(|h| h.as_str() == s.server)
        });
        if !others_up {
            let names: Vec<String> = hosts.iter().map(ToString::to_string).collect();
            return Err(LabError::Step {
                phase: "deploy",
                why: format!(
                    "no other server is UP on {}/lb: taking {} out of rotation would fail every request",
                    lb.name,
                    names.join(", ")
                ),
            });
        }
    }
    for host in hosts {
        for (lb, balancer) in state.topology.load_balancers() {
            if balancer.backends.iter().any(|b| &b.host == host) {
                exec.drain(&lb_container(&state.lab, &lb.name), &lb.name, host)
                    .await?;
            }
        }
    }
    for host in hosts {
        switch(exec, state, host, release).await?;
        touched.push(host.clone());
    }
    for host in hosts {
        healthy(exec, state, host).await?;
    }
    for host in hosts {
        exec.server_state(state, host, "ready").await?;
        exec.back_in_rotation(state, host).await;
    }
    Ok(())
}

/// Switches `host`'s `current` link to `release`: a new link renamed over
/// the old one, so Nginx and the app see one release or the other, never
/// none.
pub(super) async fn switch_link(
    exec: &Exec<'_>,
    lab: &str,
    host: &HostName,
    release: &str,
) -> Result<(), LabError> {
    let app = plan::container_name(lab, host, Part::Component(ComponentKind::App));
    let dir = paths::APP_DIR;
    let script = format!(
        "test -d {dir}/releases/{release} && ln -sfn releases/{release} {dir}/.current.next \
         && mv -T {dir}/.current.next {dir}/current"
    );
    exec.explain(format!("docker exec {app} sh -c '{script}'"));
    match exec.engine.exec(&app, &["sh", "-c", &script]).await? {
        (0, _) => Ok(()),
        (code, out) => Err(LabError::Step {
            phase: "deploy",
            why: format!(
                "{host}: switching to release {release} failed ({code}): {}",
                out.trim()
            ),
        }),
    }
}

/// Restarts `host`'s app gracefully: SIGTERM, it stops accepting and
/// finishes what it serves, then starts on the current release.
pub(super) async fn restart_app(
    exec: &Exec<'_>,
    lab: &str,
    host: &HostName,
) -> Result<(), LabError> {
    let app = plan::container_name(lab, host, Part::Component(ComponentKind::App));
    exec.explain(format!("docker restart -t {STOP_GRACE_S} {app}"));
    exec.engine.restart(&app, STOP_GRACE_S).await?;
    Ok(())
}

/// Switches `host` to `release`, records it, and restarts its app.
async fn switch(
    exec: &Exec<'_>,
    state: &mut Locked,
    host: &HostName,
    release: &str,
) -> Result<(), LabError> {
    switch_link(exec, &state.lab, host, release).await?;
    if let Some(a) = state
        .topology
        .host_mut(host)
        .and_then(|h| h.app_server_mut())
    {
        a.release = release.to_owned();
    }
    save(state).await?;
    restart_app(exec, &state.lab, host).await?;
    exec.note(format!("{host} switched to {release}, its app restarted"));
    Ok(())
}

/// Waits until `host`'s app passes its own health check (through the
/// host's Nginx, as the load balancers check it); fails when the release
/// says it cannot serve, or after [`HEALTH_LIMIT`].
pub(super) async fn healthy(
    exec: &Exec<'_>,
    state: &LabState,
    host: &HostName,
) -> Result<(), LabError> {
    let Some(h) = state.topology.host(host) else {
        return Ok(());
    };
    let port = h
        .web_server()
        .map_or_else(|| h.app_server().map_or(8000, |a| a.port), |w| w.port);
    let holder = plan::container_name(&state.lab, host, Part::Holder);
    let url = format!("http://127.0.0.1:{port}/health");
    let cmd = [
        "curl",
        "-sS",
        "-m",
        "1",
        "-o",
        "/dev/stderr",
        "-w",
        "%{http_code}",
        url.as_str(),
    ];
    exec.explain(format!("docker exec {holder} curl -sS -m 1 {url}"));
    let start = Instant::now();
    let mut failed_in_a_row = 0;
    let mut last;
    loop {
        match exec.engine.exec(&holder, &cmd).await {
            Ok((0, out)) if out.trim_end().ends_with("200") => {
                exec.note(format!(
                    "{host} passes its health check after {} ms",
                    start.elapsed().as_millis()
                ));
                return Ok(());
            }
            // Answered, with an error: the release runs and says no.
            Ok((0, out)) if !out.trim_end().ends_with("000") => {
                failed_in_a_row += 1;
                last = out.trim().to_owned();
            }
            // Not answering yet (the app is starting).
            Ok((_, out)) => {
                failed_in_a_row = 0;
                last = out.trim().to_owned();
            }
            Err(e) => last = e.to_string(),
        }
        if failed_in_a_row >= FAILED_CHECKS || start.elapsed() > HEALTH_LIMIT {
            let (body, code) = split_answer(&last);
            return Err(LabError::Step {
                phase: "deploy",
                why: format!("{host} fails its health check ({url} answers {code}: {body})"),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// curl's output above: the body, then the status code it wrote last.
fn split_answer(out: &str) -> (String, String) {
    let out = out.trim();
    let code: String = out
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let body = out[..out.len() - code.len()].trim().to_owned();
    let code = if code.is_empty() || code == "000" {
        "nothing".to_owned()
    } else {
        code
    };
    (
        if body.is_empty() {
            "-".to_owned()
        } else {
            body
        },
        code,
    )
}

/// Watches the canary `hosts` for `pause_s` seconds: their checks and the
/// requests the load balancers sent them. `Some(why)` stops the deploy.
async fn watch_canary(
    exec: &Exec<'_>,
    state: &LabState,
    hosts: &[HostName],
    pause_s: f64,
    watch: Watch,
    cancel: &CancellationToken,
) -> Result<Option<String>, LabError> {
    exec.note(format!(
        "watching the canary {} for {pause_s} s (failed requests above {}% stop the deploy)",
        hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        watch.max_error_percent
    ));
    let before = counters(exec.engine, state, hosts).await;
    let deadline = Instant::now() + Duration::from_secs_f64(pause_s);
    while Instant::now() < deadline {
        if cancel.is_cancelled() {
            return Ok(Some("cancelled while the canary was watched".to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(250).min(deadline - Instant::now())).await;
    }
    let after = counters(exec.engine, state, hosts).await;
    for host in hosts {
        let (r0, e0, _) = before.get(host).copied().unwrap_or_default();
        let (r1, e1, up) = after.get(host).copied().unwrap_or_default();
        let (requests, failed) = (r1.saturating_sub(r0), e1.saturating_sub(e0));
        exec.note(format!(
            "canary {host}: {requests} request(s), {failed} failed, check {}",
            if up { "passing" } else { "failing" }
        ));
        if let Verdict::Fail(why) = deploy::canary_verdict(
            up,
            requests,
            failed,
            watch.max_error_percent,
            watch.min_requests,
        ) {
            return Ok(Some(format!("the canary {host} failed: {why}")));
        }
    }
    Ok(None)
}

/// Per host, summed over the load balancers: requests sent, failed, and
/// whether every load balancer sees it UP.
async fn counters(
    engine: &Engine,
    state: &LabState,
    hosts: &[HostName],
) -> BTreeMap<HostName, (u64, u64, bool)> {
    let mut out: BTreeMap<HostName, (u64, u64, bool)> =
        hosts.iter().map(|h| (h.clone(), (0, 0, true))).collect();
    for (lb, _) in state.topology.load_balancers() {
        let servers = haproxy::servers(engine, &lb_container(&state.lab, &lb.name))
            .await
            .unwrap_or_default();
        for s in servers {
            if let Some(entry) = out.iter_mut().find(|(h, _)| h.as_str() == s.server) {
                let e = entry.1;
                e.0 += s.requests;
                e.1 += s.errors;
                e.2 &= s.status == crate::live::BackendStatus::Up;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_answers_split_into_body_and_code() {
        assert_eq!(
            split_answer("release v2-broken lacks its setting\n503"),
            (
                "release v2-broken lacks its setting".to_owned(),
                "503".to_owned()
            )
        );
        assert_eq!(
            split_answer("curl: (7) Failed to connect\n000"),
            (
                "curl: (7) Failed to connect".to_owned(),
                "nothing".to_owned()
            )
        );
        assert_eq!(split_answer(""), ("-".to_owned(), "nothing".to_owned()));
    }
}
