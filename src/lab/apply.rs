//! `apply`: carries out a [`ChangePlan`] on a running lab with the
//! mechanisms a real operator would use, not a relaunch. HAProxy reloads
//! (master-worker, listeners handed over) and gets its servers' states
//! back through the runtime API; weights alone go through the runtime API;
//! Nginx reloads after `nginx -t`; app servers are repointed through their
//! admin socket; semi-sync is switched with `SET GLOBAL`; new hosts and
//! components are created and checked as `up` does; what goes is drained
//! first, then removed with its volume.
//!
//! The whole apply holds the lab's lock. After each action the lab's state
//! records the topology that runs (atomically), so an apply interrupted by
//! Ctrl-C or a crash leaves a record that matches the lab, and applying the
//! same file again finishes the job.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use tokio_util::sync::CancellationToken;

use super::docker::{Engine, NetworkDriver, ResourceMode};
use super::error::LabError;
use super::haproxy;
use super::launch::{self, Run};
use super::names;
use super::plan::{self, ContainerPlan, Part, Plan, PlanParams};
use super::replication;
use super::state::{LabState, Locked};
use crate::change::{self, ChangePlan, Running, Step};
use crate::generate::{AppConfig, VolumeKind, paths};
use crate::model::{ComponentKind, Flavor, HostName, Role, Topology, host_numbers};
use crate::protocol::{ApplyProgress, Phase, Progress};

/// How long a server that leaves a load balancer may keep sessions open
/// before it is removed anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// How long a new replica may take to catch up with its primary.
const CATCH_UP: Duration = Duration::from_secs(60);
/// How long HAProxy's master may take to load its new file.
const RELOAD_LIMIT: Duration = Duration::from_secs(10);
/// What HAProxy's master logs when a reload took.
const RELOADED: &str = "Loading success.";
/// What it logs when the new file did not load (the old worker serves on).
const NOT_RELOADED: &str = "Loading failure!";

/// What an apply did.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The plan carried out.
    pub plan: ChangePlan,
    /// How long each action took.
    pub took: Vec<Duration>,
}

/// The plan taking lab `state` to `edited` (no Docker: for `--dry-run`
/// and the app's preview).
pub fn plan_for(state: &LabState, edited: &Topology) -> Result<ChangePlan, change::ChangeError> {
    let running = Running {
        flavor: state.flavor,
        would_run: state.profile.effective_flavor(edited.databases.flavor),
    };
    change::plan(&state.topology, edited, running)
}

/// Applies `edited` to lab `lab`: refused when the design is invalid, needs
/// a relaunch, or has destructive actions and `yes` is false (nothing is
/// changed then).
pub async fn apply(
    engine: &Engine,
    lab: &str,
    edited: &Topology,
    yes: bool,
    cancel: &CancellationToken,
    report: &(dyn Fn(ApplyProgress) + Sync),
) -> Result<Applied, LabError> {
    launch::check_lab_name(lab)?;
    let mut state = super::state::lock(lab).await?;
    let plan = plan_for(&state, edited).map_err(|e| LabError::Refused(e.to_string()))?;
    if !plan.relaunch.is_empty() {
        return Err(LabError::Refused(format!(
            "a running lab cannot take this change, relaunch it (`topolab down {lab}`, then `topolab up`): {}",
            plan.relaunch.join("; ")
        )));
    }
    let lost: Vec<String> = plan
        .destructive()
        .map(|a| format!("{} ({})", a.summary, a.why))
        .collect();
    if !lost.is_empty() && !yes {
        return Err(LabError::Refused(format!(
            "refusing a destructive change without confirmation (--yes): {}",
            lost.join("; ")
        )));
    }
    let (resources, _, _) = engine.resources().await?;
    let mut took = Vec::new();
    for (index, action) in plan.actions.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(LabError::Step {
                phase: "apply",
                why: format!(
                    "cancelled after {index} of {} action(s); the lab records what was done: apply again to finish",
                    plan.actions.len()
                ),
            });
        }
        report(ApplyProgress::Started {
            index,
            summary: action.summary.clone(),
            impact: action.impact,
        });
        let start = Instant::now();
        let before = state.snapshot();
        let mut after = before.clone();
        action.step.record(&mut after.topology);
        after.numbers = host_numbers(&after.topology, &before.numbers);
        after.place_new_hosts();
        engine.place(&super::engines::prefixes(&after.lab, &after.placement));
        let exec = Exec {
            engine,
            report,
            whole: CancellationToken::new(),
            resources,
        };
        exec.step(&before, &mut after, &action.step).await?;
        *state = after;
        save(&state).await?;
        let elapsed = start.elapsed();
        took.push(elapsed);
        report(ApplyProgress::Finished {
            index,
            took: elapsed,
        });
    }
    // Order, positions and the description: the design's, as recorded.
    state.topology = plan.target.clone();
    state.numbers = host_numbers(&state.topology, &state.numbers);
    state.place_new_hosts();
    save(&state).await?;
    Ok(Applied { plan, took })
}

/// Records `state` in the lab's file (atomically).
pub(super) async fn save(state: &Locked) -> Result<(), LabError> {
    let snapshot = state.snapshot();
    tokio::task::spawn_blocking(move || snapshot.save())
        .await
        .map_err(|e| LabError::Step {
            phase: "record",
            why: e.to_string(),
        })??;
    Ok(())
}

/// One action's work (also a deploy's: drains, restarts, rotation).
pub(super) struct Exec<'a> {
    pub(super) engine: &'a Engine,
    pub(super) report: &'a (dyn Fn(ApplyProgress) + Sync),
    /// Never cancelled: an action runs to its end.
    pub(super) whole: CancellationToken,
    pub(super) resources: ResourceMode,
}

