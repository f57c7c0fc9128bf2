//! Every call to the Docker Engine (bollard) goes through here. Callers see
//! plain data and [`DockerError`]s that say what failed and how to fix it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig, Mount,
    MountType, MountVolumeOptions, NetworkConnectRequest, NetworkCreateRequest, NetworkingConfig,
    PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

/// Longest a command run in a container may take.
const EXEC_TIMEOUT: Duration = Duration::from_secs(10);

/// A Docker failure, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine could not be reached.
    #[error(
        "cannot reach the Docker engine ({0}). Start it (e.g. `sudo systemctl start docker`), \
         check that you may use it (`docker info`), or point DOCKER_HOST at a running engine"
    )]
    Unreachable(String),
    /// A call failed.
    #[error("{what}: {why}")]
    Call {
        /// What was being done.
        what: String,
        /// What the engine said.
        why: String,
    },
}

fn call(what: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    let what = what.into();
    move |e| DockerError::Call {
        what,
        why: engine_message(&e),
    }
}

/// The engine's own message, without bollard's wrapping.
fn engine_message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The outcome of a removal: something already gone is removed too.
fn gone(
    result: Result<(), bollard::errors::Error>,
    what: impl FnOnce() -> String,
) -> Result<(), DockerError> {
    match result.map_err(call(what())) {
        Err(e) if is_not_found(&e) => Ok(()),
        other => other,
    }
}

/// Whether the error is the engine's "no such ..." (404).
pub fn is_not_found(e: &DockerError) -> bool {
    matches!(e, DockerError::Call { why, .. } if why.contains("No such") || why.contains("not found"))
}

/// A connection to the engine (cheap to clone). For a lab that spans the
/// engines of a swarm, a connection to each of them: every call about a
/// container or volume goes to the engine its host runs on, lists and
/// events merge all of them, and networks and images are the first
/// engine's (the lab's home, a manager of the swarm).
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
    span: Option<Arc<Span>>,
}

/// The other engines of a lab that spans several.
#[derive(Debug)]
struct Span {
    /// The home engine's name.
    home: String,
    /// The others, by name.
    others: Vec<(String, Docker)>,
    /// Resource name prefixes (`topolab-LAB-HOST`) and the index in
    /// `others` of the engine their resources are on (`None`: home); the
    /// longest first. Replaced when hosts are added ([`Engine::place`]).
    prefixes: std::sync::RwLock<Vec<(String, Option<usize>)>>,
    /// Engines that did not answer the last list, by name.
    unreachable: Mutex<BTreeSet<String>>,
}

/// How long a list waits for one engine of a span before calling it
/// unreachable.
const SPAN_TIMEOUT: Duration = Duration::from_secs(5);

/// A container as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Its name, without the leading slash.
    pub name: String,
    /// Its state.
    pub state: ContainerState,
    /// Docker's human status, e.g. `Up 3 seconds`.
    pub status: String,
    /// Its labels.
    pub labels: HashMap<String, String>,
}

/// A container's state, as the engine reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Frozen.
    Paused,
    /// Being restarted.
    Restarting,
    /// Being removed.
    Removing,
    /// Stopped (with an exit code).
    Exited,
    /// Could not be stopped cleanly.
    Dead,
    /// Anything else the engine says.
    Other(String),
}

impl ContainerState {
    /// Parses the engine's word for it.
    pub fn parse(word: &str) -> Self {
        match word {
            "created" => Self::Created,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "restarting" => Self::Restarting,
            "removing" => Self::Removing,
            "exited" => Self::Exited,
            "dead" => Self::Dead,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Running (not paused).
    pub fn is_running(&self) -> bool {
        *self == Self::Running
    }

    /// Stopped: exited or dead.
    pub fn is_stopped(&self) -> bool {
        matches!(self, Self::Exited | Self::Dead)
    }
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Restarting => "restarting",
            Self::Removing => "removing",
            Self::Exited => "exited",
            Self::Dead => "dead",
            Self::Other(s) => s,
        })
    }
}

/// A network to create.
#[derive(Clone, Debug)]
pub struct NetworkSpec<'a> {
    /// Name.
    pub name: &'a str,
    /// Bridge or overlay.
    pub driver: NetworkDriver,
    /// CIDR, e.g. `10.213.0.0/24`.
    pub subnet: &'a str,
    /// Gateway address.
    pub gateway: &'a str,
    /// Labels.
    pub labels: &'a HashMap<String, String>,
}

/// How a lab's networks are made: bridges of one engine (the default), or
/// attachable overlays of the engine's swarm, on which plain containers
/// keep the same fixed addresses and which every node of the swarm can
/// join.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkDriver {
    /// A Linux bridge on this engine.
    #[default]
    Bridge,
    /// An attachable overlay of the swarm (VXLAN between its nodes).
    Overlay,
}

impl NetworkDriver {
    /// Docker's name of the driver.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bridge => "bridge",
            Self::Overlay => "overlay",
        }
    }
}

/// What the engine is in a swarm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmRole {
    /// `inactive`, `pending`, `active`, `error` or `locked`.
    pub state: String,
    /// Whether it is a manager (only a manager creates overlays).
    pub manager: bool,
    /// This engine's node id in the swarm (empty outside one).
    pub node_id: String,
}

/// A container to create. No `Debug`: `env` holds secrets.
#[derive(Clone, Default)]
pub struct CreateSpec {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Command.
    pub cmd: Vec<String>,
    /// Labels.
    pub labels: HashMap<String, String>,
    /// Hostname (holders only).
    pub hostname: Option<String>,
    /// `container:NAME` to join a holder's namespace.
    pub network_mode: Option<String>,
    /// First network and the fixed address on it.
    pub network: Option<(String, String)>,
    /// (container port, host port) published on 127.0.0.1, TCP.
    pub ports: Vec<(u16, u16)>,
    /// (container port, host port) published on 127.0.0.1, UDP.
    pub udp_ports: Vec<(u16, u16)>,
    /// (volume, mount path).
    pub volume: Option<(String, String)>,
    /// Run under Docker's init.
    pub init: bool,
    /// Extra capabilities.
    pub cap_add: Vec<String>,
    /// Kernel settings of its own network namespace.
    pub sysctls: HashMap<String, String>,
    /// The cgroup the container's own cgroup is created under.
    pub cgroup_parent: Option<String>,
    /// CPU budget, nanoseconds of CPU time per second.
    pub nano_cpus: Option<i64>,
    /// Memory limit in bytes (swap included: the lab's hosts do not swap).
    pub memory: Option<i64>,
}

