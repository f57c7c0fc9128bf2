//! Promoting a replica to primary, and re-attaching a former primary.
//!
//! Before acting, [`assess`] reports the replica's lag and the transactions
//! the old primary has that the replica never received — read from the old
//! primary itself when it answers, else from its binary log on its data
//! volume (readable while the server is down); the report names its
//! source. A promotion that would lose transactions is refused unless the
//! caller accepts the loss.
//!
//! Never two writable primaries: before the replica becomes writable, the
//! old primary is fenced whenever it is up. A running one is made
//! read-only (`super_read_only` on MySQL) — through `docker exec`, so also
//! when it is cut off the network, as a real orchestrator would through
//! its out-of-band path; one that cannot be reached that way (paused,
//! hung) is killed. Only then is the loss assessed, so the count is final:
//! a refused promotion undoes the read-only fence and changes nothing
//! else. A fenced old primary that lacks nothing the new one has becomes
//! its replica at once; one with writes the new primary lacks stays
//! read-only and out of service.
//!
//! Then: the replica applies everything it received, stops replicating,
//! becomes writable, and the lab's state records the new roles at once
//! (so a failure after this point never lets `heal --all` make the old
//! primary writable again). Every app server is repointed through its
//! admin socket (no restart), every my.cnf is rewritten so the roles
//! survive restarts, and every other replica follows the new primary.
//! `planned` (both alive) also waits for the replica to catch up: no write
//! is lost.

use std::time::{Duration, Instant};

use super::docker::{ContainerState, CreateSpec, Engine};
use super::names;
use super::plan::{self, Part};
use super::replication;
use super::state::{LabState, Locked};
use crate::generate::{self, AppConfig, Secret, paths};
use crate::gtid::Gtid;
use crate::model::{ComponentKind, Flavor, HostName, Role, Subject, Topology, serving_network};
pub use crate::protocol::Assessment;

/// How long the replica may take to apply what it received.
const CATCH_UP: Duration = Duration::from_secs(15);
/// How long an unplanned promotion lets a replica that is still receiving
/// catch up with a fenced old primary before it assesses the loss.
const FENCED_CATCH_UP: Duration = Duration::from_secs(5);
/// How long fencing a running old primary through SQL may take before it
/// is killed instead.
const FENCE_LIMIT: Duration = Duration::from_secs(5);

