//! Replication statements in each database program's words, and running
//! SQL as root in a lab's database containers. Launch, the monitor, faults
//! and promotion all speak through here, so MariaDB's and MySQL's names for
//! the same thing live in one place.

use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use super::docker::Engine;
use super::plan::{self, Part};
use super::state::LabState;
use crate::generate::Secret;
use crate::model::{ComponentKind, Flavor, HostName};

/// The statements that differ between MariaDB and MySQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Words {
    /// The replica's status (one row; none on a server that does not replicate).
    pub status: &'static str,
    /// Start both replication threads.
    pub start: &'static str,
    /// Stop the IO thread: new transactions stop arriving.
    pub stop_io: &'static str,
    /// Restart the IO thread (reconnect at once).
    pub restart_io: &'static str,
    /// Stop and forget replication entirely.
    pub reset: &'static str,
    /// The GTID position a replica has applied.
    pub applied_position: &'static str,
    /// The GTID position of the server's own binary log.
    pub own_position: &'static str,
    /// Make the server writable (after `reset`).
    pub writable: &'static str,
    /// Make the server refuse writes from every client (fencing).
    pub read_only: &'static str,
}

/// The words of `flavor`.
pub fn words(flavor: Flavor) -> Words {
    match flavor {
        Flavor::Mariadb => Words {
            status: "SHOW SLAVE STATUS",
            start: "START SLAVE",
            stop_io: "STOP SLAVE IO_THREAD",
            restart_io: "STOP SLAVE IO_THREAD; START SLAVE IO_THREAD",
            reset: "STOP SLAVE; RESET SLAVE ALL",
            // What it holds, replicated or its own (a former primary that
            // now replicates has its old writes in its binary log only).
            applied_position: "SELECT @@gtid_current_pos",
            own_position: "SELECT @@gtid_binlog_pos",
            writable: "SET GLOBAL read_only = OFF",
            read_only: "SET GLOBAL read_only = ON",
        },
        Flavor::Mysql => Words {
            status: "SHOW REPLICA STATUS",
            start: "START REPLICA",
            stop_io: "STOP REPLICA IO_THREAD",
            restart_io: "STOP REPLICA IO_THREAD; START REPLICA IO_THREAD",
            reset: "STOP REPLICA; RESET REPLICA ALL",
            applied_position: "SELECT @@gtid_executed",
            own_position: "SELECT @@gtid_executed",
            writable: "SET GLOBAL super_read_only = OFF; SET GLOBAL read_only = OFF",
            read_only: "SET GLOBAL super_read_only = ON",
        },
    }
}

/// The shell script that makes a server replicate from `ip:port`, read-only
/// first (`from_own_log`: a former primary continues from its own binary
/// log). The replication password is read from the container's secret
/// file, never written here.
pub fn follow_script(flavor: Flavor, ip: &str, port: u16, from_own_log: bool) -> String {
    let pos = if from_own_log {
        "current_pos"
    } else {
        "slave_pos"
    };
    let statement = match flavor {
        Flavor::Mariadb => format!(
            "STOP SLAVE; SET GLOBAL read_only = ON; CHANGE MASTER TO MASTER_HOST = '{ip}', MASTER_PORT = {port}, MASTER_USER = 'repl', \
             MASTER_PASSWORD = '$REPL', MASTER_CONNECT_RETRY = 1, MASTER_USE_GTID = {pos}; START SLAVE"
        ),
        Flavor::Mysql => format!(
            "STOP REPLICA; SET GLOBAL super_read_only = ON; CHANGE REPLICATION SOURCE TO SOURCE_HOST = '{ip}', SOURCE_PORT = {port}, \
             SOURCE_USER = 'repl', SOURCE_PASSWORD = '$REPL', SOURCE_AUTO_POSITION = 1; START REPLICA"
        ),
    };
    format!(
        "REPL=\"$(cat {})\"; {} -e \"{statement}\"",
        Secret::ReplicationPassword.path(),
        sql_client(flavor)
    )
}

/// The statements that switch semi-synchronous replication on or off on
/// a running server, both sides (every server has both, as its my.cnf
/// says, so a promotion keeps the mode). MySQL loads its plugins first
/// (see [`SEMI_SYNC_PLUGINS`]).
pub fn semi_sync(flavor: Flavor, on: bool) -> String {
    let timeout = crate::generate::SEMI_SYNC_TIMEOUT_MS;
    let (source, replica) = match flavor {
        Flavor::Mariadb => ("rpl_semi_sync_master", "rpl_semi_sync_slave"),
        Flavor::Mysql => ("rpl_semi_sync_source", "rpl_semi_sync_replica"),
    };
    if on {
        format!(
            "SET GLOBAL {source}_wait_point = AFTER_SYNC; SET GLOBAL {source}_timeout = {timeout}; \
             SET GLOBAL {source}_enabled = ON; SET GLOBAL {replica}_enabled = ON"
        )
    } else {
        format!("SET GLOBAL {source}_enabled = OFF; SET GLOBAL {replica}_enabled = OFF")
    }
}

