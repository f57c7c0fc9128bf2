//! A swarm made for a test and left again; a second Docker engine on this
//! machine (its own socket, data and state folders) that can join it; and
//! a second node, an engine in a network namespace of its own, that can
//! carry a lab's hosts over the swarm's overlays.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::Bounded;

/// `docker ARGS` against `host` (None: the default engine): whether it
/// succeeded, and its output.
pub fn docker_at(host: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("docker");
    if let Some(h) = host {
        cmd.env("DOCKER_HOST", h);
    }
    // A hung engine gives `false` and says so, without a panic: drops call
    // this too.
    let out = match cmd.args(args).bounded() {
        Ok(out) => out,
        Err(e) => return (false, e.to_string()),
    };
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .trim()
        .to_owned(),
    )
}

/// The default engine's swarm state (`inactive`, `active`, ...).
pub fn swarm_state() -> String {
    docker_at(None, &["info", "--format", "{{.Swarm.LocalNodeState}}"]).1
}

/// The node label these tests put on a swarm they make, so that a later
/// run can tell a swarm left by a killed run from anyone else's.
const MADE_BY_TESTS: &str = "topolab.e2e-made";

/// Marks the swarm just made by these tests (see [`MADE_BY_TESTS`]).
fn mark_made() {
    let (ok, out) = docker_at(
        None,
        &[
            "node",
            "update",
            "--label-add",
            &format!("{MADE_BY_TESTS}=1"),
            &node_id(),
        ],
    );
    assert!(ok, "docker node update: {out}");
}

/// The default engine's node id in its swarm.
fn node_id() -> String {
    docker_at(None, &["info", "--format", "{{.Swarm.NodeID}}"]).1
}

/// Leaves a swarm that an earlier run of these tests made and could not
/// leave (it was killed): one whose node carries [`MADE_BY_TESTS`] and
/// that runs no service. Whether the engine is out of a swarm now.
fn leave_a_test_swarm() -> bool {
    let format = format!("{{{{ index .Spec.Labels \"{MADE_BY_TESTS}\" }}}}");
    let (inspected, label) = docker_at(None, &["node", "inspect", &node_id(), "--format", &format]);
    let (listed, services) = docker_at(None, &["service", "ls", "-q"]);
    if !inspected || label != "1" || !listed || !services.is_empty() {
        return false;
    }
    let (ok, out) = docker_at(None, &["swarm", "leave", "--force"]);
    eprintln!("left a swarm that an earlier run of the tests made and did not leave: {out}");
    ok && swarm_state() == "inactive"
}

/// The default engine made a swarm of one when it was in none, left again
/// on drop (with the bridge the swarm made, when it was not there before).
pub struct Swarm {
    made: bool,
    had_gwbridge: bool,
}

impl Swarm {
    /// Makes the default engine a swarm manager that advertises `address`
    /// (an address of this machine that other nodes reach), when it is in
    /// no swarm; `None` when it is in one already.
    pub fn init_at(address: &str) -> Option<Self> {
        if swarm_state() != "inactive" && !leave_a_test_swarm() {
            return None;
        }
        let had_gwbridge = docker_at(None, &["network", "inspect", "docker_gwbridge"]).0;
        let (ok, out) = docker_at(None, &["swarm", "init", "--advertise-addr", address]);
        assert!(ok, "docker swarm init: {out}");
        mark_made();
        Some(Self {
            made: true,
            had_gwbridge,
        })
    }

