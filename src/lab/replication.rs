//! Replication statements in each database program's words, and running
//! SQL as root in a lab's database containers. Launch, the monitor, faults
//! and promotion all speak through here, so MariaDB's and MySQL's names for
//! the same thing live in one place.

use std::time::{Duration, Instant};

use super::docker::Engine;
use super::launch;
use super::plan::{self, Part};
use super::state::LabState;
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

/// Runs `statement` as root in `host`'s database container of lab
/// `state.lab`: its output (no column names), or why it failed, in words.
pub async fn query(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    statement: &str,
) -> Result<String, String> {
    run(engine, state, host, statement, true).await
}

/// `statement` with one `name: value` line per column (`\G`), as
/// [`field`] reads it.
pub async fn query_vertical(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    statement: &str,
) -> Result<String, String> {
    run(engine, state, host, &format!("{statement}\\G"), false).await
}

async fn run(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    statement: &str,
    bare: bool,
) -> Result<String, String> {
    let name = plan::container_name(&state.lab, host, Part::Component(ComponentKind::Db));
    let cmd = launch::sql(state.flavor, statement, bare);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    match engine.exec(&name, &cmd).await {
        Ok((0, out)) => Ok(out.trim().to_owned()),
        Ok((code, out)) => Err(format!(
            "`{statement}` on {host}/db failed ({code}): {}",
            out.trim()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Like [`query`], retrying for up to `limit` while the server starts.
pub async fn query_when_up(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
    statement: &str,
    limit: Duration,
) -> Result<String, String> {
    let start = Instant::now();
    loop {
        match query(engine, state, host, statement).await {
            Ok(out) => return Ok(out),
            Err(e) if start.elapsed() > limit => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The values of every item `host`'s database holds (each write's own).
pub async fn item_values(
    engine: &Engine,
    state: &LabState,
    host: &HostName,
) -> Result<std::collections::BTreeSet<String>, String> {
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

/// A field of vertical (`\G`) output, under the first of `names` present.
pub fn field(output: &str, names: &[&str]) -> Option<String> {
    output.lines().find_map(|l| {
        let (k, v) = l.trim().split_once(':')?;
        names.contains(&k.trim()).then(|| v.trim().to_owned())
    })
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
}
