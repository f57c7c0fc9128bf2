//! `up` and `down`: execute a launch plan against the engine, with real
//! readiness checks, progress per phase, the equivalent commands for
//! `--explain`, and a teardown that leaves nothing behind, also when a
//! launch fails or is cancelled.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use tokio_util::sync::CancellationToken;

use super::docker::{
    CGROUP_ROOT, ContainerInfo, CreateSpec, Engine, NetworkDriver, NetworkSpec, ResourceMode,
};
pub use super::error::LabError;
use super::images::{self, ImageError, Profile};
use super::plan::{self, ContainerPlan, EntryPoint, Part, Plan, PlanParams};
use super::replication::{replication_running, sql};
use super::state::{LabState, StateError};
use crate::generate::{Readiness, Secrets};
use crate::model::{
    ComponentKind, Flavor, Machine, Topology, cpus_text, dns_label_problem, sizes_beyond,
};
pub use crate::protocol::{Phase, Progress};

/// How to launch.
#[derive(Clone, Debug, Default)]
pub struct UpOptions {
    /// Lab name; default: the topology's name.
    pub name: Option<String>,
    /// Image profile; default: what is present.
    pub profile: Option<Profile>,
    /// How long readiness may take before the launch fails.
    pub timeout: Option<Duration>,
    /// Build the local images first when they are missing (about a
    /// minute, once) instead of failing.
    pub build_images: bool,
    /// Bridges, or overlays of the engine's swarm.
    pub networks: NetworkDriver,
    /// The engines the lab spans, its home first (empty: one engine). The
    /// engine given to [`up`] must span them ([`Engine::spanning`]).
    pub engines: Vec<super::engines::EngineRef>,
    /// Each host's engine, when it spans several.
    pub placement: crate::placement::Placement,
}

/// What a successful launch made.
#[derive(Clone, Debug)]
pub struct Launched {
    /// The lab's name.
    pub lab: String,
    /// Where clients reach it.
    pub entry_points: Vec<EntryPoint>,
    /// When each phase finished, from the start.
    pub phases: Vec<(Phase, Duration)>,
    /// The plan that ran (its artifacts are the files as launched).
    pub plan: Plan,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(100);

/// Launches `topology`. On failure or cancellation everything created is
/// removed before returning.
pub async fn up(
    engine: &Engine,
    topology: &Topology,
    options: &UpOptions,
    cancel: &CancellationToken,
    report: &(dyn Fn(Progress) + Sync),
) -> Result<Launched, LabError> {
    let lab = options
        .name
        .clone()
        .unwrap_or_else(|| topology.name.clone());
    check_lab_name(&lab)?;
    let problems = crate::model::validate(topology);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(LabError::Refused(format!(
            "the topology is not valid: {}",
            list.join("; ")
        )));
    }
    let label = super::names::lab_filter(&lab);
    let exists = !engine.containers(&label).await?.is_empty()
        || !engine.networks(&label).await?.is_empty()
        || !engine.volumes(&label).await?.is_empty();
    if exists {
        return Err(LabError::Refused(format!(
            "a lab named {lab} already exists: `topolab down {lab}` removes it, or pass --name"
        )));
    }
    // Only one process launches a given lab at a time.
    LabState::claim(&lab).map_err(|e| match e {
        StateError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
            LabError::Refused(format!(
                "lab {lab} is being launched by another topolab (or a launch was killed): \
                 `topolab down {lab}` clears it"
            ))
        }
        other => other.into(),
    })?;
    let mut run = Run {
        engine,
        report,
        cancel,
        start: Instant::now(),
        phases: Vec::new(),
        timeout: options.timeout.unwrap_or(DEFAULT_TIMEOUT),
        flavor: Flavor::Mariadb,
        resources: ResourceMode::PerContainer,
    };
    let prepared = match run.prepare(topology, &lab, options).await {
        Ok(p) => p,
        Err(e) => {
            // Nothing was created in Docker yet: release the claim.
            let _ = LabState::remove(&lab);
            return Err(e);
        }
    };
    let (plan, state) = prepared;
    let outcome = match state.save() {
        Ok(()) => run.execute(&plan).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(()) => Ok(Launched {
            lab,
            entry_points: plan.entry_points.clone(),
            phases: run.phases,
            plan,
        }),
        Err(e) => {
            report(Progress::Note(format!(
                "launch failed; removing what it created ({e})"
            )));
            let e = if cancel.is_cancelled() {
                LabError::Cancelled
            } else {
                e
            };
            match down(engine, &lab, report).await {
                Ok(_) => Err(e),
                Err(cleanup) => Err(LabError::Step {
                    phase: "cleanup",
                    why: format!("{e}; removing what the launch created failed too: {cleanup}"),
                }),
            }
        }
    }
}

/// One launch in progress (or an apply's new containers).
pub(super) struct Run<'a> {
    engine: &'a Engine,
    report: &'a (dyn Fn(Progress) + Sync),
    cancel: &'a CancellationToken,
    start: Instant,
    phases: Vec<(Phase, Duration)>,
    timeout: Duration,
    flavor: Flavor,
    /// How the engine enforces host sizes (known once prepared).
    resources: ResourceMode,
}

impl<'a> Run<'a> {
    /// A run that creates and checks containers of a lab that runs
    /// already (`apply`), as a launch does.
    pub(super) fn for_running_lab(
        engine: &'a Engine,
        report: &'a (dyn Fn(Progress) + Sync),
        cancel: &'a CancellationToken,
        flavor: Flavor,
        resources: ResourceMode,
    ) -> Self {
        Self {
            engine,
            report,
            cancel,
            start: Instant::now(),
            phases: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            flavor,
            resources,
        }
    }