/// How the engine can give a host one CPU and memory budget that all of
/// its containers share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceMode {
    /// cgroup v1 with the cgroupfs driver: a component's cgroup can be
    /// created inside its holder's, so the holder's limits bound the
    /// host's containers together (Docker's `--cgroup-parent`).
    Shared,
    /// Any other engine (cgroup v2, the systemd driver, other OSes): each
    /// container gets the host's size as its own limit, so a host's
    /// components together can use more than its size.
    PerContainer,
}

/// The cgroup under which the holders' cgroups are made (cgroupfs only).
pub const CGROUP_ROOT: &str = "/topolab";

/// A container's state change, from the engine's event stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerEvent {
    /// The container's name.
    pub name: String,
    /// Its labels (the event carries them).
    pub labels: HashMap<String, String>,
    /// `start`, `die`, `pause`, `unpause`, `destroy`, ...
    pub action: String,
    /// For `die`: the exit code.
    pub exit_code: Option<i64>,
    /// When, in milliseconds since the Unix epoch (the engine's clock).
    pub at_ms: u64,
}

/// One reading of a container's stats stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time used so far, nanoseconds.
    pub cpu_ns: u64,
    /// The machine's CPU time so far, nanoseconds (all cores).
    pub system_ns: u64,
    /// Cores.
    pub cpus: u32,
    /// Memory in use (without the page cache), bytes.
    pub memory_bytes: u64,
    /// CFS periods with a quota in force so far.
    pub periods: u64,
    /// Of those, the periods in which the quota ran out.
    pub throttled_periods: u64,
}

impl Usage {
    /// CPU use between `earlier` and `self`, in percent of one core.
    pub fn cpu_percent_since(&self, earlier: &Usage) -> Option<f32> {
        let cpu = self.cpu_ns.checked_sub(earlier.cpu_ns)?;
        let system = self.system_ns.checked_sub(earlier.system_ns)?;
        if system == 0 {
            return None;
        }
        Some((cpu as f64 / system as f64 * f64::from(self.cpus.max(1)) * 100.0) as f32)
    }
}

/// A stats reading as a [`Usage`].
fn usage_of(s: bollard::models::ContainerStatsResponse) -> Usage {
    let cpu = s.cpu_stats.unwrap_or_default();
    let memory = s.memory_stats.unwrap_or_default();
    let cache = memory
        .stats
        .as_ref()
        .and_then(|m| {
            // cgroup v1 counts a parent's memory with its children's; its
            // page cache is `total_inactive_file` then.
            m.get("total_inactive_file")
                .or_else(|| m.get("inactive_file"))
                .or_else(|| m.get("cache"))
                .copied()
        })
        .unwrap_or(0);
    Usage {
        cpu_ns: cpu.cpu_usage.and_then(|u| u.total_usage).unwrap_or(0),
        system_ns: cpu.system_cpu_usage.unwrap_or(0),
        cpus: cpu.online_cpus.unwrap_or(1),
        memory_bytes: memory.usage.unwrap_or(0).saturating_sub(cache),
        periods: cpu
            .throttling_data
            .as_ref()
            .and_then(|t| t.periods)
            .unwrap_or(0),
        throttled_periods: cpu
            .throttling_data
            .as_ref()
            .and_then(|t| t.throttled_periods)
            .unwrap_or(0),
    }
}

/// A command running in a container with its input and output attached.
pub struct ExecSession {
    /// Its standard input.
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    /// Its standard output and error.
    pub output: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, DockerError>> + Send>>,
}

impl Engine {
    /// Connects with the usual conventions (`DOCKER_HOST`, else the local
    /// socket) and agrees on an API version.
    pub async fn connect() -> Result<Self, DockerError> {
        let docker = Docker::connect_with_defaults()
            .map_err(|e| DockerError::Unreachable(engine_message(&e)))?;
        let docker = tokio::time::timeout(Duration::from_secs(5), docker.negotiate_version())
            .await
            .map_err(|_| DockerError::Unreachable("no answer within 5 s".to_owned()))?
            .map_err(|e| DockerError::Unreachable(engine_message(&e)))?;
        Ok(Self { docker, span: None })
    }

