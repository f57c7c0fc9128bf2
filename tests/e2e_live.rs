//! End-to-end: the monitor and the traffic generator against a real lab
//! (local image profile). Skipped with a message when no engine is
//! reachable, unless `TOPOLAB_E2E=require` (CI).

mod support;
use support::Bounded;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::lab::{Lab, RT, docker};
use topolab::lab::docker::Engine;
use topolab::lab::monitor;
use topolab::lab::state::LabState;
use topolab::lab::traffic::{self, Rate, TrafficSettings};
use topolab::live::{self, BackendStatus, Health, LiveState, Observation, RequestTrace};
use topolab::model::{ComponentId, ComponentKind, HostName};

/// Waits up to `limit` for `ok` to hold on the live state; returns whether it did.
fn wait_for(live: &Mutex<LiveState>, limit: Duration, ok: impl Fn(&LiveState) -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok(&live.lock().expect("live")) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn traffic_paths_shares_health_and_a_stopped_nginx_seen_by_haproxy() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-live");
    let state: LabState = serde_json::from_value(lab.state()).expect("lab state");
    let topology = state.topology.clone();
    let h = |s: &str| HostName::new(s);

    // The monitor, as the GUI runs it.
    let live = Arc::new(Mutex::new(LiveState::new()));
    let sink_live = live.clone();
    let engine = RT.block_on(Engine::connect()).expect("engine");
    let _monitor = {
        let _guard = RT.enter();
        monitor::spawn(
            engine,
            state.clone(),
            Arc::new(move |batch: Vec<Observation>| {
                let mut l = sink_live.lock().expect("live");
                for o in batch {
                    l.apply(o);
                }
            }),
        )
    };

    // 20 req/s for 5 s through the LB.
    let traces: Arc<Mutex<Vec<RequestTrace>>> = Arc::default();
    let sink_traces = traces.clone();
    let (_tx, rx) = tokio::sync::watch::channel(TrafficSettings {
        rate: Rate::PerSecond(20.0),
        writes_percent: 0,
        read_back: false,
    });
    let stats = RT
        .block_on(traffic::run(
            traffic::targets(&state),
            rx,
            Arc::new(move |batch| sink_traces.lock().expect("traces").extend(batch)),
            tokio_util::sync::CancellationToken::new(),
            Some(Duration::from_secs(5)),
        ))
        .expect("traffic runs");
    let traces = traces.lock().expect("traces").clone();
    assert_eq!(traces.len() as u64, stats.sent);
    assert!(
        (95..=101).contains(&stats.sent),
        "20 req/s for 5 s sent {}",
        stats.sent
    );
    for t in &traces {
        assert!(t.ok(), "a request failed: {t:?}");
        live::check_path(&topology, t).unwrap_or_else(|why| panic!("{why}: {t:?}"));
        assert!(
            t.app_ms.is_some() && t.db_ms.is_some(),
            "no Server-Timing: {t:?}"
        );
    }
    for web in ["web-01", "web-02"] {
        let n = traces
            .iter()
            .filter(|t| t.web.as_ref() == Some(&h(web)))
            .count();
        let share = 100.0 * n as f64 / traces.len() as f64;
        assert!(
            (40.0..=60.0).contains(&share),
            "{web} got {share:.1}% of requests"
        );
    }

    // HAProxy reports both backends UP; the replica both threads and lag 0.
    let settled = wait_for(&live, Duration::from_secs(5), |l| {
        let up = |server: &str| {
            l.backend(&h("lb-01"), &h(server))
                .is_some_and(|(s, _, _)| *s == BackendStatus::Up)
        };
        let replica = matches!(
            l.replication(&h("web-02")),
            Some(Ok(r)) if r.running() && r.lag_seconds == Some(0) && r.lag_transactions == Some(0)
        );
        up("web-01") && up("web-02") && replica
    });
    assert!(settled, "monitor state: {:#?}", live.lock().expect("live"));
    assert_eq!(
        live.lock()
            .expect("live")
            .node_health(&ComponentId::new("web-02", ComponentKind::Db))
            .health,
        Health::Up
    );

    // The CLI's summary: one line per web server with its share.
    let out = lab.run(&["traffic", "e2e-live", "--rate", "20", "--duration", "2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
    for web in ["web-01", "web-02"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(web))
            .unwrap_or_else(|| panic!("no line for {web}: {stdout}"));
        let share: f64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.strip_suffix('%'))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no share in {line:?}"));
        assert!((40.0..=60.0).contains(&share), "{line}");
    }

    // Stop web-01's Nginx from outside topolab: HAProxy marks it DOWN and
    // the monitor says so, with the cause.
    let stopped = Command::new("docker")
        .args(["stop", "-t", "1", "topolab-e2e-live-web-01-nginx"])
        .bounded()
        .expect("docker");
    assert!(stopped.status.success());
    let down = wait_for(&live, Duration::from_secs(10), |l| {
        l.backend(&h("lb-01"), &h("web-01"))
            .is_some_and(|(s, _, _)| *s == BackendStatus::Down)
    });
    assert!(
        down,
        "HAProxy never marked web-01 DOWN: {:#?}",
        live.lock().expect("live")
    );
    {
        let l = live.lock().expect("live");
        let nginx = l.node_health(&ComponentId::new("web-01", ComponentKind::Nginx));
        assert_eq!(nginx.health, Health::Down, "{nginx:?}");
        let marked = l
            .timeline()
            .find(|t| t.text.starts_with("lb-01 marked web-01 DOWN"))
            .expect("a timeline entry for the DOWN");
        assert!(
            marked.text.contains("after its Nginx died"),
            "{}",
            marked.text
        );
    }
    let status = lab.run(&["status", "e2e-live"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("lb-01 sees web-01") && l.contains("DOWN")),
        "{text}"
    );
}
