//! Harness for end-to-end tests against a real Docker engine (local image
//! profile). Tests run one at a time; every lab is removed when its guard
//! drops, also when the test fails.

use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::sync::Arc;

use topolab::lab::state::LabState;
use topolab::lab::traffic::{self, Rate, RunStats, TrafficSettings};
use topolab::live::RequestTrace;

use super::{Bounded, topolab};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A tokio runtime for the HTTP client.
pub static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
});

/// The right to use Docker, or `None` after saying why the test is skipped.
/// With `TOPOLAB_E2E=require` (CI) an absent engine fails the test.
pub fn docker() -> Option<MutexGuard<'static, ()>> {
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let reachable = RT.block_on(topolab::lab::docker::Engine::connect());
    if let Err(e) = reachable {
        assert!(
            std::env::var("TOPOLAB_E2E").as_deref() != Ok("require"),
            "TOPOLAB_E2E=require but {e}"
        );
        eprintln!("SKIP: no Docker engine ({e}); set TOPOLAB_E2E=require to make this a failure");
        return None;
    }
    static IMAGES: std::sync::Once = std::sync::Once::new();
    IMAGES.call_once(|| {
        // Builds the base image when missing (about 90 s) and the app
        // image of this build.
        let out = super::output_within(
            topolab().args(["images", "build"]),
            Duration::from_secs(1200),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "images build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    Some(guard)
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// How many containers, networks and volumes carry `topolab.lab=LAB`.
pub fn leftovers(lab: &str) -> (usize, usize, usize) {
    let count = |args: &[&str]| {
        let out = Command::new("docker")
            .args(args)
            .arg("--filter")
            .arg(format!("label=topolab.lab={lab}"))
            .arg("-q")
            .bounded()
            .expect("docker");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .count()
    };
    (
        count(&["ps", "-a"]),
        count(&["network", "ls"]),
        count(&["volume", "ls"]),
    )
}

/// A running lab, removed on drop.
pub struct Lab {
    /// Its name.
    pub name: String,
    /// `topolab up`'s output.
    pub stdout: String,
    data: tempfile::TempDir,
}

impl Lab {
    /// `topolab up TOPOLOGY --name NAME`; panics with the output on failure.
    pub fn up(topology: &str, name: &str) -> Self {
        Self::up_with(topology, name, &[])
    }

    /// `topolab up TOPOLOGY --name NAME EXTRA...`; panics with the output
    /// on failure.
    pub fn up_with(topology: &str, name: &str, extra: &[&str]) -> Self {
        let data = tempfile::tempdir().expect("data dir");
        let mut lab = Self {
            name: name.to_owned(),
            stdout: String::new(),
            data,
        };
        // A test's lab names are its own: one left on this engine was left
        // by an earlier run that was killed before its guards dropped (a
        // timeout, a cancelled job). It is removed, and said, rather than
        // failing this run with "already exists".
        if leftovers(name) != (0, 0, 0) {
            let out = lab.run(&["down", name]);
            eprintln!(
                "removed lab {name}, left by an earlier run: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                leftovers(name),
                (0, 0, 0),
                "lab {name} left by an earlier run"
            );
        }
        let mut args = vec!["up", topology, "--name", name];
        args.extend_from_slice(extra);
        let out = lab.run(&args);
        assert!(
            out.status.success(),
            "up {topology} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        lab.stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        lab
    }

    /// A topolab command sharing this lab's data folder.
    pub fn command(&self) -> Command {
        let mut cmd = topolab();
        cmd.env("TOPOLAB_DATA_DIR", self.data.path());
        cmd
    }

    /// Runs topolab with `args`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).bounded().expect("topolab runs")
    }

    /// Runs topolab with `args`, killing it after `limit` rather than the
    /// usual [`super::PROGRAM_LIMIT`] (a whole lesson of capacity ramps
    /// takes minutes, more on a crowded machine).
    pub fn run_within(&self, args: &[&str], limit: Duration) -> Output {
        super::output_within(self.command().args(args), limit).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs topolab with `args`: its exit code and its output (stdout,
    /// then stderr).
    pub fn cli(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    }

    /// Runs topolab with `args`; asserts it exits with `code`; returns its
    /// output.
    pub fn cli_exits(&self, code: i32, args: &[&str]) -> String {
        let (got, text) = self.cli(args);
        assert_eq!(got, Some(code), "topolab {args:?}:\n{text}");
        text
    }

    /// The HTTP entry points `up` printed, in order.
    pub fn entry_urls(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("http://")
                    .map(|rest| format!("http://{}", rest.split_whitespace().next().unwrap_or("")))
            })
            .collect()
    }

    /// The HTTPS entry points `up` printed.
    pub fn https_urls(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("https://")
                    .map(|rest| format!("https://{}", rest.split_whitespace().next().unwrap_or("")))
            })
            .collect()
    }

    /// The lab's state file, parsed.
    pub fn state(&self) -> serde_json::Value {
        let path = self
            .data
            .path()
            .join("labs")
            .join(format!("{}.json", self.name));
        serde_json::from_str(&std::fs::read_to_string(&path).expect("state file"))
            .expect("state JSON")
    }

    /// `query` on `host`'s database, as the lab's administrator: its
    /// output without column names, trimmed; asserts it ran.
    pub fn sql(&self, host: &str, query: &str) -> String {
        let (code, out) = self.exec(
            &format!("topolab-{}-{host}-db", self.name),
            &["mariadb", "-N", "-e", query],
        );
        assert_eq!(code, 0, "{query} on {host}: {out}");
        out.trim().to_owned()
    }

    /// `docker exec CONTAINER ARGS`: (exit code, output).
    pub fn exec(&self, container: &str, args: &[&str]) -> (i32, String) {
        let out = Command::new("docker")
            .arg("exec")
            .arg(container)
            .args(args)
            .bounded()
            .expect("docker");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // No panic here: a test that failed is unwinding already.
        let _ = self.command().args(["down", &self.name]).bounded();
    }
}

/// A response, simplified.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, lowercase names.
    pub headers: std::collections::HashMap<String, String>,
    /// Body.
    pub body: String,
}

