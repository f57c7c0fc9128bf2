//! The command line: parses arguments, calls the library, prints, and maps
//! outcomes to exit codes. No subcommand opens the app; `check`, `export`
//! and `presets` are here; the lab's commands (`up`, `down`, `status`,
//! `traffic`, `fault`, `heal`, `promote`, `scenario`) print from `lab.rs`,
//! `bench` from `bench.rs`. Only this module prints.

mod apply;
mod bench;
mod deploy;
mod lab;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::generate::{self, Secrets, Settings};
use crate::model::{Category, Finding, Flavor, Problem, Shown, Topology, escape_json, review};
use crate::preset::{self, LoadError, PRESETS};

/// Exit code: the input was read but is not a valid topology.
const INVALID: u8 = 1;
/// Exit code: the input could not be read, or the command line is wrong.
const UNUSABLE: u8 = 2;
/// Exit code: `export` could not make or write the bundle (the message
/// names the path); the target folder is left as it was.
const WRITE_FAILED: u8 = 3;

#[derive(Parser)]
#[command(
    name = "topolab",
    version,
    about = "Design a web infrastructure (HAProxy, Nginx, app, MySQL replication), generate its configs, run it as a live lab",
    long_about = None,
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Open the desktop app (the default with no subcommand).
    Gui {
        /// A topology file or preset to open (default: the reference design).
        topology: Option<String>,
        /// Measure: render N frames, print frame times, close.
        #[arg(long)]
        frames: Option<usize>,
        /// Measure with a generated topology of this many hosts.
        #[arg(long)]
        generated_hosts: Option<usize>,
        /// Attach to this running lab at start.
        #[arg(long)]
        lab: Option<String>,
        /// With --lab: send this many requests per second through it.
        #[arg(long, requires = "lab")]
        traffic: Option<f64>,
    },
    /// Validate a topology and review its design (SPOFs, security, monitoring).
    ///
    /// Exit status: 0 valid (findings are not errors), 1 not a valid
    /// topology, 2 unreadable or a wrong command line.
    Check {
        /// A topology file, or the name of a preset (`reference`); a path
        /// that does not exist is an error, whatever its file name.
        topology: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write every generated config, a docker-compose.yml, .env and a README to DIR
    /// (or, with --target kubernetes, manifests for a cluster).
    ///
    /// The bundle is written whole or not at all: into a new DIR, or into an
    /// existing one (empty, or with --force) file by file with the old
    /// versions put back when a step fails. Files of DIR that are not part
    /// of the bundle are kept; links inside DIR are never written through.
    ///
    /// Exit status: 0 written, 1 not a valid topology, 2 unreadable
    /// topology, a wrong command line, or a DIR that cannot be used (a file,
    /// or not empty without --force), 3 the bundle could not be written
    /// (the message names the path; DIR is left as it was).
    Export {
        /// A topology file, or the name of a preset (`reference`).
        topology: String,
        /// Folder to create.
        dir: PathBuf,
        /// Write into DIR even when it is not empty.
        #[arg(long)]
        force: bool,
        /// Database program to generate for (default: the topology's).
        #[arg(long, value_enum)]
        flavor: Option<FlavorArg>,
        /// What the bundle runs on: Docker Compose, or Kubernetes (a
        /// StatefulSet per host in a namespace of the design's own).
        #[arg(long, value_enum, default_value_t = TargetArg::Compose)]
        target: TargetArg,
        /// Kubernetes: the type of the entry points' Services.
        #[arg(long, value_enum, default_value_t = ServiceTypeArg::NodePort)]
        service_type: ServiceTypeArg,
        /// Kubernetes: the cluster's DNS domain.
        #[arg(long, default_value = "cluster.local")]
        cluster_domain: String,
    },
    /// Draw a topology as a diagram for slides and notes: SVG or PNG by
    /// FILE's extension, laid out as the app's canvas lays it out.
    ///
    /// Exit status: 0 written, 1 not a valid topology, 2 unreadable
    /// topology or a FILE that is not .svg or .png, 3 FILE could not be
    /// written (nothing is left half-written).
    Diagram {
        /// A topology file, or the name of a preset (`reference`).
        topology: String,
        /// The image to write: NAME.svg or NAME.png.
        file: PathBuf,
    },
    /// List the built-in presets.
    Presets,
    /// Launch a topology as a live lab of Docker containers.
    Up {
        /// A topology file, or the name of a preset.
        topology: String,
        /// Lab name (default: the topology's name).
        #[arg(long)]
        name: Option<String>,
        /// Print the command a person would type for each step.
        #[arg(long)]
        explain: bool,
        /// Image profile (default: whichever is present, local first).
        #[arg(long, value_enum)]
        images: Option<ProfileArg>,
        /// Build the local images first when they are missing (about a
        /// minute, once; what `topolab images build` does).
        #[arg(long)]
        build_images: bool,
        /// Make the lab's networks attachable overlays of the engine's
        /// swarm (same fixed addresses) instead of bridges. The engine
        /// must manage a swarm: `docker swarm init --advertise-addr
        /// 127.0.0.1` makes a swarm of one.
        #[arg(long)]
        overlay: bool,
        /// Spread the lab over these Docker engines, nodes of one swarm
        /// (repeatable): NAME=URL, or NAME@REGION=URL for an engine that
        /// stands for a region (URL: unix:///PATH or tcp://HOST:PORT). The
        /// first is the lab's home: a manager of the swarm, beside this
        /// topolab, where its networks, its published ports and its
        /// monitoring are. Implies --overlay.
        #[arg(long = "engine")]
        engines: Vec<crate::lab::engines::EngineRef>,
        /// A file of engines, one NAME=URL (or NAME@REGION=URL) a line,
        /// after those of --engine; `#` starts a comment.
        #[arg(long)]
        engines_file: Option<PathBuf>,
    },
    /// The Docker engines a lab may span (nodes of one swarm): what each is,
    /// what is missing for them to carry a lab together, and where DESIGN's
    /// hosts would run (by region, then by size; entry points and DNS
    /// servers on the first). `topolab up --engine ...` launches it so.
    ///
    /// Exit status: 0 nothing missing, 1 something is (listed with what to do).
    Engines {
        /// A topology file or preset to place on the engines.
        topology: Option<String>,
        /// An engine: NAME=URL, or NAME@REGION=URL for an engine that
        /// stands for a region (URL: unix:///PATH or tcp://HOST:PORT).
        #[arg(long = "engine", required_unless_present = "engines_file")]
        engines: Vec<crate::lab::engines::EngineRef>,
        /// A file of engines, one NAME=URL (or NAME@REGION=URL) a line,
        /// after those of --engine; `#` starts a comment.
        #[arg(long)]
        engines_file: Option<PathBuf>,
        /// Copy the lab's images to the engines that lack them, from one
        /// that has them (docker save | docker load, through their APIs).
        #[arg(long)]
        copy_images: bool,
    },
    /// Remove a lab: every container, network and volume it created.
    Down {
        /// The lab (default: the only one running).
        lab: Option<String>,
    },
    /// Show running labs, per host and component. Exit 1 when LAB does not exist.
    Status {
        /// The lab (default: every lab).
        lab: Option<String>,
        /// Keep watching: a table refreshed every second (Ctrl-C ends).
        #[arg(long, requires = "lab")]
        watch: bool,
    },
    /// Send real HTTP requests through a lab's entry points, then print a
    /// summary: sent, ok, failed, latency, and each web server's share.
    Traffic {
        /// The lab.
        lab: String,
        /// Requests per second (up to 20000), or `max` for as fast as the lab answers.
        #[arg(long, default_value = "20")]
        rate: String,
        /// Seconds to send for.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Percent of requests that are writes (POST /api/items).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
        writes: u8,
        /// Requests in flight with `--rate max`.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Read back each acknowledged write through the same entry point,
        /// as its client (the read-your-writes probe), and count the stale
        /// reads.
        #[arg(long)]
        read_back: bool,
        /// Also save every request (the history) as JSON Lines to FILE, for
        /// `topolab check-data --history` or a bug report.
        #[arg(long, value_name = "FILE.jsonl")]
        history: Option<PathBuf>,
    },
    /// Check a running lab's data: read every database's items and, with --history,
    /// classify each write of the history (ok, lost, recovered,
    /// unexpected) and count the stale reads. Exit 1 when an acknowledged
    /// write is lost or the primary cannot be read, 2 when the history is
    /// unreadable.
    CheckData {
        /// The lab.
        lab: String,
        /// A history saved by `traffic --history` or `scenario --history`.
        #[arg(long, value_name = "FILE.jsonl")]
        history: Option<PathBuf>,
    },
    /// Measure topolab itself.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Inject a fault into a running lab: `fault LAB TARGET KIND`, TARGET a
    /// host (`web-01`) or a component (`web-01/nginx`); or, in a design of
    /// regions, `fault LAB region-outage REGION` (every host of the region
    /// down at once) or `fault LAB partition REGION` (the region cut off
    /// the others, its hosts running).
    Fault {
        /// The lab.
        lab: String,
        /// A host, or HOST/KIND; or region-outage or partition.
        target: String,
        /// kill, stop, pause, restart, disconnect, slow, lossy, latency,
        /// stop-replication, read-only, drain or maintenance; or the region.
        kind: String,
    },
    /// Undo the faults on TARGET (a host heals its components too), or every
    /// fault; `heal LAB region-outage REGION` or `heal LAB partition REGION`
    /// undoes a region's.
    Heal {
        /// The lab.
        lab: String,
        /// A host, or HOST/KIND; or region-outage or partition.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        target: Option<String>,
        /// The region, after region-outage or partition.
        #[arg(conflicts_with = "all")]
        region: Option<String>,
        /// Heal everything: every fault undone, every container running.
        #[arg(long)]
        all: bool,
    },
    /// Promote a replica to primary: reports its lag and the writes the
    /// old primary has that it lacks first, and refuses to lose any unless
    /// --accept-loss. Exit 1 when refused.
    Promote {
        /// The lab.
        lab: String,
        /// The replica: its host (`web-02`) or `web-02/db`.
        replica: String,
        /// Both alive: make the old primary read-only, let the replica catch
        /// up, promote, and make the old primary its replica (no loss).
        #[arg(long)]
        planned: bool,
        /// Promote even when writes would be lost.
        #[arg(long)]
        accept_loss: bool,
    },
    /// Run a scenario file (timed traffic, faults, heals, promotions and
    /// expectations) against a lab; prints the stopwatch report. Exit 1
    /// when an expectation fails.
    Scenario {
        /// The lab.
        lab: String,
        /// A scenario file (see presets/scenarios/).
        file: PathBuf,
        /// Also write the report as Markdown to this file.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Also save every request (the history) as JSON Lines to FILE.
        #[arg(long, value_name = "FILE.jsonl")]
        history: Option<PathBuf>,
    },
    /// Apply an edited topology to a running lab, as the smallest set of
    /// actions (each hitless, brief or destructive), without relaunching.
    /// Exit 1 when refused: an invalid topology, a change that needs a
    /// relaunch, or a destructive one without --yes.
    Apply {
        /// The lab.
        lab: String,
        /// The edited topology file (or a preset's name).
        topology: String,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Go ahead with destructive actions (data or a whole host goes).
        #[arg(long)]
        yes: bool,
        /// Print the docker, HAProxy and SQL command of each step.
        #[arg(long)]
        explain: bool,
        /// Also write what was done, with each action's time, as Markdown.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Roll a release of the application's files out to a running lab's
    /// servers, batch by batch, each drained first: `v1`, `v2` or
    /// `v2-broken` (it fails its health check and is rolled back). Exit 1
    /// when refused or rolled back.
    Deploy {
        /// The lab.
        lab: String,
        /// The release: v1, v2 or v2-broken.
        version: String,
        /// Hosts switched together.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// A host to deploy first, alone, and watch for --pause seconds.
        #[arg(long)]
        canary: Option<String>,
        /// Seconds the canary is watched before the rest.
        #[arg(long, default_value_t = 0.0)]
        pause: f64,
        /// Failed requests (percent) above which the canary stops the deploy.
        #[arg(long, default_value_t = 1.0)]
        max_errors: f64,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the docker and HAProxy command of each step.
        #[arg(long)]
        explain: bool,
        /// Also write what was done, with each batch's time, as Markdown.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Watch a lab whose databases' failover is automatic, and fail over
    /// by itself when the primary is gone (sources agree, the old primary
    /// is fenced, the most advanced replica promoted). Runs until Ctrl-C,
    /// or for --seconds.
    Orchestrator {
        /// The lab.
        lab: String,
        /// Stop after this many seconds.
        #[arg(long)]
        seconds: Option<f64>,
    },
    /// Build, pull or list the lab's container images.
    Images {
        #[command(subcommand)]
        action: ImagesAction,
    },
    /// Run the application server (inside a lab's container).
    App {
        /// The app's config, generated as HOST/app.json.
        #[arg(long)]
        config: String,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Launch and tear down a topology N times; print the median time per phase.
    Launch {
        /// A topology file, or the name of a preset.
        #[arg(default_value = "reference")]
        topology: String,
        /// How many timed runs.
        #[arg(short = 'n', default_value_t = 3)]
        runs: usize,
        /// Launch each run on bridges and then on overlays of the engine's
        /// swarm, and compare them.
        #[arg(long)]
        overlay: bool,
    },
    /// Launch labs of more and more small web servers (one load balancer,
    /// one database) one at a time: ready time, teardown and memory per
    /// host against the lab's size.
    Scale {
        /// The numbers of web servers.
        #[arg(long, value_delimiter = ',', default_value = "2,8,16,32")]
        web_servers: Vec<usize>,
        /// On overlays of the engine's swarm instead of bridges.
        #[arg(long)]
        overlay: bool,
    },
    /// Ramp an open-loop rate through a running lab until p95 latency passes
    /// the target or more than 1% of requests fail; print each step, the knee
    /// (the highest rate served within the target) and the bottleneck (each
    /// container's CPU against its host's size).
    Capacity {
        /// The lab.
        lab: String,
        /// The p95 latency target, milliseconds.
        #[arg(long = "p95-ms", default_value_t = 50.0)]
        p95_ms: f64,
        /// Percent of requests that are writes (POST /api/items).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
        writes: u8,
        /// Also write the results as Markdown to FILE.
        #[arg(long, value_name = "FILE.md")]
        report: Option<std::path::PathBuf>,
        /// Seconds each step sends for.
        #[arg(long = "step-seconds", default_value_t = 4.0)]
        step_seconds: f64,
        /// The first step's rate, requests per second.
        #[arg(long = "start-rate", default_value_t = 100.0)]
        start_rate: f64,
    },
    /// Time the move of a running lab's virtual IP under load: kill the
    /// load balancer holding it, time until another member answers at the
    /// address, count the failed requests, heal; N runs.
    Vip {
        /// The lab.
        lab: String,
        /// Requests per second sent to the address.
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        /// How many runs.
        #[arg(short = 'n', default_value_t = 3)]
        runs: usize,
        /// Break the whole host (its keepalived too), not just HAProxy.
        #[arg(long)]
        host: bool,
        /// The fault: kill, stop or pause (a host that hangs).
        #[arg(long, default_value = "kill", value_parser = parse_fault)]
        fault: crate::lab::fault::FaultKind,
        /// Send to the virtual IP's published port on 127.0.0.1 (the lab's
        /// nat forwards it to the address) instead of the address itself.
        #[arg(long)]
        published: bool,
    },
    /// Time a region outage under load in a lab of regions: kill every
    /// host of the region (the primary's by default), then time until DNS
    /// stops naming it, until clients stop sending to it (their cached
    /// answers), and from a promotion in another region to its first write.
    Region {
        /// The lab.
        lab: String,
        /// Requests per second, through the lab's DNS.
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        /// The region that goes dark (default: the primary's).
        #[arg(long)]
        region: Option<String>,
    },
    /// Time the data checker on a synthetic history of N writes, one in a
    /// thousand of them lost.
    Checker {
        /// Writes in the history.
        #[arg(long, default_value_t = 100_000)]
        writes: u64,
    },
    /// Send flat out through a running lab, alternately keeping the
    /// history (every request kept, then saved as JSON Lines, the saving
    /// counted in the round's time) and not; print the throughput of each,
    /// to see what the history costs.
    History {
        /// The lab.
        lab: String,
        /// Seconds each round sends.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Rounds with the history and without, alternating.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
}

#[derive(Subcommand)]
enum ImagesAction {
    /// Build the local profile's images (debootstrap + docker import; needs root, no registry).
    ///
    /// The base image is built when missing (or with --rebuild); the app
    /// image is built for this binary when missing.
    Build {
        /// Rebuild the base image even when it exists.
        #[arg(long)]
        rebuild: bool,
    },
    /// Pull the official profile's images from a registry.
    Pull,
    /// Show which images are present.
    Status,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    Local,
    Official,
}

impl From<ProfileArg> for crate::lab::images::Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Local => Self::Local,
            ProfileArg::Official => Self::Official,
        }
    }
}

/// What an exported bundle runs on.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TargetArg {
    /// docker-compose.yml, .env and the configs.
    Compose,
    /// Kubernetes manifests (kubectl apply -k DIR).
    Kubernetes,
}

