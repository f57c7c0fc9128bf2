//! The reducer, its history and its path checks, fed scripted observations.

use super::*;

fn h(s: &str) -> HostName {
    HostName::new(s)
}

fn trace(at: Millis, web: &str, db: &str, status: u16, latency: f32) -> RequestTrace {
    RequestTrace {
        status: Some(status),
        latency_ms: latency,
        lb: Some(h("lb-01")),
        web: Some(h(web)),
        app: Some(h(web)),
        db: Some(h(db)),
        app_ms: Some(latency / 2.0),
        db_ms: Some(latency / 4.0),
        ..RequestTrace::new(at, false, h("lb-01"))
    }
}

fn running(l: &mut LiveState, host: &str, kind: Option<ComponentKind>, at: Millis) {
    l.apply(Observation::Container {
        host: h(host),
        kind,
        state: RunState::Running,
        at,
    });
}

#[test]
fn backend_status_words() {
    assert_eq!(BackendStatus::parse("UP"), BackendStatus::Up);
    assert_eq!(BackendStatus::parse("UP 1/2"), BackendStatus::GoingDown);
    assert_eq!(BackendStatus::parse("DOWN 1/2"), BackendStatus::GoingUp);
    assert_eq!(BackendStatus::parse("DOWN"), BackendStatus::Down);
    assert_eq!(BackendStatus::parse("MAINT"), BackendStatus::Maintenance);
    assert_eq!(
        BackendStatus::parse("MAINT (resolution)"),
        BackendStatus::Maintenance
    );
    assert_eq!(BackendStatus::parse("DRAIN"), BackendStatus::Drain);
    assert_eq!(BackendStatus::parse("no check"), BackendStatus::NoCheck);
    assert_eq!(
        BackendStatus::parse("weird"),
        BackendStatus::Other("weird".into())
    );
}

#[test]
fn killed_nginx_then_backend_down_reads_as_cause_and_effect() {
    let mut l = LiveState::new();
    let nginx = ComponentId::new("web-01", ComponentKind::Nginx);
    running(&mut l, "web-01", None, 1_000);
    running(&mut l, "web-01", Some(ComponentKind::Nginx), 1_000);
    l.apply(Observation::Backend {
        lb: h("lb-01"),
        server: h("web-01"),
        status: BackendStatus::Up,
        check: "L7OK/200".into(),
        at: 1_000,
    });
    assert_eq!(l.node_health(&nginx).health, Health::Up);
    // The initial snapshot is not news.
    assert_eq!(l.timeline().count(), 0);

    l.apply(Observation::Container {
        host: h("web-01"),
        kind: Some(ComponentKind::Nginx),
        state: RunState::Exited(137),
        at: 10_000,
    });
    let after_kill = l.node_health(&nginx);
    assert_eq!(after_kill.health, Health::Down);
    assert!(after_kill.reason.contains("137"), "{}", after_kill.reason);

    l.apply(Observation::Backend {
        lb: h("lb-01"),
        server: h("web-01"),
        status: BackendStatus::Down,
        check: "L4CON Connection refused".into(),
        at: 10_600,
    });
    let texts: Vec<&str> = l.timeline().map(|t| t.text.as_str()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[0].contains("web-01/nginx (Nginx) killed"),
        "{texts:?}"
    );
    assert_eq!(
        texts[1],
        "lb-01 marked web-01 DOWN: L4CON Connection refused, 0.6 s after its Nginx died"
    );

    // It comes back: the container first, HAProxy after its checks.
    running(&mut l, "web-01", Some(ComponentKind::Nginx), 20_000);
    let h1 = l.node_health(&nginx);
    assert_eq!(h1.health, Health::Down, "HAProxy still has it DOWN");
    assert!(
        h1.reason.contains("lb-01 sees web-01 DOWN"),
        "{}",
        h1.reason
    );
    l.apply(Observation::Backend {
        lb: h("lb-01"),
        server: h("web-01"),
        status: BackendStatus::GoingUp,
        check: "L7OK/200".into(),
        at: 20_250,
    });
    assert_eq!(l.node_health(&nginx).health, Health::Degraded);
    l.apply(Observation::Backend {
        lb: h("lb-01"),
        server: h("web-01"),
        status: BackendStatus::Up,
        check: "L7OK/200".into(),
        at: 20_500,
    });
    assert_eq!(l.node_health(&nginx).health, Health::Up);
    let last = l.timeline().last().expect("transition");
    assert_eq!(last.text, "lb-01 marked web-01 UP: L7OK/200");
    assert_eq!(last.at, 20_500);
}

