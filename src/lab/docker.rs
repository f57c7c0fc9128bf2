//! Every call to the Docker Engine (bollard) goes through here. Callers see
//! plain data and [`DockerError`]s that say what failed and how to fix it.

use std::collections::HashMap;
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

/// A connection to the engine (cheap to clone).
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
}

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
        Ok(Self { docker })
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
        Ok(Self { docker })
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
            .docker
            .inspect_container(container, None)
            .await
            .map_err(call(format!("inspect {container}")))?;
        Ok(info.id.unwrap_or_default())
    }

    /// Whether an image exists; its labels if it does.
    pub async fn image_labels(
        &self,
        image: &str,
    ) -> Result<Option<HashMap<String, String>>, DockerError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(i.config.and_then(|c| c.labels).unwrap_or_default())),
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
        let mut wait = self.docker.wait_container(name, None);
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
        self.docker
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
        self.docker
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
        self.docker
            .connect_network(network, request)
            .await
            .map_err(call(format!("connect {container} to {network}")))
    }

    /// Copies a tarball into a container (extracted at `/`).
    pub async fn upload(&self, container: &str, tar: Bytes) -> Result<(), DockerError> {
        let options = UploadToContainerOptionsBuilder::default().path("/").build();
        self.docker
            .upload_to_container(container, Some(options), bollard::body_full(tar))
            .await
            .map_err(call(format!("copy configs into {container}")))
    }

    /// Sends `signal` (e.g. `SIGKILL`) to a container.
    pub async fn kill(&self, container: &str, signal: &str) -> Result<(), DockerError> {
        let options = bollard::query_parameters::KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.docker
            .kill_container(container, Some(options))
            .await
            .map_err(call(format!("kill {container}")))
    }

    /// Stops a container, killing it after `seconds`.
    pub async fn stop(&self, container: &str, seconds: i32) -> Result<(), DockerError> {
        let options = bollard::query_parameters::StopContainerOptionsBuilder::default()
            .t(seconds)
            .build();
        self.docker
            .stop_container(container, Some(options))
            .await
            .map_err(call(format!("stop {container}")))
    }

    /// Restarts a container, killing it after `seconds`.
    pub async fn restart(&self, container: &str, seconds: i32) -> Result<(), DockerError> {
        let options = bollard::query_parameters::RestartContainerOptionsBuilder::default()
            .t(seconds)
            .build();
        self.docker
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
        self.docker
            .update_container(container, body)
            .await
            .map_err(call(format!("update the limits of {container}")))
    }

    /// Freezes a container.
    pub async fn pause(&self, container: &str) -> Result<(), DockerError> {
        self.docker
            .pause_container(container)
            .await
            .map_err(call(format!("pause {container}")))
    }

    /// Thaws a container.
    pub async fn unpause(&self, container: &str) -> Result<(), DockerError> {
        self.docker
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
        self.docker
            .disconnect_network(network, request)
            .await
            .map_err(call(format!("disconnect {container} from {network}")))
    }

    /// The networks a container is on.
    pub async fn container_networks(&self, container: &str) -> Result<Vec<String>, DockerError> {
        let info = self
            .docker
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
        self.docker
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
            .docker
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
            .docker
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
            .docker
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
            .docker
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
        let mut stream = self.docker.logs(container, Some(options));
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

    /// Containers carrying `label` (`key` or `key=value`), stopped ones too.
    pub async fn containers(&self, label: &str) -> Result<Vec<ContainerInfo>, DockerError> {
        let filters = HashMap::from([("label".to_owned(), vec![label.to_owned()])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
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
        let vols = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(call("list volumes"))?;
        Ok(vols
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect())
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
        let docker = self.docker.clone();
        async_stream_events(docker, options)
    }

    /// A container's CPU time and memory now (no waiting for a second
    /// reading: the counters are cumulative, so two of these a known time
    /// apart give its CPU use in between).
    pub async fn usage_now(&self, container: &str) -> Result<Usage, DockerError> {
        let options = bollard::query_parameters::StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stream = self.docker.stats(container, Some(options));
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
        let docker = self.docker.clone();
        let container = container.to_owned();
        futures_util::stream::once(async move { docker.stats(&container, Some(options)) })
            .flatten()
            .map(move |r| Ok(usage_of(r.map_err(call(what.clone()))?)))
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
            .docker
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
            .docker
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
        let result = self.docker.remove_container(name, Some(options)).await;
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
            .docker
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await;
        gone(result, || format!("remove volume {name}"))
    }
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