    fn explain(&self, command: String) {
        (self.report)(Progress::Explain(command));
    }

    fn finished(&mut self, phase: Phase) {
        let at = self.start.elapsed();
        self.phases.push((phase, at));
        (self.report)(Progress::Finished { phase, at });
    }

    fn check_cancel(&self) -> Result<(), LabError> {
        if self.cancel.is_cancelled() {
            Err(LabError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Images, subnet, ports, secrets, plan, memory check: nothing created
    /// yet in Docker.
    async fn prepare(
        &mut self,
        topology: &Topology,
        lab: &str,
        options: &UpOptions,
    ) -> Result<(Plan, LabState), LabError> {
        (self.report)(Progress::Started(Phase::Images));
        let flavor = topology.databases.flavor;
        let profile = match images::pick_profile(self.engine, options.profile, flavor).await {
            Err(ImageError::Missing { image, .. })
                if options.build_images && options.profile != Some(Profile::Official) =>
            {
                (self.report)(Progress::Note(format!(
                    "{image} is missing or out of date: building the lab's images here (about a minute, once)"
                )));
                let note = |line: String| (self.report)(Progress::Note(line));
                images::build_base(self.engine, &note).await?;
                Profile::Local
            }
            other => other?,
        };
        (self.report)(Progress::Note(format!(
            "using the {} image profile",
            profile.as_str()
        )));
        let app_image = images::ensure_app_image(self.engine, profile).await?;
        self.finished(Phase::Images);
        self.check_cancel()?;

        if options.networks == NetworkDriver::Overlay {
            check_swarm(self.engine).await?;
        }
        let networks = crate::model::networks(topology).len();
        let first_subnet = free_subnet(self.engine, networks).await?;
        let (ports, vip_ports) = choose_ports(topology)?;
        let dns_ports = choose_dns_ports(topology)?;
        let reach_ports = if options.networks == NetworkDriver::Overlay {
            let entry = ports.values().chain(vip_ports.values());
            let taken = entry
                .flat_map(|(http, https)| [Some(*http), *https])
                .flatten()
                .chain(dns_ports.values().copied())
                .collect();
            choose_reach_ports(topology, &taken)?
        } else {
            BTreeMap::new()
        };
        let secrets = Secrets::generate(&topology.domain)?;
        let params = PlanParams {
            lab: lab.to_owned(),
            profile,
            app_image: app_image.clone(),
            first_subnet,
            ports,
            dns_ports,
            vip_ports,
            numbers: crate::model::HostNumbers::new(),
            reach_ports,
        };
        let mut plan = plan::plan(topology, &secrets, &params)?;
        plan.network_driver = options.networks;
        if self.engine.spans() {
            let mut images: Vec<String> = plan.containers.iter().map(|c| c.image.clone()).collect();
            images.sort();
            images.dedup();
            for (engine, image) in self.engine.spread_images(&images).await? {
                (self.report)(Progress::Note(format!(
                    "copied {image} to engine {engine} (save and load through the engines' APIs)"
                )));
            }
        }
        self.flavor = plan.flavor;
        if let Some(note) = plan.flavor_note() {
            (self.report)(Progress::Note(note));
        }
        self.resources = check_resources(self.engine, topology, &plan).await?;
        if self.resources == ResourceMode::PerContainer {
            (self.report)(Progress::Note(
                "this engine cannot nest cgroups (it needs cgroup v1 with the cgroupfs driver): \
                 each container gets its host's size as its own limit, so a host's components \
                 together may use more than its size"
                    .to_owned(),
            ));
        }
        let mut state = LabState::new(
            lab.to_owned(),
            topology.clone(),
            profile,
            plan.flavor,
            first_subnet,
            app_image,
            plan.entry_points.clone(),
            secrets,
        );
        state.dns_servers = plan.dns_servers.clone();
        state.vip_ports = plan.vip_ports.clone();
        state.network_driver = plan.network_driver;
        state.engines = options.engines.clone();
        state.reach_ports = params.reach_ports.clone();
        state.placement = options.placement.clone();
        Ok((plan, state))
    }

    async fn execute(&mut self, plan: &Plan) -> Result<(), LabError> {
        let engine = self.engine;
        (self.report)(Progress::Started(Phase::Networks));
        let labels = plan.lab_labels();
        all(plan.networks.iter().map(|n| {
            let driver = match plan.network_driver {
                NetworkDriver::Bridge => String::new(),
                NetworkDriver::Overlay => "--driver overlay --attachable ".to_owned(),
            };
            self.explain(format!(
                "docker network create {driver}--subnet {} --gateway {} --label topolab.lab={} {}",
                n.subnet, n.gateway, plan.lab, n.name
            ));
            let gateway = n.gateway.to_string();
            let labels = &labels;
            async move {
                engine
                    .create_network(&NetworkSpec {
                        name: &n.name,
                        driver: plan.network_driver,
                        subnet: &n.subnet,
                        gateway: &gateway,
                        labels,
                    })
                    .await
            }
        }))
        .await?;
        all(plan.volumes.iter().map(|v| {
            self.explain(format!(
                "docker volume create --label topolab.lab={} {v}",
                plan.lab
            ));
            engine.create_volume(v, &labels)
        }))
        .await?;
        self.finished(Phase::Networks);
        self.check_cancel()?;

        (self.report)(Progress::Started(Phase::Hosts));
        let holders = plan.containers.iter().filter(|c| c.part == Part::Holder);
        let standalone = plan
            .containers
            .iter()
            .filter(|c| matches!(c.part, Part::Monitoring | Part::Nat | Part::Reach));
        // The router first: replicas in one region reach their source in
        // another through it from their first start.
        let router = plan.containers.iter().find(|c| c.part == Part::Router);
        let (hosts, others, wan) = futures_util::future::join3(
            all(holders.map(|h| self.bring_up_host(plan, h))),
            all(standalone.map(|c| self.create(plan, c))),
            async {
                match router {
                    Some(r) => self.bring_up_router(plan, r).await,
                    None => Ok(()),
                }
            },
        )
        .await;
        hosts?;
        others?;
        wan?;
        // topolab's way in to the databases of a lab on overlays.
        if let Some(reach) = plan.containers.iter().find(|c| c.part == Part::Reach) {
            self.start_container(reach).await?;
        }
        self.finished(Phase::Hosts);
        self.check_cancel()?;

        (self.report)(Progress::Started(Phase::Databases));
        let topology_dbs = of_phase(plan, Phase::Databases);
        try_join_all(topology_dbs.iter().map(|c| self.wait_ready(c))).await?;
        self.finished(Phase::Databases);
        self.check_cancel()?;

        (self.report)(Progress::Started(Phase::Replication));
        let replicas: Vec<&ContainerPlan> = plan.containers.iter().filter(|c| c.replica).collect();
        try_join_all(replicas.iter().map(|c| self.wait_replication(c))).await?;
        self.finished(Phase::Replication);

        (self.report)(Progress::Started(Phase::Apps));
        try_join_all(
            of_phase(plan, Phase::Apps)
                .iter()
                .map(|c| self.wait_ready(c)),
        )
        .await?;
        self.finished(Phase::Apps);

        (self.report)(Progress::Started(Phase::Web));
        try_join_all(
            of_phase(plan, Phase::Web)
                .iter()
                .map(|c| self.wait_ready(c)),
        )
        .await?;
        self.finished(Phase::Web);
        self.check_cancel()?;

        let lbs = of_phase(plan, Phase::LoadBalancers);
        if !lbs.is_empty() {
            (self.report)(Progress::Started(Phase::LoadBalancers));
            try_join_all(lbs.iter().map(|c| self.start_container(c))).await?;
            try_join_all(lbs.iter().map(|c| self.wait_ready(c))).await?;
            try_join_all(
                plan.vips
                    .iter()
                    .map(|(vip, address)| self.wait_vip(plan, vip, *address)),
            )
            .await?;
            // The virtual IPs' published ports, once each address is held.
            if let Some(nat) = plan.containers.iter().find(|c| c.part == Part::Nat) {
                self.start_container(nat).await?;
            }
            self.finished(Phase::LoadBalancers);
        }
        // Every entry point answers from here, through its published port.
        if Engine::is_local() {
            for e in &plan.entry_points {
                self.wait_published(&e.host.to_string(), e.http).await?;
            }
            for v in &plan.vip_ports {
                self.wait_published(&format!("vip .{}", v.number), v.http)
                    .await?;
            }
        }
        if let Some(monitoring) = plan.containers.iter().find(|c| c.part == Part::Monitoring) {
            (self.report)(Progress::Started(Phase::Monitoring));
            self.start_container(monitoring).await?;
            self.wait_ready(monitoring).await?;
            self.finished(Phase::Monitoring);
        }
        Ok(())
    }

    /// Creates and starts the router joining the regions, then says
    /// whether it delays what crosses it: where the kernel has no netem it
    /// forwards without the WAN's latency.
    async fn bring_up_router(&self, plan: &Plan, router: &ContainerPlan) -> Result<(), LabError> {
        self.create(plan, router).await?;
        self.start_container(router).await?;
        let latency_ms = plan.wan_latency_ms;
        if latency_ms == 0 {
            return Ok(());
        }
        self.explain(format!("docker exec {} tc qdisc show", router.name));
        // Once the router has set its interfaces up (it says so in a file).
        let script = format!(
            "for i in $(seq 50); do [ -e {} ] && break; sleep 0.1; done; tc qdisc show",
            crate::generate::recipe::ROUTER_READY
        );
        let (_, shown) = self
            .engine
            .exec(&router.name, &["sh", "-c", &script])
            .await?;
        if !shown.contains("netem") {
            (self.report)(Progress::Note(format!(
                "the regions are joined without their {latency_ms} ms of latency: this \
                 machine's kernel has no netem (sch_netem), which delays the router's packets; \
                 everything else about the regions works"
            )));
        }
        Ok(())
    }

    /// Creates a host's holder, then its components while the holder
    /// starts, then starts every component but the load balancer (which
    /// waits for the web tier). Databases, apps and Nginx start together:
    /// an app needs no database to start, Nginx no app; each is checked
    /// for real afterwards.
    async fn bring_up_host(&self, plan: &Plan, holder: &ContainerPlan) -> Result<(), LabError> {
        self.create(plan, holder).await?;
        let members: Vec<&ContainerPlan> = plan
            .containers
            .iter()
            .filter(|c| c.join.as_deref() == Some(holder.name.as_str()))
            .collect();
        let (started, created) = futures_util::future::join(
            self.start_container(holder),
            all(members.iter().map(|c| self.create(plan, c))),
        )
        .await;
        started?;
        created?;
        try_join_all(
            members
                .iter()
                .filter(|c| !matches!(c.part, Part::Component(k) if ready_in(k) == Phase::LoadBalancers))
                .map(|c| self.start_container(c)),
        )
        .await?;
        Ok(())
    }

    /// `spec` with the limits of its host's size: with nested cgroups the
    /// holder carries the host's budget and every other container of the
    /// host is created inside the holder's cgroup, so they share it.
    async fn sized(&self, mut spec: CreateSpec, c: &ContainerPlan) -> Result<CreateSpec, LabError> {
        let Some(size) = c.size else {
            return Ok(spec);
        };
        let limit = |spec: &mut CreateSpec| {
            spec.nano_cpus = Some(size.nano_cpus());
            spec.memory = Some(size.memory_bytes());
        };
        match (self.resources, &c.join) {
            (ResourceMode::Shared, None) => {
                spec.cgroup_parent = Some(CGROUP_ROOT.to_owned());
                limit(&mut spec);
            }
            (ResourceMode::Shared, Some(holder)) => {
                let id = self.engine.container_id(holder).await?;
                spec.cgroup_parent = Some(format!("{CGROUP_ROOT}/{id}"));
            }
            (ResourceMode::PerContainer, _) => limit(&mut spec),
        }
        Ok(spec)
    }

    pub(super) async fn create(&self, plan: &Plan, c: &ContainerPlan) -> Result<(), LabError> {
        let labels = plan.labels(&c.host, c.part);
        let spec = CreateSpec {
            name: c.name.clone(),
            image: c.image.clone(),
            cmd: c.cmd.clone(),
            labels: labels.clone(),
            hostname: (c.part == Part::Holder).then(|| c.host.to_string()),
            network_mode: c.join.as_ref().map(|h| format!("container:{h}")),
            network: c
                .networks
                .first()
                .map(|(n, ip)| (n.clone(), ip.to_string())),
            ports: c.ports.clone(),
            udp_ports: c.udp_ports.clone(),
            volume: c.volume.clone(),
            init: true,
            cap_add: c.cap_add.clone(),
            sysctls: c
                .part
                .sysctls()
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..CreateSpec::default()
        };
        let spec = self.sized(spec, c).await?;
        self.explain(explain_create(plan, c, self.resources));
        self.engine.create_container(&spec).await?;
        for (net, ip) in c.networks.iter().skip(1) {
            self.explain(format!("docker network connect --ip {ip} {net} {}", c.name));
            self.engine
                .connect_network(&c.name, net, &ip.to_string())
                .await?;
        }
        if !c.files.is_empty() {
            for f in &c.files {
                match &f.source {
                    Some(src) => self.explain(format!("docker cp {src} {}:{}", c.name, f.path)),
                    None => self.explain(format!(
                        "docker cp <secret from the lab's state> {}:{}",
                        c.name, f.path
                    )),
                }
            }
            let entries: Vec<(&str, &[u8], u32)> = c
                .files
                .iter()
                .map(|f| (f.path.as_str(), f.content.as_bytes(), f.mode))
                .collect();
            let tar = images::tar_of(&entries).map_err(|e| LabError::Step {
                phase: "copy configs",
                why: e.to_string(),
            })?;
            self.engine.upload(&c.name, tar).await?;
        }
        Ok(())
    }

    pub(super) async fn start_container(&self, c: &ContainerPlan) -> Result<(), LabError> {
        self.explain(format!("docker start {}", c.name));
        self.engine.start(&c.name).await?;
        Ok(())
    }

    /// After a readiness check did not pass: fails when the launch was
    /// cancelled, the container stopped, or `deadline` passed (with the
    /// container's last log lines); else waits a moment before the next try.
    async fn not_yet(
        &self,
        c: &ContainerPlan,
        what: &str,
        deadline: Instant,
    ) -> Result<(), LabError> {
        self.check_cancel()?;
        let (state, code) = self.engine.state(&c.name).await?;
        if !state.is_running() {
            let log = self.engine.log_tail(&c.name, 15).await;
            return Err(LabError::Step {
                phase: "readiness",
                why: format!(
                    "{} {state} (exit code {code}) before {what}; its last log lines:\n{log}",
                    c.name
                ),
            });
        }
        if Instant::now() > deadline {
            let log = self.engine.log_tail(&c.name, 15).await;
            return Err(LabError::Step {
                phase: "readiness",
                why: format!(
                    "{} not {what} after {} s; its last log lines:\n{log}",
                    c.name,
                    self.timeout.as_secs()
                ),
            });
        }
        tokio::time::sleep(POLL).await;
        Ok(())
    }

    async fn wait_db(&self, c: &ContainerPlan) -> Result<(), LabError> {
        let cmd = sql(self.flavor, "SELECT 1", true);
        self.explain(format!("docker exec {} {}", c.name, shell_words(&cmd)));
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let deadline = Instant::now() + self.timeout;
        while !matches!(self.engine.exec(&c.name, &refs).await, Ok((0, _))) {
            self.not_yet(c, "answering SQL", deadline).await?;
        }
        Ok(())
    }

    pub(super) async fn wait_replication(&self, c: &ContainerPlan) -> Result<(), LabError> {
        let words = super::replication::words(self.flavor);
        let statement = format!("{}\\G", words.status);
        let cmd = sql(self.flavor, &statement, false);
        self.explain(format!("docker exec {} {}", c.name, shell_words(&cmd)));
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        // Every primary answers by now. A replica that started first and
        // found no primary waits a whole retry interval (1 s) before trying
        // again: restarting its IO thread once tries again at once.
        let restart = words.restart_io;
        let mut kicked = false;
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.engine.exec(&c.name, &refs).await {
                Ok((0, out)) if replication_running(&out) => return Ok(()),
                Ok((0, out)) if !kicked && out.contains("Connecting") => {
                    kicked = true;
                    let kick = sql(self.flavor, restart, false);
                    self.explain(format!("docker exec {} {}", c.name, shell_words(&kick)));
                    let kick: Vec<&str> = kick.iter().map(String::as_str).collect();
                    let _ = self.engine.exec(&c.name, &kick).await;
                }
                _ => self.not_yet(c, "replicating", deadline).await?,
            }
        }
    }

    /// Waits until `c` is ready as its recipe says.
    pub(super) async fn wait_ready(&self, c: &ContainerPlan) -> Result<(), LabError> {
        match &c.ready {
            Readiness::Sql => self.wait_db(c).await,
            Readiness::Http { port, path } => {
                self.wait_http(c, holder_of(c), format!("http://127.0.0.1:{port}{path}"))
                    .await
            }
            Readiness::Dns => self.wait_dns(c).await,
            Readiness::Started => Ok(()),
        }
    }

    async fn wait_dns(&self, c: &ContainerPlan) -> Result<(), LabError> {
        let config = format!("--config-dir={}", crate::generate::paths::CONFIG_DIR);
        let cmd = ["pdns_control", config.as_str(), "rping"];
        self.explain(format!("docker exec {} {}", c.name, cmd.join(" ")));
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.engine.exec(&c.name, &cmd).await {
                Ok((0, out)) if out.contains("PONG") => return Ok(()),
                _ => self.not_yet(c, "answering DNS queries", deadline).await?,
            }
        }
    }

    /// Waits until a member of `vip` holds it: its first member's HAProxy
    /// reaches the address and a member answers there.
    async fn wait_vip(
        &self,
        plan: &Plan,
        vip: &crate::model::Vip,
        address: Ipv4Addr,
    ) -> Result<(), LabError> {
        let Some(first) = vip.members.first() else {
            return Ok(());
        };
        let Some(c) = plan
            .containers
            .iter()
            .find(|c| c.host == *first && c.part == Part::Component(ComponentKind::Lb))
        else {
            return Ok(());
        };
        let url = format!(
            "http://{address}:{}{}",
            vip.port,
            crate::generate::vrrp::WHO_PATH
        );
        self.wait_http(c, &c.name, url).await
    }

    async fn wait_http(&self, c: &ContainerPlan, via: &str, url: String) -> Result<(), LabError> {
        let cmd = ["curl", "-fsS", "-o", "/dev/null", "-m", "1", url.as_str()];
        self.explain(format!("docker exec {via} {}", cmd.join(" ")));
        let what = format!("answering {url}");
        let deadline = Instant::now() + self.timeout;
        while !matches!(self.engine.exec(via, &cmd).await, Ok((0, _))) {
            self.not_yet(c, &what, deadline).await?;
        }
        Ok(())
    }

    /// Waits until `what`'s published HTTP `port` answers 200.
    async fn wait_published(&self, what: &str, port: u16) -> Result<(), LabError> {
        let url = format!("http://127.0.0.1:{port}/");
        self.explain(format!("curl -i {url}"));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()
            .map_err(|err| LabError::Step {
                phase: "entry point",
                why: err.to_string(),
            })?;
        let deadline = Instant::now() + self.timeout;
        loop {
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                other if Instant::now() > deadline => {
                    return Err(LabError::Step {
                        phase: "entry point",
                        why: format!("{url} ({what}) does not answer 200: {other:?}"),
                    });
                }
                _ => {}
            }
            self.check_cancel()?;
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Runs every future to completion and returns the first error. Unlike
/// `try_join_all` it drops no call half-way, so nothing is still being
/// created in the engine when a teardown lists what exists.
async fn all<T, E: Into<LabError>>(
    futures: impl IntoIterator<Item = impl std::future::Future<Output = Result<T, E>>>,
) -> Result<Vec<T>, LabError> {
    let mut out = Vec::new();
    let mut first = None;
    for result in futures_util::future::join_all(futures).await {
        match result {
            Ok(v) => out.push(v),
            Err(e) => {
                first.get_or_insert(e.into());
            }
        }
    }
    first.map_or(Ok(out), Err)
}

/// The phase by which a component kind must be ready. Every kind has one,
/// so a new kind is waited for (and its failure reported) like the others.
pub(super) fn ready_in(kind: ComponentKind) -> Phase {
    match kind {
        ComponentKind::Db => Phase::Databases,
        ComponentKind::App => Phase::Apps,
        ComponentKind::Nginx => Phase::Web,
        // Started last, once the servers behind it answer.
        ComponentKind::Lb => Phase::LoadBalancers,
        // Its health checks find the load balancers up at once.
        ComponentKind::Dns => Phase::LoadBalancers,
    }
}

/// The components that must be ready by `phase`.
fn of_phase(plan: &Plan, phase: Phase) -> Vec<&ContainerPlan> {
    plan.containers
        .iter()
        .filter(|c| matches!(c.part, Part::Component(k) if ready_in(k) == phase))
        .collect()
}

fn holder_of(c: &ContainerPlan) -> &str {
    c.join.as_deref().unwrap_or(&c.name)
}

fn shell_words(cmd: &[String]) -> String {
    cmd.iter()
        .map(|w| {
            if w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:@".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn explain_create(plan: &Plan, c: &ContainerPlan, resources: ResourceMode) -> String {
    let mut words = vec!["docker create".to_owned(), format!("--name {}", c.name)];
    let mut labels: Vec<(String, String)> = plan.labels(&c.host, c.part).into_iter().collect();
    labels.sort();
    for (k, v) in labels {
        words.push(format!("--label {k}={v}"));
    }
    words.push("--init".to_owned());
    for cap in &c.cap_add {
        words.push(format!("--cap-add {cap}"));
    }
    if c.part == Part::Holder {
        words.push(format!("--hostname {}", c.host));
    }
    if let Some(size) = c.size {
        match (resources, c.part) {
            (ResourceMode::Shared, Part::Holder) => words.push(format!(
                "--cgroup-parent {CGROUP_ROOT} --cpus {} --memory {}m --memory-swap {}m",
                cpus_text(size.cpus),
                size.memory_mib,
                size.memory_mib
            )),
            (ResourceMode::Shared, _) => {
                if let Some(h) = &c.join {
                    words.push(format!("--cgroup-parent {CGROUP_ROOT}/<id of {h}>"));
                }
            }
            (ResourceMode::PerContainer, _) => words.push(format!(
                "--cpus {} --memory {}m --memory-swap {}m",
                cpus_text(size.cpus),
                size.memory_mib,
                size.memory_mib
            )),
        }
    }
    if let Some(h) = &c.join {
        words.push(format!("--network container:{h}"));
    }
    if let Some((net, ip)) = c.networks.first() {
        words.push(format!("--network {net} --ip {ip}"));
    }
    for (inside, outside) in &c.ports {
        words.push(format!("-p 127.0.0.1:{outside}:{inside}"));
    }
    if let Some((vol, path)) = &c.volume {
        words.push(format!(
            "--mount type=volume,source={vol},target={path},volume-nocopy"
        ));
    }
    words.push(c.image.clone());
    words.push(shell_words(&c.cmd));
    words.join(" ")
}

/// An overlay needs an engine that manages a swarm: says what is missing
/// and the command that sets it up.
async fn check_swarm(engine: &Engine) -> Result<(), LabError> {
    let role = engine.swarm().await?;
    if role.state != "active" {
        return Err(LabError::Refused(format!(
            "--overlay needs the engine to be in a swarm (it is {}): \
             `docker swarm init --advertise-addr 127.0.0.1` makes this engine a swarm of one",
            role.state
        )));
    }
    if !role.manager {
        return Err(LabError::Refused(
            "--overlay needs a manager of the swarm to create the lab's networks, and this \
             engine is a worker: run topolab against a manager (DOCKER_HOST)"
                .to_owned(),
        ));
    }
    Ok(())
}

/// A free first /24 for a lab: two consecutive /24s in 10.213.0.0/16 that
/// no Docker network uses (a lab takes one or two).
async fn free_subnet(engine: &Engine, networks: usize) -> Result<Ipv4Addr, LabError> {
    let used: Vec<(u32, u8)> = engine
        .used_subnets()
        .await?
        .iter()
        .filter_map(|s| parse_cidr(s))
        .collect();
    first_free(&used, networks).ok_or_else(|| {
        LabError::Refused("no free subnet left in 10.213.0.0/16: remove some labs".to_owned())
    })
}

/// The first block of 10.213.0.0/16 that holds `networks` /24s and
/// overlaps none of `used`. A lab takes an aligned block of a power of two
/// /24s, two at least: a /23 (or a /22, /21 for a design of regions).
fn first_free(used: &[(u32, u8)], networks: usize) -> Option<Ipv4Addr> {
    let block = networks.max(2).next_power_of_two();
    let step = u8::try_from(block).ok()?;
    let prefix = 24 - u8::try_from(block.trailing_zeros()).ok()?;
    (0u8..=255)
        .step_by(usize::from(step))
        .map(|third| Ipv4Addr::new(10, 213, third, 0))
        .find(|candidate| {
            let mine = (u32::from(*candidate), prefix);
            !used.iter().any(|u| overlaps(*u, mine))
        })
}

/// `a.b.c.d/n` as (address, prefix length); IPv6 and junk give `None`.
fn parse_cidr(s: &str) -> Option<(u32, u8)> {
    let (addr, len) = s.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    (len <= 32).then_some((u32::from(addr), len))
}

/// Whether two IPv4 networks share an address.
fn overlaps(a: (u32, u8), b: (u32, u8)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    a.0 & mask == b.0 & mask
}

/// Published (HTTP, HTTPS) ports per entry host, and per virtual IP.
type ChosenPorts = (
    BTreeMap<crate::model::HostName, (u16, Option<u16>)>,
    BTreeMap<u8, (u16, Option<u16>)>,
);

/// Published ports: those the topology pins (refused when taken), else
/// free ones picked now, for each entry point and then each virtual IP.
/// Every listener is held until all ports are chosen, so two never get
/// the same one.
pub(super) fn choose_ports(topology: &Topology) -> Result<ChosenPorts, LabError> {
    let mut held = Vec::new();
    let mut bind = |port: u16| -> std::io::Result<u16> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        held.push(listener);
        Ok(port)
    };
    let no_port = |e: std::io::Error| LabError::Refused(format!("no free port on 127.0.0.1: {e}"));
    let mut ports = BTreeMap::new();
    for host in topology.entry_points() {
        let pinned = host.load_balancer().and_then(|lb| lb.published_port);
        let http = match pinned {
            Some(p) => bind(p).map_err(|e| {
                LabError::Refused(format!(
                    "port {p} on 127.0.0.1, pinned by {}/lb, is not free ({e})",
                    host.name
                ))
            })?,
            None => bind(0).map_err(no_port)?,
        };
        let https = if topology.security.tls && host.load_balancer().is_some() {
            Some(bind(0).map_err(no_port)?)
        } else {
            None
        };
        ports.insert(host.name.clone(), (http, https));
    }
    let mut vips = BTreeMap::new();
    for v in crate::model::vip_published_ports(topology) {
        let http = bind(0).map_err(no_port)?;
        let https = match v.https {
            Some(_) => Some(bind(0).map_err(no_port)?),
            None => None,
        };
        vips.insert(v.number, (http, https));
    }
    Ok((ports, vips))
}

/// Where topolab reaches each database of a lab on overlays: a free port
/// on 127.0.0.1 each, none of `taken` (ports the lab publishes already,
/// which an engine without its userland proxy does not hold open).
pub(super) fn choose_reach_ports(
    topology: &Topology,
    taken: &std::collections::BTreeSet<u16>,
) -> Result<BTreeMap<crate::model::HostName, u16>, LabError> {
    let no_port = |e: std::io::Error| LabError::Refused(format!("no free port on 127.0.0.1: {e}"));
    let mut held = Vec::new();
    pick_ports(
        topology.databases().map(|(h, _)| h),
        "no free port on 127.0.0.1 that the lab does not use",
        || {
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(no_port)?;
            let port = listener.local_addr().map_err(no_port)?.port();
            held.push(listener);
            Ok((!taken.contains(&port)).then_some(port))
        },
    )
}

/// Published ports of the DNS servers: each one free for both UDP and TCP
/// on 127.0.0.1 (a DNS client falls back to TCP for a long answer).
pub(super) fn choose_dns_ports(
    topology: &Topology,
) -> Result<BTreeMap<crate::model::HostName, u16>, LabError> {
    let no_port =
        |e: std::io::Error| LabError::Refused(format!("no free UDP port on 127.0.0.1: {e}"));
    let mut held = Vec::new();
    pick_ports(
        topology.dns_servers().map(|(h, _)| h),
        "no port on 127.0.0.1 is free for both UDP and TCP",
        || {
            let udp = std::net::UdpSocket::bind(("127.0.0.1", 0)).map_err(no_port)?;
            let port = udp.local_addr().map_err(no_port)?.port();
            Ok(std::net::TcpListener::bind(("127.0.0.1", port))
                .ok()
                .map(|tcp| {
                    held.push((udp, tcp));
                    port
                }))
        },
    )
}

/// A port for each of `hosts`: `try_port` binds one and says whether it
/// will do (`Some`), at most 50 tries a host, else the error `none`. What
/// `try_port` binds it keeps until every host has its port, so no two
/// hosts get the same one.
fn pick_ports<'t>(
    hosts: impl Iterator<Item = &'t crate::model::Host>,
    none: &str,
    mut try_port: impl FnMut() -> Result<Option<u16>, LabError>,
) -> Result<BTreeMap<crate::model::HostName, u16>, LabError> {
    let mut ports = BTreeMap::new();
    for host in hosts {
        let mut found = None;
        for _ in 0..50 {
            found = try_port()?;
            if found.is_some() {
                break;
            }
        }
        let port = found.ok_or_else(|| LabError::Refused(none.to_owned()))?;
        ports.insert(host.name.clone(), port);
    }
    Ok(ports)
}

/// How host sizes are enforced here, after checking that every host fits
/// in the machine, its components fit in its memory, and the lab fits in
/// the memory the machine has available.
async fn check_resources(
    engine: &Engine,
    topology: &Topology,
    plan: &Plan,
) -> Result<ResourceMode, LabError> {
    let (mode, cpus, memory) = engine.resources().await?;
    let machine = Machine {
        cpus,
        memory_mib: memory / (1024 * 1024),
    };
    let beyond = sizes_beyond(topology, machine);
    if !beyond.is_empty() {
        let text: Vec<String> = beyond.iter().map(|p| p.to_string()).collect();
        return Err(LabError::Refused(text.join("; ")));
    }
    if let Some((host, need, size)) = plan.hosts_too_small().into_iter().next() {
        return Err(LabError::Refused(format!(
            "host {host}: its components need about {need} MiB of memory, but its size gives it {} MiB \
             (raise size.memory_mib)",
            size.memory_mib
        )));
    }
    // Over several engines, placement has checked each engine's memory.
    if !engine.spans() {
        check_memory(plan, machine.memory_mib)?;
    }
    Ok(mode)
}

/// The lab's rough memory need against what this machine has available
/// (a remote engine's: its total, `engine_mib`).
fn check_memory(plan: &Plan, engine_mib: u64) -> Result<(), LabError> {
    let need = plan.memory_mib();
    let available = if Engine::is_local() {
        mem_available_mib().unwrap_or(engine_mib)
    } else {
        engine_mib
    };
    if need > available {
        return Err(LabError::Refused(format!(
            "the lab needs about {need} MiB of memory and the machine has {available} MiB available"
        )));
    }
    Ok(())
}

fn mem_available_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024)
}

/// What `down` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Containers.
    pub containers: usize,
    /// Networks.
    pub networks: usize,
    /// Volumes.
    pub volumes: usize,
}