#[test]
fn holder_down_takes_its_components_down() {
    let mut l = LiveState::new();
    running(&mut l, "web-02", None, 0);
    running(&mut l, "web-02", Some(ComponentKind::App), 0);
    let app = ComponentId::new("web-02", ComponentKind::App);
    assert_eq!(l.node_health(&app).health, Health::Up);
    l.apply(Observation::Container {
        host: h("web-02"),
        kind: None,
        state: RunState::Exited(137),
        at: 5_000,
    });
    let nh = l.node_health(&app);
    assert_eq!(nh.health, Health::Down);
    assert!(nh.reason.contains("holder"), "{}", nh.reason);
    l.apply(Observation::Container {
        host: h("web-02"),
        kind: None,
        state: RunState::Paused,
        at: 6_000,
    });
    assert_eq!(l.node_health(&app).health, Health::Paused);
    assert_eq!(
        l.node_health(&ComponentId::new("web-09", ComponentKind::App))
            .health,
        Health::Unknown
    );
}

#[test]
fn replication_states_and_lag() {
    let mut l = LiveState::new();
    let db = ComponentId::new("web-02", ComponentKind::Db);
    running(&mut l, "web-02", Some(ComponentKind::Db), 0);
    let ok = ReplicaStatus {
        io: "Yes".into(),
        sql: "Yes".into(),
        lag_seconds: Some(0),
        lag_transactions: Some(0),
        primary_gtid: Some("0-1-10".into()),
        replica_gtid: Some("0-1-10".into()),
        last_error: None,
        source: Some(h("web-01")),
        replicating: true,
        writable: false,
    };
    l.apply(Observation::Replication {
        host: h("web-02"),
        status: Ok(ok.clone()),
        at: 1_000,
    });
    assert_eq!(l.node_health(&db).health, Health::Up);
    assert_eq!(l.timeline().count(), 0);
    // The IO thread stops: Seconds_Behind_Master becomes NULL.
    let stopped = ReplicaStatus {
        io: "No".into(),
        lag_seconds: None,
        lag_transactions: Some(10),
        primary_gtid: Some("0-1-20".into()),
        ..ok.clone()
    };
    l.apply(Observation::Replication {
        host: h("web-02"),
        status: Ok(stopped),
        at: 2_000,
    });
    let nh = l.node_health(&db);
    assert_eq!(nh.health, Health::Degraded);
    assert!(nh.reason.contains("IO thread stopped"), "{}", nh.reason);
    let t = l.timeline().last().expect("transition");
    assert_eq!(t.at, 2_000);
    assert_eq!(t.health, Some(Health::Degraded));
    // Lag shows in the per-second history.
    l.tick(4_500);
    let series = l.node_series(&db).expect("series");
    let last = series.last().expect("bucket");
    assert_eq!(last.second, 2);
    assert_eq!(last.lag_transactions, Some(10));
    assert_eq!(last.lag_seconds, None);
    // The SQL thread fails: down, with the error.
    l.apply(Observation::Replication {
        host: h("web-02"),
        status: Ok(ReplicaStatus {
            sql: "No".into(),
            last_error: Some("Duplicate entry '5'".into()),
            ..ok
        }),
        at: 5_000,
    });
    let nh = l.node_health(&db);
    assert_eq!(nh.health, Health::Down);
    assert!(nh.reason.contains("Duplicate entry"), "{}", nh.reason);
    // Promoted: replicates from no one, writable.
    l.apply(Observation::Replication {
        host: h("web-02"),
        status: Ok(ReplicaStatus {
            replicating: false,
            writable: true,
            ..ReplicaStatus::default()
        }),
        at: 6_000,
    });
    let nh = l.node_health(&db);
    assert_eq!(nh.health, Health::Up);
    assert!(nh.reason.starts_with("primary"), "{}", nh.reason);
}