    /// Connects to the engine at `url`: `unix:///path/to/docker.sock`, or
    /// `tcp://HOST:PORT` (plain HTTP, as `DOCKER_HOST` says it).
    pub async fn connect_to(url: &str) -> Result<Self, DockerError> {
        // Loading an image answers only once the whole image is in.
        const TIMEOUT_S: u64 = 600;
        let docker = if url.starts_with("unix://") {
            Docker::connect_with_unix(url, TIMEOUT_S, bollard::API_DEFAULT_VERSION)
        } else if url.starts_with("tcp://") || url.starts_with("http://") {
            Docker::connect_with_http(url, TIMEOUT_S, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(DockerError::Unreachable(format!(
                "{url} is not unix:///PATH or tcp://HOST:PORT"
            )));
        }
        .map_err(|e| DockerError::Unreachable(format!("{url}: {}", engine_message(&e))))?;
        let docker = tokio::time::timeout(Duration::from_secs(5), docker.negotiate_version())
            .await
            .map_err(|_| DockerError::Unreachable(format!("{url}: no answer within 5 s")))?
            .map_err(|e| DockerError::Unreachable(format!("{url}: {}", engine_message(&e))))?;
        Ok(Self { docker, span: None })
    }

    /// One engine for a lab over several: `self` is its home (named
    /// `home`); `others` run the hosts that `placement` (resource name
    /// prefix, engine name) puts on them. A prefix placed on the home
    /// engine, or on no engine given, stays at home.
    pub fn spanning(
        self,
        home: &str,
        others: Vec<(String, Engine)>,
        placement: &[(String, String)],
    ) -> Self {
        let others: Vec<(String, Docker)> =
            others.into_iter().map(|(n, e)| (n, e.docker)).collect();
        let span = Span {
            home: home.to_owned(),
            prefixes: std::sync::RwLock::new(Vec::new()),
            others,
            unreachable: Mutex::new(BTreeSet::new()),
        };
        span.place(placement);
        Self {
            docker: self.docker,
            span: Some(Arc::new(span)),
        }
    }

    /// Routes by `placement` (resource name prefix, engine name) from now
    /// on, in every clone of this engine: hosts were added or removed.
    pub fn place(&self, placement: &[(String, String)]) {
        if let Some(span) = &self.span {
            span.place(placement);
        }
    }

    /// The name of the engine that runs `resource` (a container or volume),
    /// when the lab spans engines.
    pub fn engine_of(&self, resource: &str) -> Option<&str> {
        let span = self.span.as_ref()?;
        Some(match span.route(resource) {
            Some(i) => &span.others[i].0,
            None => &span.home,
        })
    }

    /// Says that these engines of the span do not answer (until the next
    /// list of containers asks them again).
    pub fn set_unreachable(&self, names: BTreeSet<String>) {
        if let Some(span) = &self.span
            && let Ok(mut u) = span.unreachable.lock()
        {
            *u = names;
        }
    }

    /// Engines of the span that did not answer the last list of
    /// containers, by name (none for a single engine).
    pub fn unreachable(&self) -> BTreeSet<String> {
        self.span
            .as_ref()
            .map(|s| s.unreachable.lock().map(|u| u.clone()).unwrap_or_default())
            .unwrap_or_default()
    }

    /// The client of the engine that runs `resource`; an error at once
    /// when that engine did not answer the last list.
    fn at(&self, resource: &str) -> Result<&Docker, DockerError> {
        let Some(span) = &self.span else {
            return Ok(&self.docker);
        };
        let Some(i) = span.route(resource) else {
            return Ok(&self.docker);
        };
        let (name, docker) = &span.others[i];
        if span.unreachable.lock().is_ok_and(|u| u.contains(name)) {
            return Err(DockerError::Unreachable(format!(
                "engine {name}, which runs {resource}, does not answer"
            )));
        }
        Ok(docker)
    }

    /// Every engine's client with its name: the home one first.
    fn all(&self) -> Vec<(&str, &Docker)> {
        let mut all = vec![(
            self.span.as_ref().map_or("", |s| s.home.as_str()),
            &self.docker,
        )];
        if let Some(span) = &self.span {
            all.extend(span.others.iter().map(|(n, d)| (n.as_str(), d)));
        }
        all
    }

    /// A client of the engine at `url` that has not asked it anything yet
    /// (an engine of a lab that does not answer now): its calls fail until
    /// it answers, and then speak API 1.41.
    pub fn unchecked(url: &str) -> Result<Self, DockerError> {
        const TIMEOUT_S: u64 = 120;
        let version = bollard::ClientVersion {
            major_version: 1,
            minor_version: 41,
        };
        let docker = if url.starts_with("unix://") {
            Docker::connect_with_unix(url, TIMEOUT_S, &version)
        } else {
            Docker::connect_with_http(url, TIMEOUT_S, &version)
        }
        .map_err(|e| DockerError::Unreachable(format!("{url}: {}", engine_message(&e))))?;
        Ok(Self { docker, span: None })
    }

    /// Whether this is a lab over several engines.
    pub fn spans(&self) -> bool {
        self.span.is_some()
    }

    /// Copies each of `images` that an engine of the span lacks, or has in
    /// another version (another id under the same tag), from the home
    /// engine; returns (engine, image) for each copy made.
    pub async fn spread_images(
        &self,
        images: &[String],
    ) -> Result<Vec<(String, String)>, DockerError> {
        let mut copied = Vec::new();
        let Some(span) = &self.span else {
            return Ok(copied);
        };
        let home = Engine {
            docker: self.docker.clone(),
            span: None,
        };
        for image in images {
            let want = home.image_id(image).await?;
            for (name, docker) in &span.others {
                let other = Engine {
                    docker: docker.clone(),
                    span: None,
                };
                if other.image_id(image).await? != want {
                    home.copy_image_to(&other, image)
                        .await
                        .map_err(|e| DockerError::Call {
                            what: format!("copy {image} to engine {name}"),
                            why: e.to_string(),
                        })?;
                    copied.push((name.clone(), image.clone()));
                }
            }
        }
        Ok(copied)
    }

    /// What tells this engine from another: its id, its machine's name and
    /// its data folder (two engines on one machine may share an id, which
    /// comes from a key file).
    pub async fn identity(&self) -> Result<String, DockerError> {
        let info = self.docker.info().await.map_err(call("docker info"))?;
        Ok(format!(
            "{} {} {}",
            info.id.unwrap_or_default(),
            info.name.unwrap_or_default(),
            info.docker_root_dir.unwrap_or_default()
        ))
    }

    /// The engine's version (`20.10.24`).
    pub async fn version(&self) -> Result<String, DockerError> {
        let v = self
            .docker
            .version()
            .await
            .map_err(call("docker version"))?;
        Ok(v.version.unwrap_or_default())
    }

    /// The ids of the swarm's nodes, as its manager knows them.
    pub async fn swarm_nodes(&self) -> Result<Vec<String>, DockerError> {
        let nodes = self
            .docker
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await
            .map_err(call("list the swarm's nodes"))?;
        Ok(nodes.into_iter().filter_map(|n| n.id).collect())
    }

    /// Copies `image` from this engine to `to` (`docker save | docker
    /// load`), streamed: never pulled from a registry.
    pub async fn copy_image_to(&self, to: &Engine, image: &str) -> Result<(), DockerError> {
        let tar = self.docker.export_image(image);
        let mut load = to.docker.import_image_stream(
            bollard::query_parameters::ImportImageOptionsBuilder::default()
                .quiet(true)
                .build(),
            tar,
            None,
        );
        while let Some(step) = load.next().await {
            let step = step.map_err(call(format!("copy image {image}")))?;
            if let Some(e) = step.error_detail.and_then(|d| d.message) {
                return Err(DockerError::Call {
                    what: format!("copy image {image}"),
                    why: e,
                });
            }
        }
        Ok(())
    }

    /// Whether the engine is local (a unix socket), so that ports it
    /// publishes on 127.0.0.1 are reachable from here.
    pub fn is_local() -> bool {
        std::env::var("DOCKER_HOST")
            .map(|h| h.starts_with("unix://"))
            .unwrap_or(true)
    }

    /// How host sizes can be enforced on this engine, and its CPUs and
    /// memory.
    pub async fn resources(&self) -> Result<(ResourceMode, f64, u64), DockerError> {
        let info = self.docker.info().await.map_err(call("docker info"))?;
        let shared = info.cgroup_version.map(|v| v.to_string()).as_deref() == Some("1")
            && info.cgroup_driver.map(|d| d.to_string()).as_deref() == Some("cgroupfs");
        let mode = if shared {
            ResourceMode::Shared
        } else {
            ResourceMode::PerContainer
        };
        let cpus = info.ncpu.unwrap_or(1).max(1) as f64;
        let memory = info
            .mem_total
            .and_then(|m| u64::try_from(m).ok())
            .unwrap_or(0);
        Ok((mode, cpus, memory))
    }

    /// A container's full id.
    pub async fn container_id(&self, container: &str) -> Result<String, DockerError> {
        let info = self
            .at(container)?
            .inspect_container(container, None)
            .await
            .map_err(call(format!("inspect {container}")))?;
        Ok(info.id.unwrap_or_default())
    }

    /// An image's id (its content's digest, the same on every engine that
    /// has it), if it exists.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, DockerError> {
        Ok(self.inspect_image(image).await?.and_then(|i| i.id))
    }