/// How a Kubernetes bundle's entry points are reached.
#[derive(Clone, Copy, ValueEnum)]
enum ServiceTypeArg {
    /// A port on every node.
    NodePort,
    /// A load balancer of the cluster's.
    LoadBalancer,
    /// Inside the cluster only (kubectl port-forward).
    ClusterIp,
}

impl From<ServiceTypeArg> for generate::kube::ServiceType {
    fn from(s: ServiceTypeArg) -> Self {
        match s {
            ServiceTypeArg::NodePort => Self::NodePort,
            ServiceTypeArg::LoadBalancer => Self::LoadBalancer,
            ServiceTypeArg::ClusterIp => Self::ClusterIp,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum FlavorArg {
    Mysql,
    Mariadb,
}

impl From<FlavorArg> for Flavor {
    fn from(f: FlavorArg) -> Self {
        match f {
            FlavorArg::Mysql => Self::Mysql,
            FlavorArg::Mariadb => Self::Mariadb,
        }
    }
}

/// Runs the command line and returns the process's exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => gui(None, None, crate::ui::Launch::default()),
        Some(Command::Gui {
            topology,
            frames,
            generated_hosts,
            lab,
            traffic,
        }) => {
            if let Some(r) = traffic
                && !(r > 0.0 && r <= crate::lab::traffic::MAX_RATE)
            {
                eprintln!(
                    "topolab: --traffic must be between 0 and {} requests per second",
                    crate::lab::traffic::MAX_RATE
                );
                return ExitCode::from(2);
            }
            let lab = match lab
                .map(|l| l.parse::<crate::protocol::LabName>())
                .transpose()
            {
                Ok(l) => l,
                Err(why) => {
                    eprintln!("topolab: --lab: {why}");
                    return ExitCode::from(2);
                }
            };
            let launch = crate::ui::Launch {
                frames,
                lab,
                traffic,
            };
            gui(topology, generated_hosts, launch)
        }
        Some(Command::Check { topology, format }) => check(&topology, format),
        Some(Command::Export {
            topology,
            dir,
            force,
            flavor,
            target,
            service_type,
            cluster_domain,
        }) => {
            let kube = (target == TargetArg::Kubernetes).then(|| generate::kube::KubeOptions {
                service_type: service_type.into(),
                cluster_domain,
            });
            export(&topology, &dir, force, flavor.map(Flavor::from), kube)
        }
        Some(Command::Diagram { topology, file }) => diagram(&topology, &file),
        Some(Command::Up {
            topology,
            name,
            explain,
            images,
            build_images,
            overlay,
            mut engines,
            engines_file,
        }) => {
            let topology = match load(&topology) {
                Ok(t) => t,
                Err(code) => return code,
            };
            if let Err(code) = read_engines_file(engines_file.as_deref(), &mut engines) {
                return code;
            }
            let options = crate::lab::launch::UpOptions {
                name,
                profile: images.map(Into::into),
                timeout: None,
                build_images,
                networks: if overlay || !engines.is_empty() {
                    crate::lab::docker::NetworkDriver::Overlay
                } else {
                    crate::lab::docker::NetworkDriver::Bridge
                },
                engines,
                placement: crate::placement::Placement::new(),
            };
            block_on(lab::up(topology, options, explain))
        }
        Some(Command::Down { lab }) => block_on(lab::down(lab)),
        Some(Command::Engines {
            topology,
            mut engines,
            engines_file,
            copy_images,
        }) => {
            let topology = match topology.map(|t| load(&t)).transpose() {
                Ok(t) => t,
                Err(code) => return code,
            };
            if let Err(code) = read_engines_file(engines_file.as_deref(), &mut engines) {
                return code;
            }
            run_async(lab::engines(topology, engines, copy_images))
        }
        Some(Command::Status {
            lab: Some(lab),
            watch: true,
        }) => block_on(lab::watch(lab)),
        Some(Command::Traffic {
            lab,
            rate,
            duration,
            writes,
            concurrency,
            read_back,
            history,
        }) => {
            let rate = match parse_rate(&rate, concurrency) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("topolab: {e}");
                    return ExitCode::from(2);
                }
            };
            if !(duration.is_finite() && duration > 0.0 && duration <= 86_400.0) {
                eprintln!("topolab: --duration must be between 0 and 86400 seconds");
                return ExitCode::from(2);
            }
            let settings = crate::lab::traffic::TrafficSettings {
                rate,
                writes_percent: writes,
                read_back,
            };
            block_on(lab::traffic(
                lab,
                settings,
                std::time::Duration::from_secs_f64(duration),
                history,
            ))
        }
        Some(Command::CheckData { lab, history }) => run_async(lab::check_data(lab, history)),
        Some(Command::Fault { lab, target, kind }) => block_on(lab::fault(lab, target, kind)),
        Some(Command::Promote {
            lab,
            replica,
            planned,
            accept_loss,
        }) => block_on(lab::promote(lab, replica, planned, accept_loss)),
        Some(Command::Scenario {
            lab,
            file,
            report,
            history,
        }) => run_async(async move {
            let passed = lab::scenario(lab, file, report, history).await?;
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }),
        Some(Command::Heal {
            lab,
            target,
            region,
            ..
        }) => block_on(lab::heal(lab, target, region)),
        Some(Command::Apply {
            lab,
            topology,
            dry_run,
            yes,
            explain,
            report,
        }) => {
            let topology = match load(&topology) {
                Ok(t) => t,
                Err(code) => return code,
            };
            let options = apply::ApplyOptions {
                dry_run,
                yes,
                explain,
                report,
            };
            run_async(apply::apply(lab, topology, options))
        }
        Some(Command::Deploy {
            lab,
            version,
            batch,
            canary,
            pause,
            max_errors,
            dry_run,
            explain,
            report,
        }) => {
            let request = crate::deploy::Request {
                version,
                batch,
                canary: canary.map(|c| crate::model::HostName::new(&c)),
                pause_s: pause,
            };
            let options = deploy::DeployOptions {
                dry_run,
                explain,
                report,
                max_error_percent: max_errors,
            };
            run_async(deploy::deploy(lab, request, options))
        }
        Some(Command::Orchestrator { lab, seconds }) => {
            run_async(deploy::orchestrator(lab, seconds))
        }
        Some(Command::Status { lab, .. }) => run_async(async move {
            let exists = lab::status(lab).await?;
            Ok(if exists {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }),
        Some(Command::Bench {
            what: BenchWhat::Region { lab, rate, region },
        }) => {
            if !(rate.is_finite() && (1.0..=crate::protocol::MAX_RATE).contains(&rate)) {
                eprintln!(
                    "error: --rate must be between 1 and {} requests per second",
                    crate::protocol::MAX_RATE
                );
                return ExitCode::from(2);
            }
            block_on(bench::region(lab, rate, region))
        }
        Some(Command::Bench {
            what:
                BenchWhat::Vip {
                    lab,
                    rate,
                    runs,
                    host,
                    fault,
                    published,
                },
        }) => {
            if !(rate.is_finite() && (1.0..=crate::protocol::MAX_RATE).contains(&rate)) || runs == 0
            {
                eprintln!(
                    "error: --rate must be between 1 and {} requests per second, and -n at least 1",
                    crate::protocol::MAX_RATE
                );
                return ExitCode::from(2);
            }
            use crate::lab::fault::FaultKind;
            if !matches!(fault, FaultKind::Kill | FaultKind::Stop | FaultKind::Pause) {
                eprintln!("error: --fault must be kill, stop or pause");
                return ExitCode::from(2);
            }
            block_on(bench::vip(lab, rate, runs, host, fault, published))
        }
        Some(Command::Bench {
            what: BenchWhat::Checker { writes },
        }) => {
            bench::checker(writes);
            ExitCode::SUCCESS
        }
        Some(Command::Bench {
            what:
                BenchWhat::History {
                    lab,
                    seconds,
                    rounds,
                    concurrency,
                },
        }) => {
            if !(seconds.is_finite() && (1.0..=600.0).contains(&seconds)) || rounds == 0 {
                eprintln!("error: --seconds must be between 1 and 600, and --rounds at least 1");
                return ExitCode::from(2);
            }
            block_on(bench::history(lab, seconds, rounds, concurrency))
        }
        Some(Command::Bench {
            what:
                BenchWhat::Launch {
                    topology,
                    runs,
                    overlay,
                },
        }) => match load(&topology) {
            Ok(t) => block_on(bench::launch(t, runs, overlay)),
            Err(code) => code,
        },
        Some(Command::Bench {
            what:
                BenchWhat::Scale {
                    web_servers,
                    overlay,
                },
        }) => block_on(bench::scale(&web_servers, overlay)),
        Some(Command::Bench {
            what:
                BenchWhat::Capacity {
                    lab,
                    p95_ms,
                    writes,
                    report,
                    step_seconds,
                    start_rate,
                },
        }) => {
            let bad = |what: &str| {
                eprintln!("error: {what}");
                ExitCode::from(2)
            };
            if !(p95_ms.is_finite() && p95_ms > 0.0) {
                return bad("--p95-ms must be a positive number of milliseconds");
            }
            if !(step_seconds.is_finite() && (0.5..=600.0).contains(&step_seconds)) {
                return bad("--step-seconds must be between 0.5 and 600");
            }
            if !(start_rate.is_finite() && (1.0..=crate::protocol::MAX_RATE).contains(&start_rate))
            {
                return bad(&format!(
                    "--start-rate must be between 1 and {} requests per second",
                    crate::protocol::MAX_RATE
                ));
            }
            let options = crate::lab::capacity_run::RampOptions {
                targets: crate::capacity::Targets {
                    p95_ms,
                    max_errors: 0.01,
                },
                writes_percent: writes,
                step: std::time::Duration::from_secs_f64(step_seconds),
                start_rate,
                max_rate: crate::protocol::MAX_RATE,
            };
            block_on(bench::capacity(lab, options, report))
        }
        Some(Command::Images { action }) => block_on(images(action)),
        Some(Command::App { config }) => {
            init_tracing();
            block_on(async move {
                crate::appserver::run(&config)
                    .await
                    .map_err(anyhow::Error::from)
            })
        }
        Some(Command::Presets) => {
            for p in PRESETS {
                println!("{:<18} {}", p.name, p.description());
            }
            ExitCode::SUCCESS
        }
    }
}

fn gui(topology: Option<String>, generated: Option<usize>, launch: crate::ui::Launch) -> ExitCode {
    let topology = match (generated, topology) {
        (Some(n), _) => crate::ui::generated_topology(n),
        (None, arg) => match load(arg.as_deref().unwrap_or("reference")) {
            Ok(t) => t,
            Err(code) => return code,
        },
    };
    match crate::ui::run(topology, launch) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("topolab: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default: info).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Loads a topology file or preset; when it cannot, prints why and gives
/// the exit code: 1 when it is not a valid topology, 2 when unreadable.
fn load(arg: &str) -> Result<Topology, ExitCode> {
    preset::load_file_or_preset(arg).map_err(|e| match e {
        LoadError::Invalid { problems, .. } => {
            print_problems(arg, &problems);
            ExitCode::from(INVALID)
        }
        e @ LoadError::Read { .. } => {
            print_read_error(&e);
            ExitCode::from(UNUSABLE)
        }
    })
}

/// Says why a topology could not be read, and, for a missing file named
/// like a preset, how to name the preset instead.
fn print_read_error(e: &LoadError) {
    eprintln!("topolab: {}", Shown(&e.to_string()));
    if let LoadError::Read { path, source } = e
        && source.kind() == std::io::ErrorKind::NotFound
        && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        && preset::Preset::find(stem).is_some()
    {
        eprintln!("note: no such file; the built-in preset of that name is `{stem}`");
    }
}

/// Runs `work` on a fresh tokio runtime; exit code 0 when it succeeds.
fn block_on(work: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    run_async(async move { work.await.map(|()| ExitCode::SUCCESS) })
}

/// Runs `work` on a fresh tokio runtime; an error is printed once and gives
/// exit code 1.
fn run_async(work: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("topolab: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(work).unwrap_or_else(|e| {
        eprintln!("topolab: {e:#}");
        ExitCode::FAILURE
    })
}

async fn images(action: ImagesAction) -> anyhow::Result<()> {
    use crate::lab::images::{self, Profile};
    let engine = crate::lab::docker::Engine::connect().await?;
    let say = |line: String| println!("{line}");
    match action {
        ImagesAction::Build { rebuild } => {
            let problem = images::base_problem(&engine).await?;
            if let Some(why) = problem.filter(|_| !rebuild) {
                println!("{} {why}: building it", images::BASE_IMAGE);
            }
            if rebuild || problem.is_some() {
                let started = std::time::Instant::now();
                images::build_base(&engine, &say).await?;
                println!(
                    "built {} in {:.1} s",
                    images::BASE_IMAGE,
                    started.elapsed().as_secs_f64()
                );
            } else {
                println!(
                    "{} is present (--rebuild builds it again)",
                    images::BASE_IMAGE
                );
            }
            let tag = images::ensure_app_image(&engine, Profile::Local).await?;
            println!("app image {tag} ready");
        }
        ImagesAction::Pull => {
            images::pull(&engine, &say).await?;
            let tag = images::ensure_app_image(&engine, Profile::Official).await?;
            println!("app image {tag} ready");
        }
        ImagesAction::Status => {
            for (image, present) in images::status(&engine).await? {
                println!("{} {image}", if present { "present" } else { "missing" });
            }
        }
    }
    Ok(())
}

fn check(arg: &str, format: Format) -> ExitCode {
    let (problems, findings, topology) = match preset::load_file_or_preset(arg) {
        Ok(t) => (Vec::new(), review(&t), Some(t)),
        Err(LoadError::Invalid { problems, .. }) => (problems, Vec::new(), None),
        Err(e @ LoadError::Read { .. }) => {
            print_read_error(&e);
            return ExitCode::from(UNUSABLE);
        }
    };
    match format {
        Format::Json => {
            let json = serde_json::json!({ "problems": problems, "findings": findings });
            println!("{}", escape_json(&format!("{json:#}")));
        }
        Format::Text => match &topology {
            Some(t) => print_review(arg, t, &findings),
            None => print_problems(arg, &problems),
        },
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(INVALID)
    }
}

/// Prints each problem on a line of its own (`Problem`'s `Display`
/// escapes what came from the file), then the count.
fn print_problems(origin: &str, problems: &[Problem]) {
    let origin = Shown(origin);
    for p in problems {
        // `line:column: ` leads a problem that has a place in the file.
        let gap = if p.at.is_some() { "" } else { " " };
        eprintln!("{origin}:{gap}{p}");
    }
    eprintln!(
        "{origin}: not a valid topology ({} problem{})",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
}

fn print_review(origin: &str, t: &Topology, findings: &[Finding]) {
    // Every line goes through `Shown`: a valid topology's names are DNS
    // labels, but the origin is a path, and nothing printed is exempt.
    let out = |line: String| println!("{}", Shown(&line));
    let components = t.components().count();
    out(format!(
        "{origin}: valid topology {:?}: {} hosts, {components} components",
        t.name,
        t.hosts.len()
    ));
    if findings.is_empty() {
        out("design review: no findings".to_owned());
        return;
    }
    out(format!("design review: {} finding(s)", findings.len()));
    for category in [Category::Spof, Category::Security, Category::Monitoring] {
        for f in findings.iter().filter(|f| f.category == category) {
            let subjects: Vec<String> = f.subjects.iter().map(ToString::to_string).collect();
            out(format!(
                "  [{}/{}] {}: {}",
                serde_plain(&f.category),
                serde_plain(&f.severity),
                f.id,
                f.title
            ));
            if !subjects.is_empty() {
                out(format!("      names: {}", subjects.join(", ")));
            }
            out(format!("      why: {}", f.explanation));
            out(format!("      fix: {}", f.fix));
        }
    }
}

/// A unit enum's serde name (`spof`, `high`).
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `topolab diagram`: the design drawn as SVG or PNG.
fn diagram(arg: &str, file: &Path) -> ExitCode {
    use crate::ui::canvas::export;
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(extension.as_deref(), Some("svg" | "png")) {
        eprintln!(
            "topolab: {} must end in .svg or .png (the format is taken from it)",
            Shown(&file.display().to_string())
        );
        return ExitCode::from(UNUSABLE);
    }
    let topology = match load(arg) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let bytes = match extension.as_deref() {
        Some("png") => match export::png(&topology, 2.0) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("topolab: {}", Shown(&e));
                return ExitCode::from(WRITE_FAILED);
            }
        },
        _ => export::svg(&topology).into_bytes(),
    };
    match crate::fsutil::write_atomic(file, &bytes) {
        Ok(()) => {
            println!(
                "wrote the diagram of {} to {}",
                Shown(&topology.name),
                Shown(&file.display().to_string())
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let why = format!("cannot write {}: {e}", file.display());
            eprintln!("topolab: {}", Shown(&why));
            ExitCode::from(WRITE_FAILED)
        }
    }
}

fn export(
    arg: &str,
    dir: &Path,
    force: bool,
    flavor: Option<Flavor>,
    kube: Option<generate::kube::KubeOptions>,
) -> ExitCode {
    let topology = match load(arg) {
        Ok(t) => t,
        Err(code) => return code,
    };
    if let Err(why) = check_target(dir, force) {
        eprintln!("topolab: {}", Shown(&why));
        return ExitCode::from(UNUSABLE);
    }
    let secrets = match Secrets::generate(&topology.domain) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("topolab: {}", Shown(&e.to_string()));
            return ExitCode::from(WRITE_FAILED);
        }
    };
    let mut settings = Settings::for_topology(&topology);
    if let Some(f) = flavor {
        settings.flavor = f;
    }
    // The bundle runs the app image of this very binary. The local images
    // (built by `topolab images build`) carry MariaDB only; a MySQL bundle
    // names the official images.
    {
        use crate::lab::images::{Profile, app_image_tag};
        let profile = match settings.flavor {
            Flavor::Mariadb => Profile::Local,
            Flavor::Mysql => {
                eprintln!(
                    "note: this bundle runs MySQL 8.4 from the official images (a registry is \
                     needed); `--flavor mariadb` makes one that runs on the local images"
                );
                Profile::Official
            }
        };
        if let Ok(tag) = app_image_tag(profile) {
            settings.images = profile.images(settings.flavor, &tag);
        }
    }
    let generated = match &kube {
        Some(options) => generate::kube::generate(&topology, &settings, &secrets, options)
            .map_err(|e| e.to_string()),
        None => generate::generate(&topology, &settings, &secrets).map_err(|e| e.to_string()),
    };
    let artifacts = match generated {
        Ok(a) => a,
        Err(e) => {
            eprintln!("topolab: {}", Shown(&e));
            return ExitCode::from(INVALID);
        }
    };
    match crate::export::write_bundle(&artifacts, dir) {
        Ok(()) => {
            let dir = dir.display().to_string();
            let line = format!(
                "wrote {} files to {dir} ({}{} flavor); see {dir}/README.md",
                artifacts.len(),
                if kube.is_some() { "Kubernetes, " } else { "" },
                settings.flavor.as_str(),
            );
            let _ = writeln!(std::io::stdout(), "{}", Shown(&line));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "topolab: {} ({} is as it was)",
                Shown(&e.to_string()),
                Shown(&dir.display().to_string())
            );
            ExitCode::from(WRITE_FAILED)
        }
    }
}