#[test]
fn requests_give_rates_errors_latency_and_shares() {
    let mut l = LiveState::new();
    // Second 10: 4 requests, round robin, one failed.
    l.apply(Observation::Requests(vec![
        trace(10_000, "web-01", "web-02", 200, 10.0),
        trace(10_100, "web-02", "web-02", 200, 20.0),
        trace(10_200, "web-01", "web-02", 200, 30.0),
        trace(10_300, "web-02", "web-02", 503, 40.0),
    ]));
    // Second 12: one request; second 11 was quiet.
    l.apply(Observation::Requests(vec![trace(
        12_000, "web-01", "web-02", 200, 5.0,
    )]));
    l.tick(14_000);
    let lb_to_web1 = l
        .edge_series(
            &Endpoint::Component(ComponentId::new("lb-01", ComponentKind::Lb)),
            &Endpoint::Component(ComponentId::new("web-01", ComponentKind::Nginx)),
        )
        .expect("edge");
    let buckets: Vec<(u64, u32, u32)> = lb_to_web1
        .buckets()
        .map(|b| (b.second, b.requests, b.errors))
        .collect();
    assert_eq!(buckets, vec![(10, 2, 0), (11, 0, 0), (12, 1, 0)]);
    let client = l
        .edge_series(
            &Endpoint::Client,
            &Endpoint::Component(ComponentId::new("lb-01", ComponentKind::Lb)),
        )
        .expect("edge");
    let first = client.buckets().next().expect("bucket");
    assert_eq!((first.requests, first.errors), (4, 1));
    assert_eq!(first.p50_ms, Some(20.0));
    assert_eq!(first.p95_ms, Some(40.0));
    assert_eq!(edge_health(4, 1), Health::Down);
    assert_eq!(edge_health(1000, 1), Health::Degraded);
    assert_eq!(edge_health(10_000, 9), Health::Up);
    // Slow is not green: a p95 of a second is failing its users.
    assert_eq!(latency_health(Some(12.0)), Health::Up);
    assert_eq!(latency_health(Some(P95_SLOW_MS)), Health::Degraded);
    assert_eq!(latency_health(Some(1016.0)), Health::Down);
    assert_eq!(latency_health(None), Health::Unknown);
    assert_eq!(edge_health(0, 0), Health::Unknown);
    // The app -> db edge carries the database time.
    let app_db = l
        .edge_series(
            &Endpoint::Component(ComponentId::new("web-02", ComponentKind::App)),
            &Endpoint::Component(ComponentId::new("web-02", ComponentKind::Db)),
        )
        .expect("edge");
    assert_eq!(app_db.buckets().next().and_then(|b| b.p95_ms), Some(10.0));

    let totals = l.totals();
    assert_eq!((totals.sent, totals.ok, totals.failed), (5, 4, 1));
    assert_eq!(totals.by_web.get(&h("web-01")), Some(&3));
    assert_eq!(totals.by_web.get(&h("web-02")), Some(&2));
    let p50 = totals.latency.quantile(0.5).expect("p50");
    assert!((19.0..=20.5).contains(&p50), "{p50}");
    assert_eq!(totals.latency.quantile(1.0), Some(40.0));
    // The canvas gets each request once.
    assert_eq!(l.take_recent().count(), 5);
    assert_eq!(l.take_recent().count(), 0);
}

/// A request sent at 1 s through `entry` that got no answer, for `error`.
fn unanswered(entry: &str, error: &str) -> RequestTrace {
    let mut t = trace(1_000, "web-01", "web-01", 200, 1.0);
    t.entry = entry.into();
    t.status = None;
    t.error = Some(error.into());
    t.lb = None;
    t.web = None;
    t.app = None;
    t.db = None;
    t
}