/// MySQL's semi-sync plugins: (how many are loaded, the statement that
/// loads them). MariaDB has semi-sync built in.
pub const SEMI_SYNC_PLUGINS: (&str, &str) = (
    "SELECT COUNT(*) FROM information_schema.plugins WHERE plugin_name IN ('rpl_semi_sync_source', 'rpl_semi_sync_replica')",
    "INSTALL PLUGIN rpl_semi_sync_source SONAME 'semisync_source.so'; INSTALL PLUGIN rpl_semi_sync_replica SONAME 'semisync_replica.so'",
);

/// Whether a primary waits for its replicas now: `ON` once a semi-sync
/// replica is connected, in the status variable's own words.
pub fn semi_sync_status(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Mariadb => {
            "SELECT VARIABLE_VALUE FROM information_schema.global_status WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_STATUS'"
        }
        Flavor::Mysql => {
            "SELECT VARIABLE_VALUE FROM performance_schema.global_status WHERE VARIABLE_NAME = 'Rpl_semi_sync_source_status'"
        }
    }
}

/// Why a statement did not run.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The server refused it or could not be reached from its container.
    #[error("`{statement}` on {host}/db failed ({code}): {output}")]
    Refused {
        /// The database's host.
        host: HostName,
        /// The statement.
        statement: String,
        /// The client's exit code.
        code: i64,
        /// What the client printed.
        output: String,
    },
    /// The container could not run the client.
    #[error(transparent)]
    Docker(#[from] super::docker::DockerError),
}

/// Runs `statement` as the lab's administrator in `host`'s database
/// container of lab `state.lab`: its output (no column names).
pub async fn query(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    statement: &str,
) -> Result<String, SqlError> {
    run(engine, state, host, statement, true).await
}

/// `statement` with one `name: value` line per column (`\G`), as
/// [`field`] reads it.
pub async fn query_vertical(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    statement: &str,
) -> Result<String, SqlError> {
    run(engine, state, host, &format!("{statement}\\G"), false).await
}

async fn run(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    statement: &str,
    bare: bool,
) -> Result<String, SqlError> {
    let name = plan::container_name(&state.lab, host, Part::Component(ComponentKind::Db));
    let cmd = sql(state.flavor, statement, bare);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    match engine.exec(&name, &cmd).await? {
        (0, out) => Ok(out.trim().to_owned()),
        (code, out) => Err(SqlError::Refused {
            host: host.clone(),
            statement: statement.to_owned(),
            code,
            output: out.trim().to_owned(),
        }),
    }
}