/// Whether `dir` may be written: absent, an empty folder, or `force`.
fn check_target(dir: &Path, force: bool) -> Result<(), String> {
    if dir.as_os_str().is_empty() {
        return Err("DIR is empty: name the folder to write".to_owned());
    }
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if dir.is_file() => Err(format!("{} is a file, not a folder ({e})", dir.display())),
        Err(e) => Err(format!("cannot use {}: {e}", dir.display())),
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                Err(format!(
                    "{} is not empty: pass --force to write into it anyway",
                    dir.display()
                ))
            } else {
                Ok(())
            }
        }
    }
}

/// `--rate`: a number of requests per second, or `max`.
fn parse_rate(rate: &str, concurrency: usize) -> Result<crate::lab::traffic::Rate, String> {
    use crate::lab::traffic::{MAX_RATE, Rate};
    if rate == "max" {
        if concurrency == 0 || concurrency > 1024 {
            return Err("--concurrency must be between 1 and 1024".to_owned());
        }
        return Ok(Rate::FlatOut { concurrency });
    }
    match rate.parse::<f64>() {
        Ok(r) if r > 0.0 && r <= MAX_RATE => Ok(Rate::PerSecond(r)),
        _ => Err(format!(
            "--rate {rate:?}: expected requests per second between 0 and {MAX_RATE}, or `max`"
        )),
    }
}