#[test]
fn failed_connection_counts_on_the_entry_edge() {
    let mut l = LiveState::new();
    l.apply(Observation::Requests(vec![unanswered(
        "lb-01",
        "connection refused",
    )]));
    l.tick(5_000);
    let edge = l
        .edge_series(
            &Endpoint::Client,
            &Endpoint::Component(ComponentId::new("lb-01", ComponentKind::Lb)),
        )
        .expect("edge");
    assert_eq!(edge.recent(10), (1, 1));
}

#[test]
fn an_unresolved_request_counts_on_the_dns_servers_edge() {
    let mut l = LiveState::new();
    l.apply(Observation::Requests(vec![unanswered(
        "dns-01",
        "DNS: no answer for www.foobar.com from dns-01, dns-02",
    )]));
    l.tick(5_000);
    let edge = l
        .edge_series(
            &Endpoint::Client,
            &Endpoint::Component(ComponentId::new("dns-01", ComponentKind::Dns)),
        )
        .expect("edge");
    assert_eq!(edge.recent(10), (1, 1));
    assert_eq!(l.totals().dns_failed, 1);
    assert!(l.totals().by_entry.is_empty(), "nothing answered");
}

#[test]
fn history_is_bounded() {
    let mut l = LiveState::new();
    for s in 0..(HISTORY_SECONDS as u64 + 50) {
        l.apply(Observation::Requests(vec![trace(
            s * 1000,
            "web-01",
            "web-01",
            200,
            1.0,
        )]));
        l.tick(s * 1000 + 1500);
    }
    let series = l
        .node_series(&ComponentId::new("web-01", ComponentKind::App))
        .expect("series");
    assert_eq!(series.buckets().len(), HISTORY_SECONDS);
}

#[test]
fn paths_are_checked_against_the_topology() {
    let t = crate::preset::Preset::find("reference")
        .and_then(|p| p.topology().ok())
        .expect("preset");
    assert_eq!(
        check_path(&t, &trace(0, "web-01", "web-02", 200, 1.0)),
        Ok(())
    );
    let mut wrong = trace(0, "web-01", "web-02", 200, 1.0);
    wrong.app = Some(h("web-02"));
    assert!(check_path(&t, &wrong).is_err());
    let mut unknown = trace(0, "web-07", "web-02", 200, 1.0);
    unknown.app = Some(h("web-07"));
    assert!(check_path(&t, &unknown).is_err());
}

#[test]
fn requests_per_release_show_the_mixed_version_window() {
    let mut l = LiveState::new();
    let with = |at: Millis, web: &str, version: &str| RequestTrace {
        version: Some(version.to_owned()),
        ..trace(at, web, "web-02", 200, 5.0)
    };
    // Second 10: all v1. Second 11: web-01 switched. Second 12: all v2.
    l.apply(Observation::Requests(vec![
        with(10_000, "web-01", "v1"),
        with(10_500, "web-02", "v1"),
        with(11_000, "web-01", "v2"),
        with(11_500, "web-02", "v1"),
        with(12_000, "web-01", "v2"),
        with(12_500, "web-02", "v2"),
    ]));
    // A request without the header (an old app) counts for no release.
    l.apply(Observation::Requests(vec![trace(
        12_600, "web-01", "web-02", 200, 5.0,
    )]));
    l.tick(14_000);
    let per_second = |v: &str| -> Vec<(u64, u32)> {
        l.version_series()[v]
            .buckets()
            .map(|b| (b.second, b.requests))
            .collect()
    };
    assert_eq!(per_second("v1"), vec![(10, 2), (11, 1), (12, 0)]);
    assert_eq!(per_second("v2"), vec![(11, 1), (12, 2)]);
    assert_eq!(l.totals().by_version.get("v1"), Some(&3));
    assert_eq!(l.totals().by_version.get("v2"), Some(&3));
    assert_eq!(l.app_version(&h("web-01")), Some("v2"));
    assert_eq!(l.app_version(&h("web-02")), Some("v2"));
    assert_eq!(l.app_version(&h("web-03")), None);
}