    /// Makes the default engine a swarm manager if it is in no swarm.
    pub fn ensure() -> Self {
        let had_gwbridge = docker_at(None, &["network", "inspect", "docker_gwbridge"]).0;
        if swarm_state() == "active" && !leave_a_test_swarm() {
            return Self {
                made: false,
                had_gwbridge,
            };
        }
        let (ok, out) = docker_at(None, &["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        assert!(ok, "docker swarm init: {out}");
        mark_made();
        Self {
            made: true,
            had_gwbridge,
        }
    }

    /// The token a worker joins with.
    pub fn worker_token() -> String {
        let (ok, out) = docker_at(None, &["swarm", "join-token", "-q", "worker"]);
        assert!(ok, "join-token: {out}");
        out
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        if self.made {
            let _ = docker_at(None, &["swarm", "leave", "--force"]);
            if !self.had_gwbridge {
                let _ = docker_at(None, &["network", "rm", "docker_gwbridge"]);
            }
        }
    }
}

/// A `dockerd` of a test's own: its socket, data and state folders in a
/// temporary folder; stopped (SIGTERM: it unmounts its layers and stops
/// its containerd, then SIGKILL after 30 s) on drop.
struct Dockerd {
    url: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Dockerd {
    /// Runs `launcher` (`dockerd`, or a program that runs it) with the
    /// folders' options and `extra`; waits until it answers (30 s).
    fn start(mut launcher: Command, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a folder for the engine");
        let p = |name: &str| dir.path().join(name);
        std::fs::write(p("daemon.json"), "{}").expect("config");
        let socket = p("docker.sock");
        let log = std::fs::File::create(p("log")).expect("log");
        let child = launcher
            .arg("--config-file")
            .arg(p("daemon.json"))
            .arg("--host")
            .arg(format!("unix://{}", socket.display()))
            .arg("--data-root")
            .arg(p("root"))
            .arg("--exec-root")
            .arg(p("exec"))
            .arg("--pidfile")
            .arg(p("docker.pid"))
            .args(extra)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        let engine = Self {
            url: format!("unix://{}", socket.display()),
            child,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !docker_at(Some(&engine.url), &["info"]).0 {
            assert!(
                Instant::now() < deadline,
                "the engine did not answer: {}",
                engine.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        engine
    }

    /// Sends `signal` (`-STOP`, `-CONT`, `-TERM`); whether it was sent.
    fn signal(&self, signal: &str) -> bool {
        Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = self.signal("-CONT");
        let _ = docker_at(Some(&self.url), &["swarm", "leave", "--force"]);
        let _ = self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// The bridge of the second engine: its own, because an engine started
/// with `--bridge none` deletes `docker0`, the first engine's, which shares
/// this network namespace.
const SECOND_BRIDGE: &str = "topolab-e2e-d2";

/// A second engine on this machine, in its network namespace with a bridge
/// of its own; stopped, its bridge and its folders removed on drop. No iptables rules of its own:
/// it runs no lab here.
pub struct SecondEngine {
    /// Its `DOCKER_HOST`.
    pub url: String,
    engine: Option<Dockerd>,
}

impl SecondEngine {
    /// Starts `dockerd` and waits until it answers (at most 30 s).
    pub fn start(dockerd: &PathBuf) -> Self {
        let _ = ip(&["link", "del", SECOND_BRIDGE]);
        for args in [
            vec!["link", "add", SECOND_BRIDGE, "type", "bridge"],
            vec!["addr", "add", "10.213.250.1/24", "dev", SECOND_BRIDGE],
            vec!["link", "set", SECOND_BRIDGE, "up"],
        ] {
            assert!(ip(&args), "ip {}", args.join(" "));
        }
        let engine = Dockerd::start(
            Command::new(dockerd),
            &[
                "--bridge",
                SECOND_BRIDGE,
                "--iptables=false",
                "--ip-masq=false",
            ],
        );
        Self {
            url: engine.url.clone(),
            engine: Some(engine),
        }
    }

    /// Its log's end.
    pub fn log(&self) -> String {
        self.engine.as_ref().map(Dockerd::log).unwrap_or_default()
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        // The engine first, then its bridge.
        drop(self.engine.take());
        let _ = ip(&["link", "del", SECOND_BRIDGE]);
    }
}

/// The network namespace of [`SecondNode`].
const NODE_NETNS: &str = "topolab-e2e-n2";
/// The pair of interfaces joining it to this machine's namespace.
const HOST_VETH: &str = "tl-e2e-n2h";
const NODE_VETH: &str = "tl-e2e-n2n";
/// This machine's address on the pair, and the second node's.
pub const HOST_ADDR: &str = "10.213.249.1";
const NODE_ADDR: &str = "10.213.249.2";

/// A second machine of a swarm, on this one: a `dockerd` in a network
/// namespace of its own, joined to this machine's by a pair of virtual
/// interfaces, so it has its own `docker0`, iptables and VXLAN endpoint,
/// as another machine has (two engines in one namespace cannot both carry
/// an overlay). On drop it leaves the swarm and stops, and the namespace,
/// the interfaces and its folders are removed.
pub struct SecondNode {
    /// Its `DOCKER_HOST`.
    pub url: String,
    engine: Option<Dockerd>,
}

impl SecondNode {
    /// Makes the namespace and starts `dockerd` in it (through `nsenter`,
    /// which enters the network namespace only); waits until it answers.
    pub fn start(dockerd: &PathBuf, nsenter: &PathBuf) -> Self {
        // What an interrupted earlier run may have left.
        let _ = ip(&["netns", "del", NODE_NETNS]);
        let _ = ip(&["link", "del", HOST_VETH]);
        let host_cidr = format!("{HOST_ADDR}/24");
        let node_cidr = format!("{NODE_ADDR}/24");
        for args in [
            vec!["netns", "add", NODE_NETNS],
            vec![
                "link", "add", HOST_VETH, "type", "veth", "peer", "name", NODE_VETH,
            ],
            vec!["link", "set", NODE_VETH, "netns", NODE_NETNS],
            vec!["addr", "add", &host_cidr, "dev", HOST_VETH],
            vec!["link", "set", HOST_VETH, "up"],
            vec![
                "-n", NODE_NETNS, "addr", "add", &node_cidr, "dev", NODE_VETH,
            ],
            vec!["-n", NODE_NETNS, "link", "set", NODE_VETH, "up"],
            vec!["-n", NODE_NETNS, "link", "set", "lo", "up"],
        ] {
            assert!(ip(&args), "ip {}", args.join(" "));
        }
        let mut launcher = Command::new(nsenter);
        launcher
            .arg(format!("--net=/run/netns/{NODE_NETNS}"))
            .arg(dockerd);
        let engine = Dockerd::start(launcher, &[]);
        Self {
            url: engine.url.clone(),
            engine: Some(engine),
        }
    }

    fn engine(&self) -> &Dockerd {
        self.engine.as_ref().expect("running")
    }

    /// Joins the swarm whose manager advertises [`HOST_ADDR`], as a worker.
    pub fn join(&self) {
        let (ok, out) = docker_at(
            Some(&self.url),
            &[
                "swarm",
                "join",
                "--token",
                &Swarm::worker_token(),
                "--advertise-addr",
                NODE_ADDR,
                &format!("{HOST_ADDR}:2377"),
            ],
        );
        assert!(
            ok,
            "the second node did not join: {out}\n{}",
            self.engine().log()
        );
    }

    /// Freezes (`true`) or thaws its engine: its containers run on, its
    /// API does not answer, as an engine whose machine is cut off.
    pub fn freeze(&self, frozen: bool) {
        let signal = if frozen { "-STOP" } else { "-CONT" };
        assert!(
            self.engine().signal(signal),
            "kill {signal} the second node's dockerd"
        );
    }
}

impl Drop for SecondNode {
    fn drop(&mut self) {
        // The engine first, then its namespace.
        drop(self.engine.take());
        let _ = ip(&["netns", "del", NODE_NETNS]);
        let _ = ip(&["link", "del", HOST_VETH]);
    }
}