fn parse_fault(s: &str) -> Result<crate::lab::fault::FaultKind, String> {
    s.parse()
}

/// A fault's two words: `TARGET KIND`, or `region-outage|partition REGION`.
pub enum FaultWords {
    /// A host's or a component's.
    On(String, crate::lab::fault::FaultKind),
    /// A region's.
    Region(crate::protocol::RegionFaultKind, String),
}

/// Reads `fault LAB A B`'s two words.
pub fn fault_words(a: &str, b: &str) -> Result<FaultWords, String> {
    if let Ok(kind) = a.parse::<crate::protocol::RegionFaultKind>() {
        return Ok(FaultWords::Region(kind, b.to_owned()));
    }
    Ok(FaultWords::On(a.to_owned(), parse_fault(b)?))
}

/// Adds the engines of `file` (if any) to `engines`; says what is wrong
/// with it (exit 2) otherwise.
fn read_engines_file(
    file: Option<&std::path::Path>,
    engines: &mut Vec<crate::lab::engines::EngineRef>,
) -> Result<(), ExitCode> {
    let Some(file) = file else {
        return Ok(());
    };
    let text = std::fs::read_to_string(file).map_err(|e| {
        eprintln!("topolab: cannot read {}: {e}", file.display());
        ExitCode::from(2)
    })?;
    let listed = crate::lab::engines::parse_engines_file(&text).map_err(|e| {
        eprintln!("topolab: {}: {e}", file.display());
        ExitCode::from(2)
    })?;
    engines.extend(listed);
    Ok(())
}