/// Whether a lab's container runs in its host holder's network namespace
/// (a component, an exporter, keepalived): it has no network endpoint of
/// its own.
fn joins_a_holder(c: &ContainerInfo) -> bool {
    c.labels
        .get(super::names::COMPONENT)
        .and_then(|l| Part::from_label(l))
        .is_some_and(|p| matches!(p, Part::Component(_) | Part::Exporter | Part::Vrrp))
}

/// Removes every container, network and volume labelled with `lab`, and
/// its state; nothing else.
pub async fn down(
    engine: &Engine,
    lab: &str,
    report: &(dyn Fn(Progress) + Sync),
) -> Result<Removed, LabError> {
    check_lab_name(lab)?;
    let label = super::names::lab_filter(lab);
    report(Progress::Explain(format!(
        "docker rm -f -v $(docker ps -aq --filter label={label})"
    )));
    report(Progress::Explain(format!(
        "docker network rm $(docker network ls -q --filter label={label})"
    )));
    report(Progress::Explain(format!(
        "docker volume rm $(docker volume ls -q --filter label={label})"
    )));
    let mut removed = Removed::default();
    let mut last_error = None;
    // A few rounds: a container still being created when the first list
    // was taken, or a network whose endpoints are still going away, is
    // caught by the next one.
    for round in 0..4 {
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let containers = engine.containers(&label).await?;
        // An engine of the lab that does not answer: nothing is removed, so
        // that the lab's record (which says where its hosts run) stays
        // true until it answers again.
        let lost = engine.unreachable();
        if !lost.is_empty() {
            let names: Vec<String> = lost.into_iter().collect();
            return Err(LabError::Refused(format!(
                "lab {lab}: engine {} does not answer, so its hosts' containers and volumes \
                 cannot be removed; nothing was removed: run `topolab down {lab}` again once \
                 it answers",
                names.join(", ")
            )));
        }
        // Docker 20.10's libnetwork can deadlock when two containers leave
        // one network at the same moment (moby/moby#42545, fixed in later
        // engines; seen here in a teardown): every network call hangs
        // until the engine restarts. The containers that join a holder's
        // namespace have no endpoint and go together; those with endpoints
        // of their own (holders, the router, the forwarders, Prometheus)
        // go one after the other.
        let (joined, own): (Vec<&ContainerInfo>, Vec<&ContainerInfo>) =
            containers.iter().partition(|c| joins_a_holder(c));
        let mut results =
            futures_util::future::join_all(joined.iter().map(|c| engine.remove_container(&c.name)))
                .await;
        for c in own {
            results.push(engine.remove_container(&c.name).await);
        }
        for r in results {
            match r {
                Ok(()) => removed.containers += 1,
                Err(e) => last_error = Some(e),
            }
        }
        let networks = engine.networks(&label).await?;
        for r in
            futures_util::future::join_all(networks.iter().map(|n| engine.remove_network(n))).await
        {
            match r {
                Ok(()) => removed.networks += 1,
                Err(e) => last_error = Some(e),
            }
        }
        let volumes = engine.volumes(&label).await?;
        for r in
            futures_util::future::join_all(volumes.iter().map(|v| engine.remove_volume(v))).await
        {
            match r {
                Ok(()) => removed.volumes += 1,
                Err(e) => last_error = Some(e),
            }
        }
        let left = engine.containers(&label).await?.len()
            + engine.networks(&label).await?.len()
            + engine.volumes(&label).await?.len();
        if left == 0 {
            LabState::remove(lab)?;
            return Ok(removed);
        }
    }
    Err(match last_error {
        Some(e) => e.into(),
        None => LabError::Refused(format!("lab {lab}: some resources could not be removed")),
    })
}

