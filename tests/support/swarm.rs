//! A swarm of one made for a test and left again, and a second Docker
//! engine on this machine (its own socket, data and state folders) that
//! can join it.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// `docker ARGS` against `host` (None: the default engine): whether it
/// succeeded, and its output.
pub fn docker_at(host: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("docker");
    if let Some(h) = host {
        cmd.env("DOCKER_HOST", h);
    }
    let out = cmd.args(args).output().expect("docker");
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

/// The default engine made a swarm of one when it was in none, left again
/// on drop (with the bridge the swarm made, when it was not there before).
pub struct Swarm {
    made: bool,
    had_gwbridge: bool,
}

impl Swarm {
    /// Makes the default engine a swarm manager if it is in no swarm.
    pub fn ensure() -> Self {
        let had_gwbridge = docker_at(None, &["network", "inspect", "docker_gwbridge"]).0;
        if swarm_state() == "active" {
            return Self {
                made: false,
                had_gwbridge,
            };
        }
        let (ok, out) = docker_at(None, &["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        assert!(ok, "docker swarm init: {out}");
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

/// The bridge of the second engine: its own, because an engine started
/// with `--bridge none` deletes `docker0`, the first engine's, which shares
/// this network namespace.
const SECOND_BRIDGE: &str = "topolab-e2e-d2";

/// A second engine on this machine, stopped, its bridge and its folders
/// removed on drop. No iptables rules of its own: it runs no lab here.
pub struct SecondEngine {
    /// Its `DOCKER_HOST`.
    pub url: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl SecondEngine {
    /// Starts `dockerd` and waits until it answers (at most 30 s).
    pub fn start(dockerd: &PathBuf) -> Self {
        let dir = tempfile::tempdir().expect("a folder for the second engine");
        let p = |name: &str| dir.path().join(name);
        std::fs::write(p("daemon.json"), "{}").expect("config");
        let socket = p("docker.sock");
        let log = std::fs::File::create(p("log")).expect("log");
        let _ = Command::new("ip")
            .args(["link", "del", SECOND_BRIDGE])
            .status();
        for args in [
            vec!["link", "add", SECOND_BRIDGE, "type", "bridge"],
            vec!["addr", "add", "10.213.250.1/24", "dev", SECOND_BRIDGE],
            vec!["link", "set", SECOND_BRIDGE, "up"],
        ] {
            let ok = Command::new("ip")
                .args(&args)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ip {}", args.join(" "));
        }
        let child = Command::new(dockerd)
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
            .args([
                "--bridge",
                SECOND_BRIDGE,
                "--iptables=false",
                "--ip-masq=false",
            ])
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
                "the second engine did not answer: {}",
                engine.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        engine
    }

    /// Its log's end.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        let _ = docker_at(Some(&self.url), &["swarm", "leave", "--force"]);
        // SIGTERM: dockerd unmounts its layers and stops its containerd.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("ip")
            .args(["link", "del", SECOND_BRIDGE])
            .status();
    }
}