/// The launch plan of the lab as `state` records it.
pub(super) fn plan_of(state: &LabState) -> Result<Plan, LabError> {
    let ports = state
        .entry_points
        .iter()
        .map(|e| (e.host.clone(), (e.http, e.https)))
        .collect();
    let dns_ports = state
        .dns_servers
        .iter()
        .map(|d| (d.host.clone(), d.port))
        .collect();
    let vip_ports = state
        .vip_ports
        .iter()
        .map(|v| (v.number, (v.http, v.https)))
        .collect();
    let params = PlanParams {
        dns_ports,
        vip_ports,
        lab: state.lab.clone(),
        profile: state.profile,
        app_image: state.app_image.clone(),
        first_subnet: state.first_subnet,
        ports,
        numbers: host_numbers(&state.topology, &state.numbers),
        reach_ports: state.reach_ports.clone(),
    };
    Ok(plan::plan(&state.topology, &state.secrets, &params)?)
}

fn step_error(phase: &'static str) -> impl Fn(String) -> LabError {
    move |why| LabError::Step { phase, why }
}

impl Exec<'_> {
    pub(super) fn note(&self, text: String) {
        (self.report)(ApplyProgress::Note(text));
    }

    pub(super) fn explain(&self, text: String) {
        (self.report)(ApplyProgress::Explain(text));
    }

    /// The commands of a launch's run, said as the apply's.
    fn forward(&self) -> impl Fn(Progress) + Sync + '_ {
        move |p| {
            if let Progress::Explain(line) = p {
                (self.report)(ApplyProgress::Explain(line));
            }
        }
    }

    /// A run that creates, starts and checks containers as `up` does. It
    /// is never cancelled half-way: a cancelled apply stops between
    /// actions, so the lab's record always matches what runs.
    fn run<'b>(&'b self, forward: &'b (dyn Fn(Progress) + Sync), flavor: Flavor) -> Run<'b> {
        Run::for_running_lab(self.engine, forward, &self.whole, flavor, self.resources)
    }

    async fn step(
        &self,
        before: &LabState,
        after: &mut LabState,
        step: &Step,
    ) -> Result<(), LabError> {
        self.act(before, after, step).await?;
        if after.network_driver != NetworkDriver::Overlay {
            return Ok(());
        }
        self.sync_reach(&plan_of(before)?, &plan_of(after)?, after)
            .await
    }

    /// What `step` changes in the running lab.
    async fn act(
        &self,
        before: &LabState,
        after: &mut LabState,
        step: &Step,
    ) -> Result<(), LabError> {
        // What runs before the step and after it, generated once.
        self.add_entry_points(before, after)?;
        let (old, new) = (&plan_of(before)?, &plan_of(after)?);
        match step {
            Step::Record(_) => Ok(()),
            Step::Resize { host, size } => self.resize(new, host, *size).await,
            Step::Replication(mode) => {
                let on = *mode == crate::model::ReplicationMode::SemiSync;
                self.semi_sync(after, on).await?;
                self.sync_files(old, new, after, None).await
            }
            Step::Dns(_) => self.sync_files(old, new, after, None).await,
            Step::Monitoring(false) => {
                // The load balancers stop serving metrics, then Prometheus
                // and the exporters go.
                self.sync_files(old, new, after, None).await?;
                self.remove_gone(old, new).await
            }
            Step::Monitoring(true) | Step::AddHost { .. } | Step::AddComponent { .. } => {
                self.connect_networks(old, new).await?;
                self.create_new(old, new, after).await?;
                self.sync_files(old, new, after, None).await
            }
            Step::App { host, .. } | Step::Web { host, .. } => {
                // A restart, a new port or a new release: requests go to
                // the other servers meanwhile.
                let restart = restarts(old, new, host);
                let release = release_change(before, after, host);
                let drained =
                    !restart.is_empty() || release.is_some() || matches!(step, Step::Web { .. });
                if drained {
                    self.server_state(before, host, "drain").await?;
                }
                if let Some((was, release)) = release {
                    use super::deploy::{healthy, restart_app, switch_link};
                    switch_link(self, &after.lab, host, &release).await?;
                    restart_app(self, &after.lab, host).await?;
                    if let Err(e) = healthy(self, after, host).await {
                        // The record still says the old release: so does
                        // the host again.
                        switch_link(self, &after.lab, host, &was).await?;
                        restart_app(self, &after.lab, host).await?;
                        healthy(self, before, host).await?;
                        self.server_state(before, host, "ready").await?;
                        let why = match e {
                            LabError::Step { why, .. } => why,
                            other => other.to_string(),
                        };
                        return Err(LabError::Step {
                            phase: "deploy",
                            why: format!("{why}; {host} runs {was} again"),
                        });
                    }
                    self.note(format!("{host} runs release {release}"));
                }
                for c in &restart {
                    self.restart(c, after.flavor).await?;
                }
                self.sync_files(old, new, after, None).await?;
                if drained {
                    self.server_state(after, host, "ready").await?;
                    self.back_in_rotation(after, host).await;
                }
                Ok(())
            }
            Step::LoadBalancer { host, lb } => {
                let was = before.topology.host(host).and_then(|h| h.load_balancer());
                let leaving: Vec<HostName> = was
                    .map(|w| {
                        w.backends
                            .iter()
                            .filter(|b| !lb.backends.iter().any(|x| x.host == b.host))
                            .map(|b| b.host.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let container = lb_container(&before.lab, host);
                for server in &leaving {
                    self.drain(&container, host, server).await?;
                }
                if was.is_some_and(|w| change::weights_only(w, lb)) {
                    self.set_weights(&container, host, lb).await?;
                    // The file, for restarts; no reload.
                    if let Some(c) = new.containers.iter().find(|c| c.name == container) {
                        self.upload_files(c).await?;
                    }
                    return self.sync_files(old, new, after, Some(&container)).await;
                }
                self.sync_files(old, new, after, None).await
            }
            Step::RemoveComponent { host, kind } => {
                // Nothing reads from it or sends to it any more.
                self.sync_files(old, new, after, None).await?;
                self.remove_gone(old, new).await?;
                if *kind == ComponentKind::Db {
                    self.remove_volumes(&before.lab, host, &[VolumeKind::Data])
                        .await?;
                }
                Ok(())
            }
            Step::RemoveHost(host) => {
                self.sync_files(old, new, after, None).await?;
                self.remove_gone(old, new).await?;
                self.remove_volumes(&before.lab, host, &[VolumeKind::Data, VolumeKind::AppFiles])
                    .await?;
                after.entry_points.retain(|e| &e.host != host);
                after.dns_servers.retain(|d| &d.host != host);
                after.faults.retain(|f| f.target.host() != host);
                Ok(())
            }
        }
    }

    /// New entry hosts (a new load balancer), new DNS servers and, on
    /// overlays, new databases get a published port.
    fn add_entry_points(&self, before: &LabState, after: &mut LabState) -> Result<(), LabError> {
        let new: Vec<HostName> = after
            .topology
            .entry_points()
            .iter()
            .filter(|h| !before.entry_points.iter().any(|e| e.host == h.name))
            .map(|h| h.name.clone())
            .collect();
        let new_dns: Vec<HostName> = after
            .topology
            .dns_servers()
            .filter(|(h, _)| !before.dns_servers.iter().any(|d| d.host == h.name))
            .map(|(h, _)| h.name.clone())
            .collect();
        if !new_dns.is_empty() {
            let mut only = after.topology.clone();
            only.hosts.retain(|h| new_dns.contains(&h.name));
            for (host, port) in launch::choose_dns_ports(&only)? {
                self.note(format!(
                    "{host} answers DNS queries at 127.0.0.1:{port} (UDP and TCP)"
                ));
                after
                    .dns_servers
                    .push(crate::protocol::DnsEndpoint { host, port });
            }
        }
        if after.network_driver == NetworkDriver::Overlay {
            self.reach_new_databases(after)?;
        }
        if new.is_empty() {
            return Ok(());
        }
        let mut only = after.topology.clone();
        only.hosts.retain(|h| new.contains(&h.name));
        // A new host is no member of a virtual IP (those need a relaunch).
        let (ports, _) = launch::choose_ports(&only)?;
        for (host, (http, https)) in ports {
            self.note(format!("{host} is reached at http://127.0.0.1:{http}/"));
            after
                .entry_points
                .push(crate::protocol::EntryPoint { host, http, https });
        }
        Ok(())
    }

    /// A lab on overlays: each new database gets a port of the `reach`
    /// forwarder on 127.0.0.1 (this machine has no leg on an overlay, so
    /// `status` and the monitor read the databases through it), and a
    /// database that is gone gives its port back.
    fn reach_new_databases(&self, after: &mut LabState) -> Result<(), LabError> {
        let databases: Vec<HostName> = after
            .topology
            .databases()
            .map(|(h, _)| h.name.clone())
            .collect();
        after.reach_ports.retain(|h, _| databases.contains(h));
        let mut only = after.topology.clone();
        only.hosts
            .retain(|h| databases.contains(&h.name) && !after.reach_ports.contains_key(&h.name));
        for (host, port) in launch::choose_reach_ports(&only, &after.published_ports())? {
            self.note(format!(
                "{host}'s database is reached at 127.0.0.1:{port} through the forwarder"
            ));
            after.reach_ports.insert(host, port);
        }
        Ok(())
    }

    /// Holders that join a network they were not on (a new component
    /// under segmentation).
    async fn connect_networks(&self, old: &Plan, new: &Plan) -> Result<(), LabError> {
        for c in new.containers.iter().filter(|c| c.part == Part::Holder) {
            let Some(was) = old.containers.iter().find(|o| o.name == c.name) else {
                continue;
            };
            for (net, ip) in &c.networks {
                if was.networks.iter().any(|(n, _)| n == net) {
                    continue;
                }
                self.explain(format!("docker network connect --ip {ip} {net} {}", c.name));
                self.engine
                    .connect_network(&c.name, net, &ip.to_string())
                    .await?;
            }
        }
        Ok(())
    }

    /// Creates, starts and checks every container of `new` that `old`
    /// lacks, in launch order: holders, databases (replicas replicating and
    /// caught up), apps, Nginx, load balancers, monitoring.
    async fn create_new(&self, old: &Plan, new: &Plan, after: &LabState) -> Result<(), LabError> {
        let added: Vec<&ContainerPlan> = new
            .containers
            .iter()
            .filter(|c| !old.containers.iter().any(|o| o.name == c.name))
            .collect();
        if added.is_empty() {
            return Ok(());
        }
        // An apply interrupted in this action may have left some of them:
        // they start afresh (a new database's volume too).
        let existing = self
            .engine
            .containers(&names::lab_filter(&after.lab))
            .await?;
        let volumes = self.engine.volumes(&names::lab_filter(&after.lab)).await?;
        for c in &added {
            if existing.iter().any(|e| e.name == c.name) {
                self.note(format!(
                    "removing {} (left by an interrupted apply)",
                    c.name
                ));
                self.engine.remove_container(&c.name).await?;
            }
        }
        // A volume the running containers use stays (a new Nginx shares
        // its host's application files with the app).
        let in_use = |volume: &String| {
            old.containers
                .iter()
                .any(|o| o.volume.as_ref().is_some_and(|(v, _)| v == volume))
        };
        let fresh: Vec<&String> = added
            .iter()
            .filter_map(|c| c.volume.as_ref().map(|(v, _)| v))
            .filter(|v| !in_use(v))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for volume in &fresh {
            if volumes.contains(*volume) {
                self.engine.remove_volume(volume).await?;
            }
        }
        let brought = self.bring_up(&added, new, after).await;
        if brought.is_err() {
            // The lab goes back to what its record says: nothing half-made
            // stays behind.
            for c in added.iter().rev() {
                let _ = self.engine.remove_container(&c.name).await;
            }
            for volume in &fresh {
                let _ = self.engine.remove_volume(volume).await;
            }
            self.note("what this action created is removed again".to_owned());
        }
        brought
    }

    /// Creates, starts and checks `added` (containers of `new`).
    async fn bring_up(
        &self,
        added: &[&ContainerPlan],
        new: &Plan,
        after: &LabState,
    ) -> Result<(), LabError> {
        let forward = self.forward();
        let run = self.run(&forward, after.flavor);
        let labels = names::lab_labels(&after.lab);
        let existing = self.engine.volumes(&names::lab_filter(&after.lab)).await?;
        let mut created: Vec<&String> = Vec::new();
        for c in added {
            if let Some((volume, _)) = &c.volume
                && !existing.contains(volume)
                && !created.contains(&volume)
            {
                self.explain(format!(
                    "docker volume create --label topolab.lab={} {volume}",
                    after.lab
                ));
                self.engine.create_volume(volume, &labels).await?;
                created.push(volume);
            }
        }
        let order = |c: &ContainerPlan| match c.part {
            Part::Holder => 0,
            Part::Component(k) => match launch::ready_in(k) {
                Phase::Databases => 1,
                Phase::Apps => 2,
                Phase::Web => 3,
                _ => 4,
            },
            Part::Exporter | Part::Vrrp => 5,
            Part::Monitoring | Part::Router | Part::Nat | Part::Reach => 6,
        };
        let stage = |n: u8| -> Vec<&ContainerPlan> {
            added.iter().copied().filter(|c| order(c) == n).collect()
        };
        let (holders, dbs, apps, webs) = (stage(0), stage(1), stage(2), stage(3));
        // Holders first (the others join them); the others are created
        // while the holders start.
        try_join_all(holders.iter().map(|c| run.create(new, c))).await?;
        let others: Vec<&ContainerPlan> = added.iter().copied().filter(|c| order(c) > 0).collect();
        let (started, created) = futures_util::future::join(
            try_join_all(holders.iter().map(|c| run.start_container(c))),
            try_join_all(others.iter().map(|c| run.create(new, c))),
        )
        .await;
        started?;
        created?;
        // Databases, apps and Nginx start together, as `up` starts them;
        // each is checked for real afterwards.
        let servers: Vec<&ContainerPlan> = [&dbs, &apps, &webs]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        try_join_all(servers.iter().map(|c| run.start_container(c))).await?;
        try_join_all(dbs.iter().map(|c| run.wait_ready(c))).await?;
        for c in dbs.iter().filter(|c| c.replica) {
            run.wait_replication(c).await?;
            self.catch_up(after, &c.host).await?;
        }
        try_join_all(apps.iter().chain(&webs).map(|c| run.wait_ready(c))).await?;
        for c in &servers {
            self.note(format!("{} is up", c.name));
        }
        // What needs the servers: load balancers, then monitoring.
        for n in 4..=6 {
            for c in stage(n) {
                run.start_container(c).await?;
                run.wait_ready(c).await?;
                self.note(format!("{} is up", c.name));
            }
        }
        Ok(())
    }

    /// Waits until a new replica holds everything its primary had when
    /// asked.
    async fn catch_up(&self, state: &LabState, host: &HostName) -> Result<(), LabError> {
        let Some(of) = state.topology.source_of(host).cloned() else {
            return Ok(());
        };
        let own = replication::words(state.flavor).own_position;
        let position = replication::query(self.engine, state, &of, own)
            .await
            .map_err(|e| LabError::Step {
                phase: "replica",
                why: e.to_string(),
            })?;
        super::promote::wait_applied(self.engine, state, host, position.trim(), CATCH_UP)
            .await
            .map_err(|e| LabError::Step {
                phase: "replica",
                why: e.to_string(),
            })?;
        let position = match position.trim() {
            "" => "no transaction written yet",
            p => p,
        };
        self.note(format!("{host}/db caught up with {of}/db ({position})"));
        Ok(())
    }

    /// Removes every container of `old` that `new` lacks.
    async fn remove_gone(&self, old: &Plan, new: &Plan) -> Result<(), LabError> {
        // Components before holders: a holder goes last.
        let mut gone: Vec<&ContainerPlan> = old
            .containers
            .iter()
            .filter(|c| !new.containers.iter().any(|n| n.name == c.name))
            .collect();
        gone.sort_by_key(|c| c.part == Part::Holder);
        for c in gone {
            self.explain(format!("docker rm -f -v {}", c.name));
            self.engine.remove_container(&c.name).await?;
            self.note(format!("{} removed", c.name));
        }
        Ok(())
    }

    /// Removes `host`'s volumes of `kinds` (those that exist).
    async fn remove_volumes(
        &self,
        lab: &str,
        host: &HostName,
        kinds: &[VolumeKind],
    ) -> Result<(), LabError> {
        let existing = self.engine.volumes(&names::lab_filter(lab)).await?;
        for kind in kinds {
            let volume = names::volume_of(lab, host, *kind);
            if existing.contains(&volume) {
                self.explain(format!("docker volume rm {volume}"));
                self.engine.remove_volume(&volume).await?;
            }
        }
        Ok(())
    }

    /// The `reach` forwarder of a lab on overlays follows the lab's
    /// databases whatever the step was (a port may have been given on any
    /// step, to a database an older topolab added without one): made when
    /// it does not run yet, made again when a database came or went (a
    /// running container cannot publish another port or join another
    /// network). One that cannot be made again is made as it was, which
    /// is what the lab's record still says after the failed step. The
    /// last database's forwarder goes with it (`remove_gone`).
    async fn sync_reach(&self, old: &Plan, new: &Plan, after: &LabState) -> Result<(), LabError> {
        let reach = |p: &Plan| p.containers.iter().find(|c| c.part == Part::Reach).cloned();
        let Some(c) = reach(new) else {
            return Ok(());
        };
        match reach(old) {
            None => {
                // A step that adds containers has made it already.
                if self.engine.state(&c.name).await.is_ok() {
                    return Ok(());
                }
                self.make(new, &c, after.flavor).await?;
                self.note(format!("{} is up", c.name));
                Ok(())
            }
            Some(o) if o.ports != c.ports || o.networks != c.networks => {
                match self.recreate(new, &c, after.flavor).await {
                    Ok(()) => {
                        self.note("the databases' forwarder was made again".to_owned());
                        Ok(())
                    }
                    Err(e) => {
                        self.note(match self.recreate(old, &o, after.flavor).await {
                            Ok(()) => "the databases' forwarder runs as it was".to_owned(),
                            Err(back) => format!(
                                "the databases' forwarder could not be made as it was either \
                                 ({back}): `topolab status` cannot read the databases until \
                                 the lab is relaunched"
                            ),
                        });
                        Err(e)
                    }
                }
            }
            Some(_) => Ok(()),
        }
    }

    /// Removes `c` and makes it again from `new`.
    async fn recreate(
        &self,
        new: &Plan,
        c: &ContainerPlan,
        flavor: Flavor,
    ) -> Result<(), LabError> {
        self.explain(format!("docker rm -f {}", c.name));
        self.engine.remove_container(&c.name).await?;
        self.make(new, c, flavor).await
    }

    /// Creates `c` from `new`, starts it and waits until it is ready.
    async fn make(&self, new: &Plan, c: &ContainerPlan, flavor: Flavor) -> Result<(), LabError> {
        let forward = self.forward();
        let run = self.run(&forward, flavor);
        run.create(new, c).await?;
        run.start_container(c).await?;
        run.wait_ready(c).await
    }

    /// Restarts `c` with its new files and waits until it is ready.
    async fn restart(&self, c: &ContainerPlan, flavor: Flavor) -> Result<(), LabError> {
        self.upload_files(c).await?;
        self.explain(format!("docker restart {}", c.name));
        self.engine.restart(&c.name, 5).await?;
        let forward = self.forward();
        self.run(&forward, flavor).wait_ready(c).await?;
        self.note(format!("{} restarted", c.name));
        Ok(())
    }

    /// Sets `server`'s state in every load balancer of `state` that has it.
    pub(super) async fn server_state(
        &self,
        state: &LabState,
        server: &HostName,
        word: &str,
    ) -> Result<(), LabError> {
        self.explain(format!(
            "echo 'set server web/{server} state {word}' | socat - UNIX-CONNECT:{}",
            paths::HAPROXY_SOCKET
        ));
        haproxy::set_server_state(self.engine, state, server, word)
            .await
            .map_err(|e| LabError::Step {
                phase: "load balancer",
                why: e.to_string(),
            })
    }

    /// Waits (bounded) until every load balancer that has `server` sees it
    /// UP again, and says when.
    pub(super) async fn back_in_rotation(&self, state: &LabState, server: &HostName) {
        let start = Instant::now();
        for (lb, balancer) in state.topology.load_balancers() {
            if !balancer.backends.iter().any(|b| &b.host == server) {
                continue;
            }
            let container = lb_container(&state.lab, &lb.name);
            loop {
                let up = haproxy::servers(self.engine, &container)
                    .await
                    .is_ok_and(|all| {
                        all.iter().any(|s| {
                            s.server == server.as_str()
                                && s.status == crate::live::BackendStatus::Up
                        })
                    });
                if up {
                    self.note(format!(
                        "{server} back in rotation on {}/lb after {} ms",
                        lb.name,
                        start.elapsed().as_millis()
                    ));
                    break;
                }
                if start.elapsed() > DRAIN_LIMIT {
                    self.note(format!(
                        "{server} not UP on {}/lb after {} s: its checks will bring it back",
                        lb.name,
                        DRAIN_LIMIT.as_secs()
                    ));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Drains `server` in load balancer `lb`: no new requests, then waits
    /// (bounded) until its sessions end.
    pub(super) async fn drain(
        &self,
        container: &str,
        lb: &HostName,
        server: &HostName,
    ) -> Result<(), LabError> {
        let line = format!("set server web/{server} state drain");
        self.explain(format!(
            "echo '{line}' | socat - UNIX-CONNECT:{}",
            paths::HAPROXY_SOCKET
        ));
        self.lb_command(container, lb, &line).await?;
        let start = Instant::now();
        loop {
            let sessions = haproxy::command(self.engine, container, "show stat")
                .await
                .ok()
                .and_then(|csv| current_sessions(&csv, server.as_str()));
            if sessions.is_none_or(|n| n == 0) {
                self.note(format!(
                    "{server} drained from {lb}/lb in {} ms",
                    start.elapsed().as_millis()
                ));
                return Ok(());
            }
            if start.elapsed() > DRAIN_LIMIT {
                self.note(format!(
                    "{server} still had {} session(s) on {lb}/lb after {} s: removing it anyway",
                    sessions.unwrap_or(0),
                    DRAIN_LIMIT.as_secs()
                ));
                return Ok(());
            }
            // Each look costs the load balancer's host some CPU.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(super) async fn lb_command(
        &self,
        container: &str,
        lb: &HostName,
        line: &str,
    ) -> Result<(), LabError> {
        let answer = haproxy::command(self.engine, container, line)
            .await
            .map_err(|e| LabError::Step {
                phase: "load balancer",
                why: e.to_string(),
            })?;
        if answer.trim().is_empty() {
            Ok(())
        } else {
            Err(LabError::Step {
                phase: "load balancer",
                why: format!("{lb}/lb refused `{line}`: {}", answer.trim()),
            })
        }
    }

    async fn set_weights(
        &self,
        container: &str,
        lb: &HostName,
        settings: &crate::model::LoadBalancer,
    ) -> Result<(), LabError> {
        for b in &settings.backends {
            let line = format!("set weight web/{} {}", b.host, b.weight);
            self.explain(format!(
                "echo '{line}' | socat - UNIX-CONNECT:{}",
                paths::HAPROXY_SOCKET
            ));
            self.lb_command(container, lb, &line).await?;
        }
        self.note(format!("{lb}/lb's weights set through its runtime API"));
        Ok(())
    }

    async fn resize(
        &self,
        plan: &Plan,
        host: &HostName,
        size: crate::model::HostSize,
    ) -> Result<(), LabError> {
        let targets: Vec<&ContainerPlan> = plan
            .containers
            .iter()
            .filter(|c| &c.host == host)
            .filter(|c| self.resources == ResourceMode::PerContainer || c.part == Part::Holder)
            .collect();
        for c in targets {
            self.explain(format!(
                "docker update --cpus {} --memory {}m --memory-swap {}m {}",
                crate::model::cpus_text(size.cpus),
                size.memory_mib,
                size.memory_mib,
                c.name
            ));
            self.engine
                .update_limits(&c.name, size.nano_cpus(), size.memory_bytes())
                .await?;
        }
        Ok(())
    }

    /// Semi-sync on or off on every database: on, replicas first (each
    /// reconnects so its primary sees a semi-sync replica); off, the
    /// primaries first (no commit waits for a replica that stopped
    /// acknowledging).
    async fn semi_sync(&self, state: &LabState, on: bool) -> Result<(), LabError> {
        let mut dbs: Vec<(HostName, bool)> = state
            .topology
            .databases()
            .map(|(h, d)| (h.name.clone(), matches!(d.role, Role::Replica { .. })))
            .collect();
        dbs.sort_by_key(|(_, replica)| *replica != on);
        let w = replication::words(state.flavor);
        let sql_failed = |e: replication::SqlError| LabError::Step {
            phase: "replication",
            why: e.to_string(),
        };
        for (host, replica) in &dbs {
            if on && state.flavor == crate::model::Flavor::Mysql {
                let (count, install) = replication::SEMI_SYNC_PLUGINS;
                let loaded = replication::query(self.engine, state, host, count)
                    .await
                    .map_err(sql_failed)?;
                if loaded.trim() != "2" {
                    self.explain(format!("{host}/db: {install}"));
                    replication::query(self.engine, state, host, install)
                        .await
                        .map_err(sql_failed)?;
                }
            }
            let statement = replication::semi_sync(state.flavor, on);
            self.explain(format!("{host}/db: {statement}"));
            replication::query(self.engine, state, host, &statement)
                .await
                .map_err(sql_failed)?;
            if *replica {
                self.explain(format!("{host}/db: {}", w.restart_io));
                replication::query(self.engine, state, host, w.restart_io)
                    .await
                    .map_err(sql_failed)?;
            }
            self.note(format!(
                "{host}/db: semi-sync {}",
                if on { "on" } else { "off" }
            ));
        }
        Ok(())
    }

    /// Every container in both `old` and `new` (but `skip`) whose generated
    /// files differ gets them, and takes them in live: HAProxy reloads,
    /// Nginx reloads, apps are repointed, Prometheus rereads its config, a
    /// database keeps its my.cnf for its next start.
    async fn sync_files(
        &self,
        old: &Plan,
        new: &Plan,
        after: &LabState,
        skip: Option<&str>,
    ) -> Result<(), LabError> {
        // The servers first, then the load balancers that send to them,
        // then the DNS servers whose records name the load balancers.
        let order = |c: &&ContainerPlan| match c.part {
            Part::Component(ComponentKind::Lb) => 1,
            Part::Component(ComponentKind::Dns) => 2,
            _ => 0,
        };
        let mut ordered: Vec<&ContainerPlan> = new.containers.iter().collect();
        ordered.sort_by_key(order);
        for c in ordered {
            if Some(c.name.as_str()) == skip {
                continue;
            }
            let Some(o) = old.containers.iter().find(|o| o.name == c.name) else {
                continue;
            };
            if o.files == c.files {
                continue;
            }
            match c.part {
                Part::Component(ComponentKind::Lb) => self.reload_lb(after, c, o).await?,
                Part::Component(ComponentKind::Nginx) => self.reload_nginx(c).await?,
                Part::Component(ComponentKind::App) => {
                    self.upload_files(c).await?;
                    self.repoint_app(after, &new.artifacts, &c.host).await?;
                }
                Part::Component(ComponentKind::Db) => self.upload_files(c).await?,
                Part::Component(ComponentKind::Dns) => self.reload_dns(after, c).await?,
                Part::Monitoring => {
                    self.upload_files(c).await?;
                    self.explain(format!("docker kill -s HUP {}", c.name));
                    self.engine.kill(&c.name, "SIGHUP").await?;
                    self.note("Prometheus reread its targets".to_owned());
                }
                Part::Vrrp => {
                    self.upload_files(c).await?;
                    self.explain(format!("docker kill -s HUP {}", c.name));
                    self.engine.kill(&c.name, "SIGHUP").await?;
                    self.note(format!("{}'s keepalived reread its configuration", c.host));
                }
                // A database came or went: `sync_reach` makes it again.
                Part::Reach if o.ports != c.ports || o.networks != c.networks => {}
                Part::Reach => {
                    self.upload_files(c).await?;
                    self.explain(format!("docker kill -s USR2 {}", c.name));
                    self.engine.kill(&c.name, "SIGUSR2").await?;
                    self.note("the databases' forwarder reloaded".to_owned());
                }
                Part::Nat => {
                    self.upload_files(c).await?;
                    self.explain(format!("docker kill -s USR2 {}", c.name));
                    self.engine.kill(&c.name, "SIGUSR2").await?;
                    self.note("the virtual IPs' forwarder reloaded".to_owned());
                }
                Part::Holder | Part::Exporter | Part::Router => {}
            }
        }
        Ok(())
    }

    /// Copies a container's generated files in (secrets excluded).
    async fn upload_files(&self, c: &ContainerPlan) -> Result<(), LabError> {
        let files: Vec<(&str, &[u8], u32)> = c
            .files
            .iter()
            .filter(|f| f.source.is_some())
            .map(|f| (f.path.as_str(), f.content.as_bytes(), f.mode))
            .collect();
        for f in c.files.iter().filter(|f| f.source.is_some()) {
            if let Some(src) = &f.source {
                self.explain(format!("docker cp {src} {}:{}", c.name, f.path));
            }
        }
        let tar = super::images::tar_of(&files).map_err(|e| LabError::Step {
            phase: "copy configs",
            why: e.to_string(),
        })?;
        self.engine.upload(&c.name, tar).await?;
        Ok(())
    }

    /// Reloads HAProxy with its new haproxy.cfg: its master reads the file
    /// again and, when it is valid, starts a new worker that takes the
    /// listening sockets over while the old one finishes its requests (an
    /// invalid file leaves the old worker running, and the old file is put
    /// back). Then the servers get their states back: drained and
    /// maintenance servers stay so, and a server that was down is marked
    /// down at once instead of waiting for its checks.
    ///
    /// Cheap on the load balancer's CPU, which its host's size limits: the
    /// master's own check instead of a `haproxy -c` beside it, and its log
    /// (read by the engine) instead of polling its runtime API.
    async fn reload_lb(
        &self,
        state: &LabState,
        c: &ContainerPlan,
        old: &ContainerPlan,
    ) -> Result<(), LabError> {
        let lb = &c.host;
        let cfg_of = |p: &ContainerPlan| {
            p.files
                .iter()
                .find(|f| f.path.ends_with("haproxy.cfg"))
                .cloned()
        };
        let (Some(cfg), Some(old_cfg)) = (cfg_of(c), cfg_of(old)) else {
            return Err(step_error("load balancer")(format!(
                "{lb}/lb has no haproxy.cfg"
            )));
        };
        let before = haproxy::servers(self.engine, &c.name)
            .await
            .unwrap_or_default();
        let outcomes = |log: &str| {
            (
                log.matches(RELOADED).count(),
                log.matches(NOT_RELOADED).count(),
            )
        };
        // The log of the last seconds: it only grows while we look.
        let since = i64::try_from(crate::live::now() / 1000).unwrap_or(0) - 5;
        let earlier = outcomes(&self.engine.log_since(&c.name, since).await);
        self.put_file(&c.name, &cfg).await?;
        self.explain(format!("docker kill -s USR2 {}", c.name));
        self.engine.kill(&c.name, "SIGUSR2").await?;
        let start = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let log = self.engine.log_since(&c.name, since).await;
            let (ok, failed) = outcomes(&log);
            if ok > earlier.0 {
                break;
            }
            if failed > earlier.1 || start.elapsed() > RELOAD_LIMIT {
                // The old worker still serves: its file goes back too, so a
                // restart runs what runs now.
                self.put_file(&c.name, &old_cfg).await?;
                let tail: Vec<&str> = log.lines().rev().take(12).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(LabError::Step {
                    phase: "load balancer",
                    why: format!(
                        "{lb}/lb did not take its new haproxy.cfg (the old one keeps serving); its last log lines:\n{}",
                        tail.join("\n")
                    ),
                });
            }
        }
        let servers: Vec<HostName> = state
            .topology
            .host(lb)
            .and_then(|h| h.load_balancer())
            .map(|l| l.backends.iter().map(|b| b.host.clone()).collect())
            .unwrap_or_default();
        let mut kept = Vec::new();
        for s in before
            .iter()
            .filter(|s| servers.iter().any(|h| h.as_str() == s.server))
        {
            let line = match s.status {
                crate::live::BackendStatus::Maintenance => {
                    format!("set server web/{} state maint", s.server)
                }
                crate::live::BackendStatus::Drain => {
                    format!("set server web/{} state drain", s.server)
                }
                crate::live::BackendStatus::Down => {
                    format!("set server web/{} health down", s.server)
                }
                _ => continue,
            };
            self.explain(format!(
                "echo '{line}' | socat - UNIX-CONNECT:{}",
                paths::HAPROXY_SOCKET
            ));
            self.lb_command(&c.name, lb, &line).await?;
            kept.push(line);
        }
        self.note(format!(
            "{lb}/lb reloaded in {} ms{}",
            start.elapsed().as_millis(),
            if kept.is_empty() {
                String::new()
            } else {
                format!(" (server states kept: {})", kept.join(", "))
            }
        ));
        Ok(())
    }

    /// Copies one generated file into a container.
    async fn put_file(&self, container: &str, f: &super::plan::FileSpec) -> Result<(), LabError> {
        if let Some(src) = &f.source {
            self.explain(format!("docker cp {src} {container}:{}", f.path));
        }
        let tar = super::images::tar_of(&[(f.path.as_str(), f.content.as_bytes(), f.mode)])
            .map_err(|e| step_error("copy configs")(e.to_string()))?;
        self.engine.upload(container, tar).await?;
        Ok(())
    }

    /// Checks the new nginx.conf with `nginx -t`, then reloads Nginx (its
    /// workers finish their requests).
    /// New zone files for a DNS server, and PowerDNS re-reads the zone
    /// (its BIND backend's `bind-reload-now`): no restart, no lost query.
    async fn reload_dns(&self, after: &LabState, c: &ContainerPlan) -> Result<(), LabError> {
        self.upload_files(c).await?;
        let (zone, _) = crate::generate::dns::zone_of(&after.topology.domain);
        let config = format!("--config-dir={}", paths::CONFIG_DIR);
        let cmd = [
            "pdns_control",
            config.as_str(),
            "bind-reload-now",
            zone.as_str(),
        ];
        self.explain(format!("docker exec {} {}", c.name, cmd.join(" ")));
        match self.engine.exec(&c.name, &cmd).await? {
            (0, out) if !out.to_ascii_lowercase().contains("error") => {
                self.note(format!("{}/dns re-read its zone {zone}", c.host));
                Ok(())
            }
            (code, out) => Err(LabError::Step {
                phase: "DNS server",
                why: format!(
                    "{}/dns did not re-read its zone ({code}): {}",
                    c.host,
                    out.trim()
                ),
            }),
        }
    }

    async fn reload_nginx(&self, c: &ContainerPlan) -> Result<(), LabError> {
        self.upload_files(c).await?;
        let conf = format!("{}/nginx.conf", paths::CONFIG_DIR);
        let script = format!("nginx -t -q -c {conf} && nginx -c {conf} -s reload");
        self.explain(format!("docker exec {} sh -c '{script}'", c.name));
        match self.engine.exec(&c.name, &["sh", "-c", &script]).await? {
            (0, _) => {
                self.note(format!("{}/nginx reloaded", c.host));
                Ok(())
            }
            (code, out) => Err(LabError::Step {
                phase: "web server",
                why: format!(
                    "{}/nginx refused its new config ({code}): {}",
                    c.host,
                    out.trim()
                ),
            }),
        }
    }

    async fn repoint_app(
        &self,
        state: &LabState,
        artifacts: &crate::generate::Artifacts,
        host: &HostName,
    ) -> Result<(), LabError> {
        let Some(h) = state.topology.host(host) else {
            return Ok(());
        };
        let config = artifacts
            .get(&format!("{host}/app.json"))
            .and_then(|text| serde_json::from_str::<AppConfig>(text).ok());
        if let Some(config) = &config {
            self.explain(format!(
                "docker exec {} curl --unix-socket {} -X PUT http://app/admin/databases (writer {}, {} reader(s))",
                plan::container_name(&state.lab, host, Part::Component(ComponentKind::App)),
                config.admin_socket,
                config.writer.host,
                config.readers.len()
            ));
        }
        let said = super::promote::repoint_app(self.engine, state, artifacts, h)
            .await
            .map_err(|e| step_error("app")(e.to_string()))?;
        match (said, config) {
            // Repointed: say where it reads and writes now.
            (Some(said), Some(config)) if said.contains(" now writes to ") => {
                let readers: Vec<String> = config
                    .readers
                    .iter()
                    .map(|r| format!("{}/db", r.host))
                    .collect();
                self.note(format!(
                    "{host}/app repointed: writes to {}/db, reads from {}",
                    config.writer.host,
                    if readers.is_empty() {
                        "the primary".to_owned()
                    } else {
                        readers.join(", ")
                    }
                ));
            }
            (Some(said), _) => self.note(said),
            (None, _) => {}
        }
        Ok(())
    }
}

/// The release `host`'s app runs and the one it switches to, when they
/// differ.
fn release_change(
    before: &LabState,
    after: &LabState,
    host: &HostName,
) -> Option<(String, String)> {
    let release = |s: &LabState| Some(s.topology.host(host)?.app_server()?.release.clone());
    let (was, will) = (release(before)?, release(after)?);
    (was != will).then_some((was, will))
}

/// The containers of `host` to restart: an app on a new port (it binds
/// its port when it starts).
fn restarts<'p>(old: &Plan, new: &'p Plan, host: &HostName) -> Vec<&'p ContainerPlan> {
    new.containers
        .iter()
        .filter(|c| &c.host == host && c.part == Part::Component(ComponentKind::App))
        .filter(|c| {
            old.containers
                .iter()
                .any(|o| o.name == c.name && o.serves_on != c.serves_on)
        })
        .collect()
}

pub(super) fn lb_container(lab: &str, host: &HostName) -> String {
    plan::container_name(lab, host, Part::Component(ComponentKind::Lb))
}

/// A server's current sessions (`scur`) in `show stat` CSV.
fn current_sessions(csv: &str, server: &str) -> Option<u64> {
    let mut lines = csv.lines();
    let header = lines.next()?.strip_prefix("# ")?;
    let columns: BTreeMap<&str, usize> =
        header.split(',').enumerate().map(|(i, c)| (c, i)).collect();
    let (sv, scur) = (*columns.get("svname")?, *columns.get("scur")?);
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f.get(sv) == Some(&server))
        .and_then(|f| f.get(scur)?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_sessions_of_a_server() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax\nweb,web-01,0,0,3,9\nweb,web-02,0,0,0,1\n";
        assert_eq!(current_sessions(csv, "web-01"), Some(3));
        assert_eq!(current_sessions(csv, "web-02"), Some(0));
        assert_eq!(current_sessions(csv, "web-03"), None);
        assert_eq!(current_sessions("", "web-01"), None);
    }
}