/// Like [`query`], retrying for up to `limit` while the server starts.
pub async fn query_when_up(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    statement: &str,
    limit: Duration,
) -> Result<String, SqlError> {
    let start = Instant::now();
    loop {
        match query(engine, state, host, statement).await {
            Ok(out) => return Ok(out),
            Err(e) if start.elapsed() > limit => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The values of every item `host`'s database holds (each write's own),
/// one per row: a value twice is a write applied twice.
pub async fn item_values(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
) -> Result<Vec<String>, SqlError> {
    let out = query(
        engine,
        state,
        host,
        &format!(
            "SELECT value FROM {}.items",
            crate::generate::paths::APP_SCHEMA
        ),
    )
    .await?;
    Ok(out.lines().map(|l| l.trim().to_owned()).collect())
}

/// What the lab's databases held, read for the checker.
#[derive(Debug)]
pub struct Holdings {
    /// When the reading began: a write acknowledged before then is in the
    /// data unless lost (check as of this time).
    pub at: crate::live::Millis,
    /// What each database that could be read holds.
    pub held: Vec<crate::consistency::Holding>,
    /// The databases that could not be read, with why (a killed primary).
    pub unreadable: Vec<(HostName, SqlError)>,
}

/// What every database of the lab holds, read at once, for the checker.
pub async fn holdings(engine: &Engine, state: &LabState) -> Holdings {
    let at = crate::live::now();
    let reads = state.topology.databases().map(|(h, db)| async move {
        let values = item_values(engine, state, &h.name).await;
        (
            h.name.clone(),
            db.role == crate::model::Role::Primary,
            values,
        )
    });
    let mut held = Vec::new();
    let mut unreadable = Vec::new();
    for (db, primary, values) in futures_util::future::join_all(reads).await {
        match values {
            Ok(values) => held.push(crate::consistency::Holding {
                db,
                primary,
                values,
            }),
            Err(e) => unreadable.push((db, e)),
        }
    }
    Holdings {
        at,
        held,
        unreadable,
    }
}

/// A field of vertical (`\G`) output, under the first of `names` present.
pub fn field(output: &str, names: &[&str]) -> Option<String> {
    output.lines().find_map(|l| {
        let (k, v) = l.trim().split_once(':')?;
        names.contains(&k.trim()).then(|| v.trim().to_owned())
    })
}

/// The SQL client command for `statement`, as the lab's administrator over
/// the socket, its password read from the container's secret file. With
/// `bare`, values only (no column names), for reading one value. The
/// statement is the shell's `$0`, so no quoting can break it.
pub fn sql(flavor: Flavor, statement: &str, bare: bool) -> Vec<String> {
    let n = if bare { " -N" } else { "" };
    vec![
        "sh".to_owned(),
        "-c".to_owned(),
        format!("{}{n} -e \"$0\"", sql_client(flavor)),
        statement.to_owned(),
    ]
}

/// The shell words that start the SQL client as the lab's administrator:
/// MariaDB's `topolab@localhost` (root there may not change `read_only`, so
/// a read-only server refuses root's writes too), MySQL's root (whose
/// `super_read_only` does that).
pub fn sql_client(flavor: Flavor) -> String {
    let password = Secret::DbRootPassword.path();
    match flavor {
        Flavor::Mariadb => format!(
            "MYSQL_PWD=\"$(cat {password})\" mariadb -u{}",
            crate::generate::DB_ADMIN_MARIADB
        ),
        Flavor::Mysql => format!("MYSQL_PWD=\"$(cat {password})\" mysql -uroot"),
    }
}

/// Whether `SHOW SLAVE|REPLICA STATUS\G` output says both threads run.
pub fn replication_running(status: &str) -> bool {
    let yes = |field: &str| {
        status.lines().any(|l| {
            let l = l.trim();
            l.strip_prefix(field)
                .and_then(|rest| rest.strip_prefix(':'))
                .is_some_and(|v| v.trim() == "Yes")
        })
    };
    (yes("Slave_IO_Running") || yes("Replica_IO_Running"))
        && (yes("Slave_SQL_Running") || yes("Replica_SQL_Running"))
}

/// The database roles as the running servers report them: `replica of
/// HOST` (from its source address), `primary` (writable, no source), or the
/// reason none could be read.
pub async fn db_roles(engine: &Engine, state: &LabState) -> BTreeMap<HostName, String> {
    let addresses = state.addresses();
    let db_net = crate::model::serving_network(&state.topology, ComponentKind::Db);
    let mut roles = BTreeMap::new();
    for (host, _) in state.topology.databases() {
        let name = plan::container_name(&state.lab, &host.name, Part::Component(ComponentKind::Db));
        let statement = format!("{}\\G", words(state.flavor).status);
        let refs = sql(state.flavor, &statement, false);
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        let role = match engine.exec(&name, &refs).await {
            Ok((0, out)) if out.trim().is_empty() => {
                let ro = sql(state.flavor, "SELECT @@read_only", true);
                let ro: Vec<&str> = ro.iter().map(String::as_str).collect();
                match engine.exec(&name, &ro).await {
                    Ok((0, v)) if v.trim() == "0" => "primary".to_owned(),
                    Ok((0, _)) => "read-only, not replicating".to_owned(),
                    _ => "unknown".to_owned(),
                }
            }
            Ok((0, out)) => {
                let source = out
                    .lines()
                    .find_map(|l| {
                        let l = l.trim();
                        l.strip_prefix("Master_Host:")
                            .or_else(|| l.strip_prefix("Source_Host:"))
                    })
                    .map(str::trim)
                    .unwrap_or("");
                let source_host = state
                    .topology
                    .hosts
                    .iter()
                    .find(|h| {
                        addresses
                            .address(&h.name, db_net)
                            .is_some_and(|a| a.to_string() == source)
                    })
                    .map_or_else(|| source.to_owned(), |h| h.name.to_string());
                let running = if replication_running(&out) {
                    "running"
                } else {
                    "stopped"
                };
                format!("replica of {source_host} (replication {running})")
            }
            _ => "not answering".to_owned(),
        };
        roles.insert(host.name.clone(), role);
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_vertical_output() {
        let s = "*** 1. row ***\n  Gtid_IO_Pos: 0-1-14\n  Seconds_Behind_Master: NULL\n";
        assert_eq!(field(s, &["Gtid_IO_Pos"]).as_deref(), Some("0-1-14"));
        assert_eq!(
            field(s, &["Seconds_Behind_Master"]).as_deref(),
            Some("NULL")
        );
        assert_eq!(field(s, &["Nope"]), None);
    }

    #[test]
    fn each_flavor_has_its_own_words() {
        let (m, y) = (words(Flavor::Mariadb), words(Flavor::Mysql));
        assert!(m.status.contains("SLAVE") && y.status.contains("REPLICA"));
        assert_ne!(m.applied_position, y.applied_position);
    }

    #[test]
    fn replication_status_parsing() {
        let running = "*** 1. row ***\n  Slave_IO_Running: Yes\n Slave_SQL_Running: Yes\n";
        assert!(replication_running(running));
        assert!(!replication_running(
            "  Slave_IO_Running: Connecting\n Slave_SQL_Running: Yes\n"
        ));
        assert!(replication_running(
            "Replica_IO_Running: Yes\nReplica_SQL_Running: Yes"
        ));
        assert!(!replication_running(""));
    }
}