    /// Whether an image exists; its labels if it does.
    pub async fn image_labels(
        &self,
        image: &str,
    ) -> Result<Option<HashMap<String, String>>, DockerError> {
        Ok(self
            .inspect_image(image)
            .await?
            .map(|i| i.config.and_then(|c| c.labels).unwrap_or_default()))
    }

    /// An image as the engine describes it, or `None` when it has none.
    async fn inspect_image(
        &self,
        image: &str,
    ) -> Result<Option<bollard::models::ImageInspect>, DockerError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(i)),
            Err(e) => {
                let err = call(format!("inspect image {image}"))(e);
                if is_not_found(&err) {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// `docker import`: a root file system tarball streamed in as an image.
    pub async fn import_rootfs(
        &self,
        tar: impl Stream<Item = Bytes> + Send + 'static,
        repo: &str,
        tag: &str,
        changes: Vec<String>,
    ) -> Result<(), DockerError> {
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .changes(changes)
            .build();
        let mut stream =
            self.docker
                .create_image(Some(options), Some(bollard::body_stream(tar)), None);
        while let Some(item) = stream.next().await {
            item.map_err(call(format!("import image {repo}:{tag}")))?;
        }
        Ok(())
    }

    /// `docker pull`, reporting progress lines to `progress`.
    pub async fn pull(
        &self,
        image: &str,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<(), DockerError> {
        let options = CreateImageOptionsBuilder::default()
            .from_image(image)
            .build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(call(format!("pull {image}")))?;
            if let Some(status) = info.status {
                let detail = info
                    .progress_detail
                    .and_then(|d| Some(format!(" {}/{} bytes", d.current?, d.total?)))
                    .unwrap_or_default();
                progress(format!("{image}: {status}{detail}"));
            }
        }
        Ok(())
    }

    /// `docker build` of a context tarball.
    pub async fn build(
        &self,
        context: Bytes,
        tag: &str,
        labels: HashMap<String, String>,
    ) -> Result<(), DockerError> {
        let options = bollard::query_parameters::BuildImageOptionsBuilder::default()
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(&labels)
            .build();
        let mut stream = self
            .docker
            .build_image(options, None, Some(bollard::body_full(context)));
        while let Some(item) = stream.next().await {
            let info = item.map_err(call(format!("build image {tag}")))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(DockerError::Call {
                    what: format!("build image {tag}"),
                    why: err,
                });
            }
        }
        Ok(())
    }

    /// Runs `cmd` in a new container of `image` until it exits; returns
    /// the exit code and log. The container is kept for [`Engine::commit`].
    pub async fn run_once(
        &self,
        name: &str,
        image: &str,
        cmd: &[&str],
    ) -> Result<(i64, String), DockerError> {
        let spec = CreateSpec {
            name: name.to_owned(),
            image: image.to_owned(),
            cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
            ..CreateSpec::default()
        };
        self.run_spec_once(&spec).await
    }

    /// Creates, starts and waits for a container: (exit code, its last log
    /// lines). The caller removes it.
    pub async fn run_spec_once(&self, spec: &CreateSpec) -> Result<(i64, String), DockerError> {
        let name = spec.name.as_str();
        self.create_container(spec).await?;
        self.start(name).await?;
        let mut wait = self.at(name)?.wait_container(name, None);
        while let Some(status) = wait.next().await {
            // A non-zero exit arrives as an error; the state below has it.
            if status.is_err() {
                break;
            }
        }
        let (_, code) = self.state(name).await?;
        Ok((code, self.log_tail(name, 30).await))
    }

    /// `docker commit`: `container` as image `repo:tag` with `cmd` and
    /// `labels`.
    pub async fn commit(
        &self,
        container: &str,
        repo: &str,
        tag: &str,
        cmd: &[&str],
        labels: HashMap<String, String>,
    ) -> Result<(), DockerError> {
        let options = bollard::query_parameters::CommitContainerOptionsBuilder::default()
            .container(container)
            .repo(repo)
            .tag(tag)
            .build();
        let config = bollard::models::ContainerConfig {
            cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
            labels: Some(labels),
            env: Some(vec![
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            ]),
            ..Default::default()
        };
        self.docker
            .commit_container(options, config)
            .await
            .map_err(call(format!("commit {container} as {repo}:{tag}")))?;
        Ok(())
    }

    /// Tags of images carrying `label` (`key=value`).
    pub async fn image_tags(&self, label: &str) -> Result<Vec<String>, DockerError> {
        let filters = HashMap::from([("label".to_owned(), vec![label.to_owned()])]);
        let options = bollard::query_parameters::ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let images = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(call("list images"))?;
        Ok(images.into_iter().flat_map(|i| i.repo_tags).collect())
    }

    /// Removes an image; an image in use is left alone.
    pub async fn remove_image(&self, image: &str) -> Result<(), DockerError> {
        self.docker
            .remove_image(
                image,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await
            .map_err(call(format!("remove image {image}")))?;
        Ok(())
    }

    /// Every network's subnets, to pick ones that do not collide.
    pub async fn used_subnets(&self) -> Result<Vec<String>, DockerError> {
        let nets = self
            .docker
            .list_networks(None)
            .await
            .map_err(call("list networks"))?;
        Ok(nets
            .into_iter()
            .flat_map(|n| n.ipam.and_then(|i| i.config).unwrap_or_default())
            .filter_map(|c| c.subnet)
            .collect())
    }

    /// What this engine is in a swarm.
    pub async fn swarm(&self) -> Result<SwarmRole, DockerError> {
        let info = self.docker.info().await.map_err(call("docker info"))?;
        let swarm = info.swarm.unwrap_or_default();
        Ok(SwarmRole {
            state: swarm
                .local_node_state
                .map_or_else(|| "inactive".to_owned(), |s| s.to_string()),
            manager: swarm.control_available.unwrap_or(false),
            node_id: swarm.node_id.unwrap_or_default(),
        })
    }

    /// Creates a network: a bridge, or an attachable overlay.
    pub async fn create_network(&self, spec: &NetworkSpec<'_>) -> Result<(), DockerError> {
        let request = NetworkCreateRequest {
            name: spec.name.to_owned(),
            driver: Some(spec.driver.as_str().to_owned()),
            attachable: Some(spec.driver == NetworkDriver::Overlay),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(spec.subnet.to_owned()),
                    gateway: Some(spec.gateway.to_owned()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            labels: Some(spec.labels.clone()),
            ..Default::default()
        };
        self.docker
            .create_network(request)
            .await
            .map_err(call(format!(
                "create network {} ({})",
                spec.name, spec.subnet
            )))?;
        Ok(())
    }

    /// Creates a labelled volume.
    pub async fn create_volume(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<(), DockerError> {
        let request = VolumeCreateRequest {
            name: Some(name.to_owned()),
            labels: Some(labels.clone()),
            ..Default::default()
        };
        self.at(name)?
            .create_volume(request)
            .await
            .map_err(call(format!("create volume {name}")))?;
        Ok(())
    }

    /// Creates (does not start) a container.
    pub async fn create_container(&self, spec: &CreateSpec) -> Result<(), DockerError> {
        let published: Vec<(String, u16)> = spec
            .ports
            .iter()
            .map(|(inside, outside)| (format!("{inside}/tcp"), *outside))
            .chain(
                spec.udp_ports
                    .iter()
                    .map(|(inside, outside)| (format!("{inside}/udp"), *outside)),
            )
            .collect();
        let port_bindings = (!published.is_empty()).then(|| {
            published
                .iter()
                .map(|(inside, outside)| {
                    (
                        inside.clone(),
                        Some(vec![PortBinding {
                            host_ip: Some("127.0.0.1".to_owned()),
                            host_port: Some(outside.to_string()),
                        }]),
                    )
                })
                .collect()
        });
        let mounts = spec.volume.as_ref().map(|(volume, target)| {
            vec![Mount {
                target: Some(target.clone()),
                source: Some(volume.clone()),
                typ: Some(MountType::VOLUME),
                volume_options: Some(MountVolumeOptions {
                    no_copy: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            }]
        });
        let networking_config = spec.network.as_ref().map(|(net, ip)| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                net.clone(),
                EndpointSettings {
                    ipam_config: Some(EndpointIpamConfig {
                        ipv4_address: Some(ip.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )])),
        });
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: Some(spec.cmd.clone()),
            labels: Some(spec.labels.clone()),
            hostname: spec.hostname.clone(),
            exposed_ports: (!published.is_empty())
                .then(|| published.iter().map(|(p, _)| p.clone()).collect()),
            host_config: Some(HostConfig {
                network_mode: spec.network_mode.clone(),
                port_bindings,
                mounts,
                init: Some(spec.init),
                cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
                sysctls: (!spec.sysctls.is_empty()).then(|| spec.sysctls.clone()),
                cgroup_parent: spec.cgroup_parent.clone(),
                nano_cpus: spec.nano_cpus,
                memory: spec.memory,
                memory_swap: spec.memory,
                ..Default::default()
            }),
            networking_config,
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        self.at(&spec.name)?
            .create_container(Some(options), body)
            .await
            .map_err(call(format!("create container {}", spec.name)))?;
        Ok(())
    }

    /// Connects a container to another network at a fixed address.
    pub async fn connect_network(
        &self,
        container: &str,
        network: &str,
        ip: &str,
    ) -> Result<(), DockerError> {
        let request = NetworkConnectRequest {
            container: container.to_owned(),
            endpoint_config: Some(EndpointSettings {
                ipam_config: Some(EndpointIpamConfig {
                    ipv4_address: Some(ip.to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        };
        self.at(container)?
            .connect_network(network, request)
            .await
            .map_err(call(format!("connect {container} to {network}")))
    }

    /// Copies a tarball into a container (extracted at `/`).
    pub async fn upload(&self, container: &str, tar: Bytes) -> Result<(), DockerError> {
        let options = UploadToContainerOptionsBuilder::default().path("/").build();
        self.at(container)?
            .upload_to_container(container, Some(options), bollard::body_full(tar))
            .await
            .map_err(call(format!("copy configs into {container}")))
    }

    /// Sends `signal` (e.g. `SIGKILL`) to a container.
    pub async fn kill(&self, container: &str, signal: &str) -> Result<(), DockerError> {
        let options = bollard::query_parameters::KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.at(container)?
            .kill_container(container, Some(options))
            .await
            .map_err(call(format!("kill {container}")))
    }

    /// Stops a container, killing it after `seconds`.
    pub async fn stop(&self, container: &str, seconds: i32) -> Result<(), DockerError> {
        let options = bollard::query_parameters::StopContainerOptionsBuilder::default()
            .t(seconds)
            .build();
        self.at(container)?
            .stop_container(container, Some(options))
            .await
            .map_err(call(format!("stop {container}")))
    }

    /// Restarts a container, killing it after `seconds`.
    pub async fn restart(&self, container: &str, seconds: i32) -> Result<(), DockerError> {
        let options = bollard::query_parameters::RestartContainerOptionsBuilder::default()
            .t(seconds)
            .build();
        self.at(container)?
            .restart_container(container, Some(options))
            .await
            .map_err(call(format!("restart {container}")))
    }

    /// Changes a running container's CPU and memory limits in place
    /// (`docker update --cpus --memory --memory-swap`).
    pub async fn update_limits(
        &self,
        container: &str,
        nano_cpus: i64,
        memory: i64,
    ) -> Result<(), DockerError> {
        let body = bollard::models::ContainerUpdateBody {
            nano_cpus: Some(nano_cpus),
            memory: Some(memory),
            memory_swap: Some(memory),
            ..Default::default()
        };
        self.at(container)?
            .update_container(container, body)
            .await
            .map_err(call(format!("update the limits of {container}")))
    }

    /// Freezes a container.
    pub async fn pause(&self, container: &str) -> Result<(), DockerError> {
        self.at(container)?
            .pause_container(container)
            .await
            .map_err(call(format!("pause {container}")))
    }

    /// Thaws a container.
    pub async fn unpause(&self, container: &str) -> Result<(), DockerError> {
        self.at(container)?
            .unpause_container(container)
            .await
            .map_err(call(format!("unpause {container}")))
    }

    /// Cuts a container off a network.
    pub async fn disconnect_network(
        &self,
        container: &str,
        network: &str,
    ) -> Result<(), DockerError> {
        let request = bollard::models::NetworkDisconnectRequest {
            container: container.to_owned(),
            force: Some(true),
        };
        self.at(container)?
            .disconnect_network(network, request)
            .await
            .map_err(call(format!("disconnect {container} from {network}")))
    }

    /// The networks a container is on.
    pub async fn container_networks(&self, container: &str) -> Result<Vec<String>, DockerError> {
        let info = self
            .at(container)?
            .inspect_container(container, None)
            .await
            .map_err(call(format!("inspect {container}")))?;
        let mut names: Vec<String> = info
            .network_settings
            .and_then(|n| n.networks)
            .map(|n| n.into_keys().collect())
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }

    /// Starts a container.
    pub async fn start(&self, container: &str) -> Result<(), DockerError> {
        self.at(container)?
            .start_container(container, None)
            .await
            .map_err(call(format!("start {container}")))
    }

    /// Runs a command in a running container: (exit code, stdout +
    /// stderr). Gives up after [`EXEC_TIMEOUT`].
    pub async fn exec(&self, container: &str, cmd: &[&str]) -> Result<(i64, String), DockerError> {
        tokio::time::timeout(EXEC_TIMEOUT, self.exec_inner(container, cmd))
            .await
            .unwrap_or_else(|_| {
                Err(DockerError::Call {
                    what: format!("run `{}` in {container}", cmd.join(" ")),
                    why: format!("no answer within {} s", EXEC_TIMEOUT.as_secs()),
                })
            })
    }

    async fn exec_inner(
        &self,
        container: &str,
        cmd: &[&str],
    ) -> Result<(i64, String), DockerError> {
        let what = || format!("run `{}` in {container}", cmd.join(" "));
        let exec = self
            .at(container)?
            .create_exec(
                container,
                bollard::models::ExecConfig {
                    cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(call(what()))?;
        let mut text = String::new();
        if let bollard::exec::StartExecResults::Attached { mut output, .. } = self
            .at(container)?
            .start_exec(&exec.id, None)
            .await
            .map_err(call(what()))?
        {
            while let Some(chunk) = output.next().await {
                let chunk = chunk.map_err(call(what()))?;
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
        }
        let code = self
            .at(container)?
            .inspect_exec(&exec.id)
            .await
            .map_err(call(what()))?
            .exit_code
            .unwrap_or(-1);
        Ok((code, text))
    }

    /// A container's state and exit code.
    pub async fn state(&self, container: &str) -> Result<(ContainerState, i64), DockerError> {
        let info = self
            .at(container)?
            .inspect_container(container, None)
            .await
            .map_err(call(format!("inspect {container}")))?;
        let state = info.state.unwrap_or_default();
        Ok((
            ContainerState::parse(&state.status.map(|s| s.to_string()).unwrap_or_default()),
            state.exit_code.unwrap_or(0),
        ))
    }

    /// The last `lines` lines of a container's log.
    pub async fn log_tail(&self, container: &str, lines: usize) -> String {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        self.log_text(container, options).await
    }

    /// A container's log as `options` select it, as text.
    async fn log_text(
        &self,
        container: &str,
        options: bollard::query_parameters::LogsOptions,
    ) -> String {
        let Ok(docker) = self.at(container) else {
            return String::new();
        };
        let mut stream = docker.logs(container, Some(options));
        let mut text = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        text
    }

    /// A container's log lines since `since` (seconds since the Unix
    /// epoch), read by the engine: nothing runs in the container.
    pub async fn log_since(&self, container: &str, since: i64) -> String {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .since(i32::try_from(since).unwrap_or(0))
            .build();
        self.log_text(container, options).await
    }

    /// Containers carrying `label` (`key` or `key=value`), stopped ones too,
    /// on every engine of the lab. An engine of a span that does not
    /// answer within a few seconds is left out and named by
    /// [`Engine::unreachable`]; the home engine must answer.
    pub async fn containers(&self, label: &str) -> Result<Vec<ContainerInfo>, DockerError> {
        // The home engine answers in its own time (a busy one may take a
        // while); another engine of a span that does not answer within a
        // few seconds is taken for unreachable.
        let lists = futures_util::future::join_all(self.all().into_iter().enumerate().map(
            |(i, (name, docker))| async move {
                let list = if i == 0 {
                    list_containers(docker, label).await
                } else {
                    tokio::time::timeout(SPAN_TIMEOUT, list_containers(docker, label))
                        .await
                        .unwrap_or_else(|_| {
                            Err(DockerError::Unreachable(format!(
                                "{name}: no answer within {} s",
                                SPAN_TIMEOUT.as_secs()
                            )))
                        })
                };
                (name, list)
            },
        ))
        .await;
        let mut all = Vec::new();
        let mut unreachable = BTreeSet::new();
        for (i, (name, list)) in lists.into_iter().enumerate() {
            match list {
                Ok(list) => all.extend(list),
                Err(e) if i == 0 => return Err(e),
                Err(e) => {
                    tracing::warn!(engine = name, error = %e, "an engine of the lab did not answer");
                    unreachable.insert(name.to_owned());
                }
            }
        }
        if let Some(span) = &self.span
            && let Ok(mut u) = span.unreachable.lock()
        {
            *u = unreachable;
        }
        Ok(all)
    }

    /// Names of networks carrying `label`.
    pub async fn networks(&self, label: &str) -> Result<Vec<String>, DockerError> {
        let filters = HashMap::from([("label".to_owned(), vec![label.to_owned()])]);
        let options = ListNetworksOptionsBuilder::default()
            .filters(&filters)
            .build();
        let nets = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(call("list networks"))?;
        Ok(nets.into_iter().filter_map(|n| n.name).collect())
    }

    /// Names of volumes carrying `label`.
    pub async fn volumes(&self, label: &str) -> Result<Vec<String>, DockerError> {
        let filters = HashMap::from([("label".to_owned(), vec![label.to_owned()])]);
        let options = ListVolumesOptionsBuilder::default()
            .filters(&filters)
            .build();
        // As for containers: an engine of a span that does not answer is
        // left out (and named by `unreachable`).
        let lost = self.unreachable();
        let mut names = Vec::new();
        for (i, (engine, docker)) in self.all().into_iter().enumerate() {
            if lost.contains(engine) {
                continue;
            }
            let list = docker.list_volumes(Some(options.clone()));
            let vols = if i == 0 {
                list.await.map_err(call("list volumes"))?
            } else {
                match tokio::time::timeout(SPAN_TIMEOUT, list).await {
                    Ok(Ok(v)) => v,
                    Ok(Err(_)) | Err(_) => {
                        if let Some(span) = &self.span
                            && let Ok(mut u) = span.unreachable.lock()
                        {
                            u.insert(engine.to_owned());
                        }
                        continue;
                    }
                }
            };
            names.extend(vols.volumes.unwrap_or_default().into_iter().map(|v| v.name));
        }
        Ok(names)
    }

    /// State changes of the containers carrying `label`, as they happen.
    pub fn container_events(
        &self,
        label: &str,
    ) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + 'static {
        let filters = HashMap::from([
            ("type".to_owned(), vec!["container".to_owned()]),
            ("label".to_owned(), vec![label.to_owned()]),
        ]);
        let options = bollard::query_parameters::EventsOptionsBuilder::default()
            .filters(&filters)
            .build();
        // Another engine's stream ends at its first error (it does not
        // answer: the monitor's next list says so), so that one silent
        // engine does not end the home engine's stream too.
        let streams: Vec<_> = self
            .all()
            .into_iter()
            .enumerate()
            .map(|(i, (_, docker))| {
                let stream = async_stream_events(docker.clone(), options.clone());
                if i == 0 {
                    stream.boxed()
                } else {
                    stream
                        .take_while(|r| futures_util::future::ready(r.is_ok()))
                        .boxed()
                }
            })
            .collect();
        futures_util::stream::select_all(streams)
    }

    /// A container's CPU time and memory now (no waiting for a second
    /// reading: the counters are cumulative, so two of these a known time
    /// apart give its CPU use in between).
    pub async fn usage_now(&self, container: &str) -> Result<Usage, DockerError> {
        let options = bollard::query_parameters::StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stream = self.at(container)?.stats(container, Some(options));
        let s = stream
            .next()
            .await
            .ok_or_else(|| DockerError::Call {
                what: format!("read the stats of {container}"),
                why: "the engine sent none".to_owned(),
            })?
            .map_err(call(format!("read the stats of {container}")))?;
        Ok(usage_of(s))
    }

    /// The stats stream of a container (one reading a second while it runs).
    pub fn usage(
        &self,
        container: &str,
    ) -> impl Stream<Item = Result<Usage, DockerError>> + Send + 'static {
        let options = bollard::query_parameters::StatsOptionsBuilder::default()
            .stream(true)
            .build();
        let what = format!("read the stats of {container}");
        let docker = self.at(container).cloned();
        let container = container.to_owned();
        futures_util::stream::once(async move {
            match docker {
                Ok(docker) => docker
                    .stats(&container, Some(options))
                    .map(move |r| Ok(usage_of(r.map_err(call(what.clone()))?)))
                    .boxed(),
                Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
            }
        })
        .flatten()
    }

    /// Starts `cmd` in a running container with its input and output
    /// attached, for a conversation (HAProxy's runtime API in prompt mode).
    pub async fn exec_session(
        &self,
        container: &str,
        cmd: &[&str],
    ) -> Result<ExecSession, DockerError> {
        let what = format!("run `{}` in {container}", cmd.join(" "));
        let exec = self
            .at(container)?
            .create_exec(
                container,
                bollard::models::ExecConfig {
                    cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(call(what.clone()))?;
        match self
            .at(container)?
            .start_exec(&exec.id, None)
            .await
            .map_err(call(what.clone()))?
        {
            bollard::exec::StartExecResults::Attached { output, input } => Ok(ExecSession {
                input,
                output: Box::pin(output.map(move |r| {
                    r.map(bollard::container::LogOutput::into_bytes)
                        .map_err(call(what.clone()))
                })),
            }),
            bollard::exec::StartExecResults::Detached => Err(DockerError::Call {
                what,
                why: "the engine did not attach to the command".to_owned(),
            }),
        }
    }

    /// Removes a container at once (killing it), with its anonymous volumes.
    pub async fn remove_container(&self, name: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let result = self.at(name)?.remove_container(name, Some(options)).await;
        gone(result, || format!("remove container {name}"))
    }

    /// Removes a network.
    pub async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        let result = self.docker.remove_network(name).await;
        gone(result, || format!("remove network {name}"))
    }

    /// Removes a volume.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        let result = self
            .at(name)?
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await;
        gone(result, || format!("remove volume {name}"))
    }
}

impl Span {
    /// Sets the prefixes of `placement`. Every host's prefix is kept, the
    /// home ones too: a host whose name starts with another's must not be
    /// taken for it.
    fn place(&self, placement: &[(String, String)]) {
        let mut prefixes: Vec<(String, Option<usize>)> = placement
            .iter()
            .map(|(prefix, engine)| {
                (
                    prefix.clone(),
                    self.others.iter().position(|(n, _)| n == engine),
                )
            })
            .collect();
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        if let Ok(mut p) = self.prefixes.write() {
            *p = prefixes;
        }
    }

    /// The index of the engine that runs `resource`, if not the home one.
    fn route(&self, resource: &str) -> Option<usize> {
        let prefixes = self.prefixes.read().ok()?;
        prefixes
            .iter()
            .find_map(|(prefix, i)| {
                let rest = resource.strip_prefix(prefix.as_str())?;
                (rest.is_empty() || rest.starts_with('-')).then_some(*i)
            })
            .flatten()
    }
}

/// One engine's containers carrying `label`.
async fn list_containers(docker: &Docker, label: &str) -> Result<Vec<ContainerInfo>, DockerError> {
    let filters = HashMap::from([("label".to_owned(), vec![label.to_owned()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let list = docker
        .list_containers(Some(options))
        .await
        .map_err(call("list containers"))?;
    Ok(list
        .into_iter()
        .map(|c| ContainerInfo {
            name: c
                .names
                .and_then(|n| n.into_iter().next())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            state: ContainerState::parse(&c.state.map(|s| s.to_string()).unwrap_or_default()),
            status: c.status.unwrap_or_default(),
            labels: c.labels.unwrap_or_default(),
        })
        .collect())
}

/// The event stream as an owned stream (the engine client is cloned in).
fn async_stream_events(
    docker: Docker,
    options: bollard::query_parameters::EventsOptions,
) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + 'static {
    futures_util::stream::once(async move { docker.events(Some(options)) })
        .flatten()
        .filter_map(|r| async move {
            let e = match r {
                Ok(e) => e,
                Err(e) => return Some(Err(call("follow the engine's events")(e))),
            };
            let actor = e.actor.unwrap_or_default();
            let mut labels = actor.attributes.unwrap_or_default();
            let name = labels.remove("name").unwrap_or_default();
            let exit_code = labels.get("exitCode").and_then(|c| c.parse().ok());
            let at_ms = e
                .time_nano
                .map(|n| (n / 1_000_000) as u64)
                .or(e.time.map(|s| s as u64 * 1000))
                .unwrap_or(0);
            Some(Ok(ContainerEvent {
                name,
                labels,
                action: e.action.unwrap_or_default(),
                exit_code,
                at_ms,
            }))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_resource_goes_to_its_hosts_engine_and_the_rest_stays_home() {
        let home = Engine::unchecked("tcp://10.0.0.1:2375").expect("a client");
        let b = Engine::unchecked("tcp://10.0.0.2:2375").expect("a client");
        let engine = home.spanning(
            "a",
            vec![("b".to_owned(), b)],
            &[
                ("topolab-lab-web-01".to_owned(), "b".to_owned()),
                ("topolab-lab-web-01-x".to_owned(), "a".to_owned()),
                ("topolab-lab-lb-01".to_owned(), "a".to_owned()),
            ],
        );
        assert!(engine.spans());
        for (resource, want) in [
            // The holder, its components, its volumes.
            ("topolab-lab-web-01", "b"),
            ("topolab-lab-web-01-db", "b"),
            ("topolab-lab-web-01-data", "b"),
            ("topolab-lab-web-01-binlog-reader", "b"),
            // A longer host name that starts the same is another host.
            ("topolab-lab-web-01-x", "a"),
            ("topolab-lab-web-01-x-app", "a"),
            ("topolab-lab-web-010", "a"),
            // The lab's own containers, and what no placement names.
            ("topolab-lab-monitoring", "a"),
            ("topolab-lab-reach", "a"),
            ("topolab-lab-web-09", "a"),
        ] {
            assert_eq!(engine.engine_of(resource), Some(want), "{resource}");
        }
        // A call about a resource on an engine that does not answer fails
        // at once, naming the engine; the others go ahead.
        engine.set_unreachable(BTreeSet::from(["b".to_owned()]));
        let e = engine
            .at("topolab-lab-web-01-db")
            .expect_err("b does not answer");
        assert!(e.to_string().contains("engine b"), "{e}");
        assert!(engine.at("topolab-lab-lb-01").is_ok());
        assert_eq!(engine.unreachable(), BTreeSet::from(["b".to_owned()]));
        // One engine: no span, everything at home.
        let one = Engine::unchecked("tcp://10.0.0.1:2375").expect("a client");
        assert!(!one.spans());
        assert_eq!(one.engine_of("topolab-lab-web-01"), None);
    }
}