/// Lab names are DNS labels: they become container names and file names.
pub fn check_lab_name(lab: &str) -> Result<(), LabError> {
    match dns_label_problem(lab) {
        Some(why) => Err(LabError::Refused(format!("lab name {lab:?} {why}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_overlap() {
        let lab = (u32::from(Ipv4Addr::new(10, 213, 4, 0)), 23);
        assert!(overlaps(parse_cidr("10.213.5.0/24").expect("cidr"), lab));
        assert!(overlaps(parse_cidr("10.213.0.0/16").expect("cidr"), lab));
        assert!(overlaps(parse_cidr("10.0.0.0/8").expect("cidr"), lab));
        assert!(!overlaps(parse_cidr("10.213.6.0/24").expect("cidr"), lab));
        assert!(!overlaps(parse_cidr("172.17.0.0/16").expect("cidr"), lab));
        assert_eq!(parse_cidr("fd00::/64"), None);
    }

    #[test]
    fn a_design_of_regions_takes_an_aligned_block_of_its_networks() {
        let used = [parse_cidr("10.213.0.0/23").expect("cidr")];
        // Two networks: the next /23.
        assert_eq!(first_free(&used, 2), Some(Ipv4Addr::new(10, 213, 2, 0)));
        assert_eq!(first_free(&used, 1), Some(Ipv4Addr::new(10, 213, 2, 0)));
        // Two regions of two tiers: a /22, clear of the first lab.
        assert_eq!(first_free(&used, 4), Some(Ipv4Addr::new(10, 213, 4, 0)));
        // Three regions of two tiers: six networks in a /21.
        assert_eq!(first_free(&used, 6), Some(Ipv4Addr::new(10, 213, 8, 0)));
        let full = [parse_cidr("10.213.0.0/16").expect("cidr")];
        assert_eq!(first_free(&full, 2), None);
    }
}
