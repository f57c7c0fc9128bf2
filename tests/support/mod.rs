//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod kube;
pub mod lab;
pub mod stub;
pub mod swarm;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use topolab::generate::Secrets;
use topolab::model::{Topology, validate};

/// Fixed secrets for golden files: never used by a real lab.
pub fn fixed_secrets() -> Secrets {
    Secrets {
        db_root_password: "golden-root-password".to_owned(),
        app_password: "golden-app-password".to_owned(),
        replication_password: "golden-replication-password".to_owned(),
        monitor_password: "golden-monitor-password".to_owned(),
        stats_password: "golden-stats-password".to_owned(),
        admin_token: "golden-admin-token".to_owned(),
        tls_cert_pem: "-----BEGIN CERTIFICATE-----\ngolden\n-----END CERTIFICATE-----\n".to_owned(),
        tls_key_pem: "-----BEGIN PRIVATE KEY-----\ngolden\n-----END PRIVATE KEY-----\n".to_owned(),
    }
}

/// The path of `program` on PATH (or in /usr/sbin), or `None` after saying
/// why the test is skipped. With `TOPOLAB_REQUIRE_TOOLS=1` (set by CI) a
/// missing program fails the test instead.
pub fn tool(program: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        let required = std::env::var("TOPOLAB_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{program} is not installed and TOPOLAB_REQUIRE_TOOLS=1 (run .ci/run, which installs it)"
        );
        eprintln!("SKIP: {program} is not installed; this check did not run");
    }
    found
}

/// How long a program a test runs may take before the test gives up on it:
/// a hung engine or command fails its test, naming the command, instead of
/// holding up the whole run.
pub const PROGRAM_LIMIT: Duration = Duration::from_secs(300);

/// Runs `cmd` as `Command::output` does, but kills it when it has not
/// finished within `limit`: `Err` then names the command and shows what it
/// printed so far.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown} does not start: {e}"))?;
    // Both pipes are read while the program runs, so a full pipe never
    // stops it.
    fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Receiver<Vec<u8>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            let _ = tx.send(bytes);
        });
        rx
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => break None,
        }
    };
    // A program it started may hold the pipes open after it ended: what
    // they held a moment later is what it printed.
    let printed =
        |rx: Receiver<Vec<u8>>| rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!(
            "{shown} did not finish within {} s and was killed; it printed:\n{}{}",
            limit.as_secs(),
            String::from_utf8_lossy(&printed(stdout)),
            String::from_utf8_lossy(&printed(stderr)),
        ));
    };
    Ok(Output {
        status,
        stdout: printed(stdout),
        stderr: printed(stderr),
    })
}

/// `Command::output` within [`PROGRAM_LIMIT`]: a program that hangs is
/// killed and gives an error that names it (`.bounded().expect(..)`).
pub trait Bounded {
    fn bounded(&mut self) -> std::io::Result<Output>;
}

impl Bounded for Command {
    fn bounded(&mut self) -> std::io::Result<Output> {
        output_within(self, PROGRAM_LIMIT).map_err(std::io::Error::other)
    }
}

/// Runs `cmd`, returning (success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.bounded().expect("the program runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The topolab binary built for these tests.
pub fn topolab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_topolab"))
}

/// The preset named `name`, parsed.
pub fn preset(name: &str) -> Topology {
    topolab::preset::Preset::find(name)
        .expect("preset exists")
        .topology()
        .expect("preset is valid")
}

/// `t`'s validation problems, as printed.
pub fn problems(t: &Topology) -> Vec<String> {
    validate(t).iter().map(ToString::to_string).collect()
}