impl Reply {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// Sends a request; `body` makes it a JSON POST.
pub fn http(
    client: &reqwest::Client,
    url: &str,
    body: Option<serde_json::Value>,
) -> Result<Reply, String> {
    RT.block_on(async {
        let request = match body {
            Some(b) => client.post(url).json(&b),
            None => client.get(url),
        };
        let r = request.send().await.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = r.text().await.map_err(|e| e.to_string())?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    })
}

/// Which apps (`x-topolab-app`) answered `n` GETs of `url` with 200.
pub fn apps_answering(url: &str, n: usize) -> std::collections::BTreeSet<String> {
    let c = client();
    (0..n)
        .filter_map(|_| http(&c, url, None).ok())
        .filter(|r| r.status == 200)
        .map(|r| r.header("x-topolab-app").to_owned())
        .collect()
}

/// A plain HTTP client with a short timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client")
}

/// Polls `f` until it returns `Some`, at most `limit`.
pub fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Traffic from the generator, running in the background for at most
/// `seconds`, every request traced.
pub struct Background {
    traces: Arc<Mutex<Vec<RequestTrace>>>,
    stop: tokio_util::sync::CancellationToken,
    handle: std::thread::JoinHandle<RunStats>,
}

impl Background {
    pub fn start(state: &LabState, rate: f64, writes: u8, seconds: f64) -> Self {
        let traces: Arc<Mutex<Vec<RequestTrace>>> = Arc::default();
        let sink = traces.clone();
        let targets = traffic::targets(state);
        let stop = tokio_util::sync::CancellationToken::new();
        let cancel = stop.clone();
        let handle = std::thread::spawn(move || {
            let (_tx, rx) = tokio::sync::watch::channel(TrafficSettings {
                rate: Rate::PerSecond(rate),
                writes_percent: writes,
                read_back: false,
            });
            RT.block_on(traffic::run(
                targets,
                rx,
                Arc::new(move |batch| sink.lock().expect("traces").extend(batch)),
                cancel,
                Some(Duration::from_secs_f64(seconds)),
            ))
            .expect("traffic runs")
        });
        Self {
            traces,
            stop,
            handle,
        }
    }

    /// The requests traced so far.
    pub fn traces(&self) -> Vec<RequestTrace> {
        self.traces.lock().expect("traces").clone()
    }

    /// Stops sending now, then as [`Background::finish`].
    pub fn stop(self) -> (RunStats, Vec<RequestTrace>) {
        self.stop.cancel();
        self.finish()
    }

    /// Waits until it has sent for its seconds: what it did, and every
    /// request.
    pub fn finish(self) -> (RunStats, Vec<RequestTrace>) {
        let stats = self.handle.join().expect("traffic thread");
        let traces = self.traces.lock().expect("traces").clone();
        (stats, traces)
    }
}

/// The requests that did not succeed, as text (for an assertion's message).
pub fn failed(traces: &[RequestTrace]) -> Vec<String> {
    traces
        .iter()
        .filter(|t| !t.ok())
        .map(|t| format!("{t:?}"))
        .collect()
}

/// What DNS server `host` of the lab answers for the site's name now: the
/// entry points its addresses belong to (`lb-01`, `vip .220`), and the
/// TTL; `None` when it does not answer within a second.
pub fn dns_answer(
    state: &LabState,
    host: &str,
) -> Option<(std::collections::BTreeSet<String>, u32)> {
    use topolab::lab::resolver::{Reply, ask};
    let d = state
        .dns_servers
        .iter()
        .find(|d| d.host.as_str() == host)
        .expect("a DNS server of the lab");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], d.port));
    let reply = RT
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(1), ask(addr, &state.topology.domain)).await
        })
        .ok()?
        .ok()?;
    let Reply::Addresses(a) = reply else {
        panic!("{host} answered {reply:?}");
    };
    let names = traffic::targets(state).entry_names();
    let named = a
        .addresses
        .iter()
        .map(|ip| names.get(ip).cloned().unwrap_or_else(|| ip.to_string()))
        .collect();
    Some((named, a.ttl_s))
}