/// Why a promotion did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    /// Not a replica, or no such host.
    #[error("{0}")]
    Target(String),
    /// Transactions would be lost and the caller did not accept it.
    #[error(
        "refusing to promote {}: {} (promote with --accept-loss to go ahead)",
        .0.replica,
        .0.summary()
    )]
    WouldLose(Box<Assessment>),
    /// A step failed.
    #[error("{0}")]
    Failed(String),
    /// A statement failed.
    #[error(transparent)]
    Sql(#[from] replication::SqlError),
    /// Docker failed.
    #[error(transparent)]
    Docker(#[from] super::docker::DockerError),
}

/// What a promotion did.
#[derive(Clone, Debug)]
pub struct Promoted {
    /// The assessment made before acting.
    pub assessment: Assessment,
    /// Steps done, in words, with when each finished after the start.
    pub steps: Vec<(Duration, String)>,
}

fn db_container(lab: &str, host: &HostName) -> String {
    plan::container_name(lab, host, Part::Component(ComponentKind::Db))
}

/// Runs SQL as root in `host`'s database container.
async fn sql(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    statement: &str,
) -> Result<String, PromoteError> {
    Ok(replication::query(engine, state, host, statement).await?)
}

/// The replica named by `subject` (`web-02` or `web-02/db`) and its primary.
pub fn resolve(state: &LabState, subject: &Subject) -> Result<(HostName, HostName), PromoteError> {
    if let Subject::Component(id) = subject
        && id.kind != ComponentKind::Db
    {
        return Err(PromoteError::Target(format!(
            "{subject} is not a database: promote a replica's database (HOST or HOST/db)"
        )));
    }
    let host = state.topology.host(subject.host()).ok_or_else(|| {
        PromoteError::Target(format!("no host {} in lab {}", subject.host(), state.lab))
    })?;
    match host.database().map(|d| &d.role) {
        Some(Role::Replica { of }) => Ok((host.name.clone(), of.clone())),
        Some(Role::Primary) => Err(PromoteError::Target(format!(
            "{}/db is the primary already: only a replica can be promoted",
            host.name
        ))),
        None => Err(PromoteError::Target(format!(
            "{} runs no database",
            host.name
        ))),
    }
}

/// The old primary's last GTID position read from its binary log on its
/// volume, with a throw-away container (the server may be down).
async fn position_from_binlog(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
) -> Result<Option<String>, PromoteError> {
    let volume = names::volume(&state.lab, host);
    if !engine
        .volumes(&names::lab_filter(&state.lab))
        .await?
        .contains(&volume)
    {
        return Ok(None);
    }
    let images = state.profile.images(state.flavor, &state.app_image);
    let name = names::binlog_reader(&state.lab, host);
    let script = match state.flavor {
        Flavor::Mariadb => format!(
            "cd {} && for f in $(ls binlog.[0-9]* | sort); do mariadb-binlog \"$f\" 2>/dev/null; done \
             | grep -o 'GTID [0-9]*-[0-9]*-[0-9]*' | tail -1 | cut -d' ' -f2",
            paths::DB_DATA
        ),
        // The whole decoded log: its Previous-GTIDs header and every
        // GTID_NEXT, read by `mysql_binlog_position`.
        Flavor::Mysql => format!(
            "cd {} && for f in $(ls binlog.[0-9]* | sort); do mysqlbinlog \"$f\" 2>/dev/null; done \
             | grep -A3 -e 'Previous-GTIDs' -e 'GTID_NEXT='",
            paths::DB_DATA
        ),
    };
    let labels = names::container_labels(&state.lab, host, names::BINLOG_READER);
    let spec = CreateSpec {
        name: name.clone(),
        image: images.db,
        cmd: vec!["sh".into(), "-c".into(), script],
        labels,
        volume: Some((volume, paths::DB_DATA.to_owned())),
        ..CreateSpec::default()
    };
    // One left by an interrupted run would hold the name; a container of
    // that name that topolab did not make is never touched.
    remove_own_reader(engine, state, &name).await?;
    let result = engine.run_spec_once(&spec).await;
    remove_own_reader(engine, state, &name).await?;
    let (code, out) = result?;
    let position = match state.flavor {
        Flavor::Mariadb => out.lines().last().unwrap_or("").trim().to_owned(),
        Flavor::Mysql => mysql_binlog_position(&out).unwrap_or_default(),
    };
    Ok((code == 0 && !position.is_empty()).then_some(position))
}

/// Removes the binlog reader `name` if it exists and carries this lab's
/// labels; refuses when a container of that name belongs to something else.
async fn remove_own_reader(
    engine: &Engine,
    state: &LabState,
    name: &str,
) -> Result<(), PromoteError> {
    if engine.state(name).await.is_err() {
        return Ok(());
    }
    let ours = engine
        .containers(&names::lab_filter(&state.lab))
        .await?
        .into_iter()
        .any(|c| {
            c.name == name
                && c.labels.get(names::COMPONENT).map(String::as_str) == Some(names::BINLOG_READER)
        });
    if !ours {
        return Err(PromoteError::Failed(format!(
            "a container named {name} exists that this lab did not create: topolab will not \
             remove it (rename or remove it yourself)"
        )));
    }
    engine.remove_container(name).await?;
    Ok(())
}

/// The GTID set a MySQL binary log reaches, from `mysqlbinlog`'s output:
/// the `Previous-GTIDs` of its first file and every `GTID_NEXT` after it,
/// as `uuid:1-N` per server (the highest transaction of each).
pub fn mysql_binlog_position(decoded: &str) -> Option<String> {
    let mut position = Gtid::default();
    let mut in_previous = false;
    for line in decoded.lines() {
        if line.contains("Previous-GTIDs") {
            in_previous = true;
            continue;
        }
        if let Some(rest) = line.split("GTID_NEXT=").nth(1) {
            in_previous = false;
            let gtid = rest
                .trim()
                .trim_start_matches('\'')
                .split('\'')
                .next()
                .unwrap_or("");
            if let Some((uuid, n)) = gtid.split_once(':')
                && let Ok(n) = n.trim().parse()
            {
                position.note(uuid, n);
            }
            continue;
        }
        // `# uuid:1-5:7-9,` lines after the header, until the next event.
        let set = line.strip_prefix('#').map(str::trim);
        match set {
            Some(set) if in_previous && !set.is_empty() && !set.starts_with("at ") => {
                if let Some(previous) = Gtid::parse(set.trim_end_matches(',')) {
                    for (uuid, last) in previous.streams_last() {
                        position.note(&uuid, last);
                    }
                }
            }
            _ => in_previous = false,
        }
    }
    (!position.is_empty()).then(|| position.to_string())
}

/// Reports what promoting `replica` would cost.
pub async fn assess(
    engine: &Engine,
    state: &LabState,
    replica: &HostName,
    old: &HostName,
) -> Result<Assessment, PromoteError> {
    let w = replication::words(state.flavor);
    // The replica's side and the old primary's are read at once: when the
    // old primary is down, reading its binary log takes the longest.
    let replica_side = async {
        let status = replication::query_vertical(engine, state, replica, w.status).await?;
        let applied = sql(engine, state, replica, w.applied_position).await?;
        Ok::<_, PromoteError>((status, applied))
    };
    let primary_side = async {
        let running = engine
            .state(&db_container(&state.lab, old))
            .await
            .is_ok_and(|(s, _)| s.is_running());
        let from_server = if running {
            sql(engine, state, old, w.own_position).await.ok()
        } else {
            None
        };
        Ok::<_, PromoteError>(match from_server {
            Some(p) => (Some(p), format!("{old}/db itself (running)")),
            None => match position_from_binlog(engine, state, old).await? {
                Some(p) => (
                    Some(p),
                    format!("{old}/db's binary log on its volume (the server is down)"),
                ),
                None => (None, format!("nothing: {old}/db's data is gone")),
            },
        })
    };
    let (replica_side, primary_side) = tokio::join!(replica_side, primary_side);
    let ((status, applied), (primary_position, source)) = (replica_side?, primary_side?);
    let received =
        replication::field(&status, &["Gtid_IO_Pos", "Retrieved_Gtid_Set"]).unwrap_or_default();
    let lag_seconds =
        replication::field(&status, &["Seconds_Behind_Master", "Seconds_Behind_Source"])
            .and_then(|v| v.parse().ok());
    // What the replica has: what it received, or at least what it applied.
    let has = if received.is_empty() {
        &applied
    } else {
        &received
    };
    let missing = primary_position
        .as_deref()
        .and_then(|p| crate::gtid::gap(p, has));
    Ok(Assessment {
        replica: replica.clone(),
        old_primary: old.clone(),
        lag_seconds,
        received,
        applied,
        primary_position,
        missing,
        source,
    })
}

/// Waits up to `limit` until `host`'s applied position reaches `target`
/// (a GTID position).
pub(super) async fn wait_applied(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    target: &str,
    limit: Duration,
) -> Result<(), PromoteError> {
    let query = replication::words(state.flavor).applied_position;
    let start = Instant::now();
    loop {
        let applied = sql(engine, state, host, query).await?;
        if crate::gtid::gap(target, &applied) == Some(0) || target.is_empty() {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(PromoteError::Failed(format!(
                "{host}/db did not apply {target} within {} s (it is at {applied})",
                limit.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Copies `HOST/rel` of `artifacts` into `container` at `path` (also when
/// the container is stopped).
async fn upload(
    engine: &Engine,
    artifacts: &generate::Artifacts,
    key: &str,
    container: &str,
    path: &str,
) -> Result<(), PromoteError> {
    let Some(content) = artifacts.get(key) else {
        return Ok(());
    };
    let tar = super::images::tar_of(&[(path, content.as_bytes(), 0o644)])
        .map_err(|e| PromoteError::Failed(format!("packing {key}: {e}")))?;
    engine.upload(container, tar).await?;
    Ok(())
}

/// Points every app server at the databases its regenerated app.json
/// names, through the admin endpoint; keeps the file for restarts.
async fn repoint_apps(
    engine: &Engine,
    state: &LabState,
    artifacts: &generate::Artifacts,
) -> Result<Vec<String>, PromoteError> {
    // All at once: the outage ends when the last app is repointed.
    let apps = state
        .topology
        .hosts
        .iter()
        .filter(|h| h.app_server().is_some());
    let results = futures_util::future::join_all(
        apps.map(|host| repoint_app(engine, state, artifacts, host)),
    )
    .await;
    let mut done = Vec::new();
    for r in results {
        done.extend(r?);
    }
    Ok(done)
}

pub(super) async fn repoint_app(
    engine: &Engine,
    state: &LabState,
    artifacts: &generate::Artifacts,
    host: &crate::model::Host,
) -> Result<Option<String>, PromoteError> {
    let key = format!("{}/app.json", host.name);
    let Some(text) = artifacts.get(&key) else {
        return Ok(None);
    };
    let config: AppConfig = serde_json::from_str(text)
        .map_err(|e| PromoteError::Failed(format!("{key} is unreadable: {e}")))?;
    let body = serde_json::json!({
        "writer": config.writer,
        "readers": config.readers,
        "read_your_writes": config.read_your_writes,
    })
    .to_string();
    let container =
        plan::container_name(&state.lab, &host.name, Part::Component(ComponentKind::App));
    // The admin endpoint is a Unix socket inside the app's container; the
    // token is read from its secret file into curl's config on stdin, so it
    // is in no command line. The body is argument $0.
    let script = format!(
        "printf 'header = \"Authorization: Bearer %s\"\\n' \"$(cat {token})\" | \
         exec curl -sS -f -m 3 -K - --unix-socket {socket} -X PUT \
         -H 'Content-Type: application/json' --data-binary \"$0\" http://app/admin/databases",
        token = Secret::AdminToken.path(),
        socket = config.admin_socket,
    );
    let said = match engine.exec(&container, &["sh", "-c", &script, &body]).await {
        Ok((0, _)) => format!("{}/app now writes to {}/db", host.name, config.writer.host),
        // A stopped app reads the new file when it starts.
        Ok((code, out)) => format!(
            "{}/app not answering ({code}: {}); it reads the new app.json when it starts",
            host.name,
            out.trim()
        ),
        Err(e) => {
            let why = match e {
                super::docker::DockerError::Call { why, .. } => why,
                other => other.to_string(),
            };
            format!(
                "{}/app not reachable ({why}); it reads the new app.json when it starts",
                host.name
            )
        }
    };
    // The file too, for the app's next start.
    upload(
        engine,
        artifacts,
        &key,
        &container,
        &format!("{}/app.json", paths::CONFIG_DIR),
    )
    .await?;
    Ok(Some(said))
}

/// Where `host`'s database is reached on the lab's network.
fn db_address(state: &LabState, host: &HostName) -> Option<(String, u16)> {
    let addresses = state.addresses();
    let net = serving_network(&state.topology, ComponentKind::Db);
    let ip = addresses.address(host, net)?;
    let port = state.topology.host(host)?.database()?.port;
    Some((ip.to_string(), port))
}

/// Makes `host` replicate from `primary` (`current_pos`: a former primary
/// continues from its own binary log).
async fn follow(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    primary: &HostName,
    from_own_log: bool,
) -> Result<(), PromoteError> {
    let (ip, port) = db_address(state, primary)
        .ok_or_else(|| PromoteError::Failed(format!("{primary} has no database address")))?;
    let script = replication::follow_script(state.flavor, &ip, port, from_own_log);
    match engine
        .exec(&db_container(&state.lab, host), &["sh", "-c", &script])
        .await?
    {
        (0, _) => Ok(()),
        (code, out) => Err(PromoteError::Failed(format!(
            "{host}/db cannot follow {primary} ({code}): {}",
            out.trim()
        ))),
    }
}

/// How the old primary was kept from taking writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fence {
    /// It is not running: it cannot take writes, and its my.cnf (rewritten
    /// before it can start again) brings it back read-only.
    Down,
    /// It answers and was made read-only.
    ReadOnly,
    /// It was up but could not be made read-only (paused, hung): killed.
    Killed,
}

/// Makes the old primary take no more writes, whatever its state.
async fn fence(
    engine: &Engine,
    state: &LabState,
    old: &HostName,
    step: &mut impl FnMut(String),
) -> Result<Fence, PromoteError> {
    let container = db_container(&state.lab, old);
    let run = match engine.state(&container).await {
        Ok((run, _)) => run,
        Err(e) if super::docker::is_not_found(&e) => return Ok(Fence::Down),
        Err(e) => return Err(e.into()),
    };
    if run.is_running() {
        let w = replication::words(state.flavor);
        let fenced = tokio::time::timeout(FENCE_LIMIT, async {
            sql(engine, state, old, w.read_only).await?;
            sql(engine, state, old, "SELECT @@read_only").await
        })
        .await;
        match fenced {
            Ok(Ok(v)) if v.trim() == "1" => {
                step(format!(
                    "{old}/db is read-only (fenced): it takes no more writes"
                ));
                return Ok(Fence::ReadOnly);
            }
            Ok(Ok(v)) => step(format!(
                "{old}/db still reports read_only = {}: killing it instead",
                v.trim()
            )),
            Ok(Err(e)) => step(format!(
                "{old}/db could not be made read-only ({e}): killing it instead"
            )),
            Err(_) => step(format!(
                "{old}/db did not answer within {} s: killing it instead",
                FENCE_LIMIT.as_secs()
            )),
        }
    } else if run != ContainerState::Paused {
        return Ok(Fence::Down);
    }
    engine.kill(&container, "SIGKILL").await?;
    step(format!(
        "{old}/db was {run} and could not be made read-only: killed (fenced) so it cannot take writes when it wakes"
    ));
    Ok(Fence::Killed)
}

/// Promotes the replica named by `target`. `planned` needs both alive and
/// loses nothing; otherwise a promotion that would lose transactions is
/// refused unless `accept_loss`. Fences the old primary first (see the
/// module's doc). Saves `state` as soon as the replica is writable; the
/// caller saves again at the end.
pub async fn promote(
    engine: &Engine,
    state: &mut Locked,
    target: &Subject,
    planned: bool,
    accept_loss: bool,
) -> Result<Promoted, PromoteError> {
    let start = Instant::now();
    let (replica, old) = resolve(state, target)?;
    let mut steps = Vec::new();
    let mut step = |text: String| steps.push((start.elapsed(), text));
    let w = replication::words(state.flavor);
    if planned {
        let (run, _) = engine.state(&db_container(&state.lab, &old)).await?;
        if !run.is_running() {
            return Err(PromoteError::Target(format!(
                "a planned switchover needs {old}/db running (it is {run}); promote without --planned"
            )));
        }
    }
    // An old primary that does not answer SQL can only be fenced by killing
    // it: decide about the loss first, so a refusal changes nothing.
    let answers = engine
        .state(&db_container(&state.lab, &old))
        .await
        .is_ok_and(|(s, _)| s.is_running())
        && tokio::time::timeout(FENCE_LIMIT, sql(engine, state, &old, "SELECT 1"))
            .await
            .is_ok_and(|r| r.is_ok());
    let mut early = None;
    if !answers {
        let a = assess(engine, state, &replica, &old).await?;
        if a.missing != Some(0) && !accept_loss {
            return Err(PromoteError::WouldLose(Box::new(a)));
        }
        early = Some(a);
    }
    let fenced = fence(engine, state, &old, &mut step).await?;
    // An old primary that was down before the assessment took nothing
    // since: that assessment is final (reading its binary log again from
    // its volume would only cost time).
    let early = early.filter(|_| fenced == Fence::Down);
    // Until the replica is writable, a failure puts the old primary back
    // as it was: the only writable database.
    let ready = settle(
        engine,
        state,
        (&replica, &old),
        (fenced, early),
        (planned, accept_loss),
        &mut step,
    )
    .await;
    let assessment = match ready {
        Ok(a) => a,
        Err(e) => {
            if fenced == Fence::ReadOnly {
                unfence(engine, state, &old).await;
            }
            return Err(e);
        }
    };

    let (topology, followers) = new_roles(&state.topology, &replica);
    if let Err(e) = sql(
        engine,
        state,
        &replica,
        &format!("{}; {}", w.reset, w.writable),
    )
    .await
    {
        // Unless the replica did become writable, the old primary stays the
        // one that is.
        let writable = sql(engine, state, &replica, "SELECT @@read_only")
            .await
            .is_ok_and(|v| v.trim() == "0");
        if !writable {
            if fenced == Fence::ReadOnly {
                unfence(engine, state, &old).await;
            }
            return Err(e);
        }
    }
    // Irreversible: record it before anything else can fail.
    state.topology = topology;
    state
        .save()
        .map_err(|e| PromoteError::Failed(format!("{replica}/db is writable, but {e}")))?;
    step(format!(
        "{replica}/db is writable and replicates from no one"
    ));

    spread_roles(
        engine,
        state,
        (&replica, &old),
        &followers,
        fenced,
        &mut step,
    )
    .await?;
    Ok(Promoted { assessment, steps })
}

/// Once the old primary is fenced: lets the replica receive what it still
/// can, assesses the loss (final now), refuses it unless accepted, and has
/// the replica apply everything it received.
async fn settle(
    engine: &Engine,
    state: &LabState,
    (replica, old): (&HostName, &HostName),
    (fenced, early): (Fence, Option<Assessment>),
    (planned, accept_loss): (bool, bool),
    step: &mut impl FnMut(String),
) -> Result<Assessment, PromoteError> {
    let w = replication::words(state.flavor);
    if fenced == Fence::ReadOnly {
        let position = sql(engine, state, old, w.own_position).await?;
        let limit = if planned { CATCH_UP } else { FENCED_CATCH_UP };
        match wait_applied(engine, state, replica, &position, limit).await {
            Ok(()) => step(format!("{replica}/db caught up to {position}")),
            Err(e) if planned => return Err(e),
            Err(_) => {}
        }
    }
    let assessment = match early {
        Some(a) => a,
        None => assess(engine, state, replica, old).await?,
    };
    if assessment.missing != Some(0) && !accept_loss {
        return Err(PromoteError::WouldLose(Box::new(assessment)));
    }
    step(format!("assessed: {}", assessment.summary()));
    // Apply what was received before cutting the link.
    if !assessment.received.is_empty() {
        wait_applied(engine, state, replica, &assessment.received, CATCH_UP).await?;
    }
    Ok(assessment)
}

/// The topology with `replica` leading its group and the group's other
/// databases (the old primary among them) replicating from it, and those
/// followers.
fn new_roles(topology: &Topology, replica: &HostName) -> (Topology, Vec<HostName>) {
    let group = topology
        .host(replica)
        .and_then(|h| h.database())
        .map(|d| d.group.clone())
        .unwrap_or_default();
    let mut topology = topology.clone();
    let mut followers = Vec::new();
    for h in &mut topology.hosts {
        let name = h.name.clone();
        let Some(db) = h.database_mut() else { continue };
        if db.group != group {
            continue;
        }
        if name == *replica {
            db.role = Role::Primary;
        } else {
            db.role = Role::Replica {
                of: replica.clone(),
            };
            followers.push(name);
        }
    }
    (topology, followers)
}

/// After the replica became the primary: every app writes to it, every
/// database's my.cnf keeps its new role across restarts, and the other
/// databases follow it (the fenced old primary only when it lacks nothing).
async fn spread_roles(
    engine: &Engine,
    state: &LabState,
    (replica, old): (&HostName, &HostName),
    followers: &[HostName],
    fenced: Fence,
    step: &mut impl FnMut(String),
) -> Result<(), PromoteError> {
    let artifacts = generate::generate(&state.topology, &state.settings(), &state.secrets)
        .map_err(|e| PromoteError::Failed(format!("regenerating the configs: {e}")))?;
    // Writes first: the apps follow the new primary at once; the files
    // that keep every role across restarts come after.
    for line in repoint_apps(engine, state, &artifacts).await? {
        step(line);
    }
    for h in std::iter::once(replica).chain(followers) {
        upload(
            engine,
            &artifacts,
            &format!("{h}/my.cnf"),
            &db_container(&state.lab, h),
            &format!("{}/my.cnf", paths::CONFIG_DIR),
        )
        .await?;
    }
    for f in followers {
        let running = engine
            .state(&db_container(&state.lab, f))
            .await
            .is_ok_and(|(s, _)| s.is_running());
        if f == old {
            match (fenced, running) {
                (Fence::ReadOnly, true) => step(rejoin(engine, state, f).await?),
                _ => step(format!(
                    "{old}/db is down; healing it brings it back read-only as a replica of {replica}/db"
                )),
            }
        } else if running {
            follow(engine, state, f, replica, false).await?;
            step(format!("{f}/db now replicates from {replica}/db"));
        }
    }
    Ok(())
}

/// Undoes the read-only fence of an old primary that stays the primary (a
/// refused promotion): it takes writes again, and is the only one that does.
async fn unfence(engine: &Engine, state: &LabState, old: &HostName) {
    let writable = replication::words(state.flavor).writable;
    if let Err(e) = sql(engine, state, old, writable).await {
        tracing::warn!(host = %old, error = %e, "could not make the primary writable again");
    }
}

/// After a failover: brings a former primary back as a read-only replica of
/// the new primary, or, when it has transactions the new primary lacks,
/// keeps it out of service (read-only, not replicating) and says why.
pub async fn rejoin(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
) -> Result<String, PromoteError> {
    let Some(of) = state.topology.source_of(host).cloned() else {
        return Ok(String::new());
    };
    // Never two writable primaries: read-only before anything else.
    let w = replication::words(state.flavor);
    replication::query_when_up(engine, state, host, w.read_only, Duration::from_secs(20)).await?;
    let status = sql(engine, state, host, w.status).await?;
    if !status.trim().is_empty() {
        return Ok(format!("{host}/db replicates already"));
    }
    let extra = match state.flavor {
        Flavor::Mariadb => {
            let own = sql(engine, state, host, w.own_position).await?;
            let theirs = sql(engine, state, &of, "SELECT @@gtid_binlog_state").await?;
            match (Gtid::parse(&own), Gtid::parse(&theirs)) {
                (Some(own), Some(theirs)) => own.errant_against(&theirs),
                _ => {
                    return Err(PromoteError::Failed(format!(
                        "unreadable GTID positions ({own:?}, {theirs:?})"
                    )));
                }
            }
        }
        // MySQL computes it itself: what this server executed that the
        // new primary has not.
        Flavor::Mysql => {
            let theirs = sql(engine, state, &of, "SELECT @@GLOBAL.gtid_executed").await?;
            let theirs = Gtid::parse(&theirs).ok_or_else(|| {
                PromoteError::Failed(format!("{of}/db's GTID set is unreadable: {theirs:?}"))
            })?;
            let extra = sql(
                engine,
                state,
                host,
                &format!("SELECT GTID_SUBTRACT(@@GLOBAL.gtid_executed, '{theirs}')"),
            )
            .await?;
            Gtid::parse(&extra).map_or(0, |g| g.count())
        }
    };
    if extra > 0 {
        return Ok(format!(
            "{host}/db has {extra} transaction(s) that {of}/db lacks (errant): kept out of service, read-only and not replicating — never two primaries"
        ));
    }
    follow(engine, state, host, &of, true).await?;
    Ok(format!(
        "{host}/db is back as a read-only replica of {of}/db"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_binlog_position_reads_previous_gtids_and_each_gtid_next() {
        let u = "3E11FA47-71CA-11E1-9E33-C80AA9429562";
        let decoded = format!(
            "#240101 10:00:00 server id 1  end_log_pos 158 CRC32 0x1  Previous-GTIDs\n\
             # {u}:1-5,\n\
             # 4e11fa47-71ca-11e1-9e33-c80aa9429562:1-2\n\
             # at 158\n\
             SET @@SESSION.GTID_NEXT= '{u}:6'/*!*/;\n\
             SET @@SESSION.GTID_NEXT= '{u}:7'/*!*/;\n\
             SET @@SESSION.GTID_NEXT= 'AUTOMATIC' /* added by mysqlbinlog */ /*!*/;\n"
        );
        assert_eq!(
            mysql_binlog_position(&decoded).as_deref(),
            Some(
                "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-2"
            )
        );
        assert_eq!(mysql_binlog_position("nothing here"), None);
    }
}
