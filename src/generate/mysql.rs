//! my.cnf, bootstrap SQL and the start script of a database, in the
//! flavor's own option names and statements (MySQL 8.4 or MariaDB).

use super::{Ctx, Secret, emit, network_note, paths};
use crate::model::{ComponentKind, Database, Flavor, Host, ReplicationMode, Role, serving_network};

/// How long a semi-sync primary waits for a replica's acknowledgement
/// before it falls back to asynchronous replication: shorter than the app's
/// write timeout, so a write the app reports as failed is not committed
/// later.
pub const SEMI_SYNC_TIMEOUT_MS: u32 = 700;

/// Each database's server id: its host's number, from 1. A running lab's
/// hosts keep their numbers, so a database added later never takes the id
/// of one that runs.
fn server_id(ctx: &Ctx, host: &Host) -> u32 {
    ctx.plan.number(&host.name).map_or(1, |n| u32::from(n) + 1)
}

pub(super) fn my_cnf(ctx: &Ctx, host: &Host, db: &Database) -> String {
    let flavor = ctx.settings.flavor;
    let me = &host.name;
    let mut o = ctx.header("#", &format!("{me}/db ({})", flavor.as_str()));
    let replica = matches!(db.role, Role::Replica { .. });
    emit!(o, "[mysqld]");
    emit!(o, "user = mysql");
    emit!(o, "datadir = {}", paths::DB_DATA);
    emit!(o, "socket = {}", paths::DB_SOCKET);
    emit!(o, "port = {}", db.port);
    if ctx.topology.security.segmentation && ctx.names.is_some() {
        emit!(
            o,
            "# The pod has one address: its NetworkPolicy, not this setting, keeps the"
        );
        emit!(o, "# front tier from this port.");
        emit!(o, "bind-address = 0.0.0.0");
    } else if ctx.topology.security.segmentation {
        let net = serving_network(ctx.topology, ComponentKind::Db);
        let addr = ctx.address(me, ComponentKind::Db);
        emit!(
            o,
            "# Listen on {} only: the front tier cannot reach this port.",
            network_note(net)
        );
        emit!(
            o,
            "bind-address = {}",
            addr.map_or("127.0.0.1".to_owned(), |a| a.to_string())
        );
    } else {
        emit!(o, "bind-address = 0.0.0.0");
    }
    emit!(o, "skip-name-resolve = ON");
    if flavor == Flavor::Mysql {
        emit!(
            o,
            "# No X Protocol listener (33060): the lab speaks the classic protocol only."
        );
        emit!(o, "mysqlx = OFF");
    }
    emit!(o, "character-set-server = utf8mb4");
    emit!(o, "collation-server = utf8mb4_unicode_ci");
    emit!(o, "# A small server: this is a lab.");
    emit!(o, "innodb-buffer-pool-size = 32M");
    emit!(o, "innodb-log-file-size = 8M");
    emit!(o, "performance-schema = OFF");
    emit!(o, "max-connections = 200");
    emit!(o);
    emit!(o, "# Replication: a unique id, a binary log, GTIDs.");
    emit!(o, "server-id = {}", server_id(ctx, host));
    emit!(o, "log-bin = binlog");
    emit!(o, "binlog-format = ROW");
    match flavor {
        Flavor::Mysql => {
            emit!(o, "log-replica-updates = ON");
            emit!(o, "gtid-mode = ON");
            emit!(o, "enforce-gtid-consistency = ON");
        }
        Flavor::Mariadb => {
            emit!(o, "log-slave-updates = ON");
            emit!(o, "gtid-strict-mode = ON");
            emit!(o, "gtid-domain-id = 0");
        }
    }
    emit!(
        o,
        "# Notice a dead link within about two seconds (the default is 60 s),"
    );
    emit!(o, "# so a healed replica catches up at once.");
    match flavor {
        Flavor::Mysql => emit!(o, "replica-net-timeout = 2"),
        Flavor::Mariadb => {
            emit!(o, "slave-net-timeout = 2");
            emit!(o, "master-retry-count = 100000");
        }
    }
    if replica {
        emit!(
            o,
            "# A replica is read-only: only replication writes to it."
        );
        emit!(o, "read-only = ON");
        if flavor == Flavor::Mysql {
            emit!(o, "super-read-only = ON");
        }
    } else {
        emit!(o, "read-only = OFF");
    }
    if ctx.topology.databases.replication == ReplicationMode::SemiSync {
        emit!(o);
        emit!(
            o,
            "# Semi-synchronous replication: a commit is acknowledged only once a"
        );
        emit!(
            o,
            "# replica has received it (after the primary synced it to its binary log)."
        );
        emit!(
            o,
            "# Both sides are enabled on every server so promotion keeps the mode."
        );
        match flavor {
            Flavor::Mysql => {
                emit!(
                    o,
                    "# `loose-`: the plugins' options are unknown until they are loaded."
                );
                emit!(o, "plugin-load-add = semisync_source.so");
                emit!(o, "plugin-load-add = semisync_replica.so");
                emit!(o, "loose-rpl-semi-sync-source-enabled = ON");
                emit!(o, "loose-rpl-semi-sync-replica-enabled = ON");
                emit!(o, "loose-rpl-semi-sync-source-wait-point = AFTER_SYNC");
                emit!(
                    o,
                    "loose-rpl-semi-sync-source-timeout = {SEMI_SYNC_TIMEOUT_MS}"
                );
            }
            Flavor::Mariadb => {
                emit!(o, "rpl-semi-sync-master-enabled = ON");
                emit!(o, "rpl-semi-sync-slave-enabled = ON");
                emit!(o, "rpl-semi-sync-master-wait-point = AFTER_SYNC");
                emit!(o, "rpl-semi-sync-master-timeout = {SEMI_SYNC_TIMEOUT_MS}");
            }
        }
    }
    emit!(o);
    emit!(o, "[client]");
    emit!(o, "socket = {}", paths::DB_SOCKET);
    o
}

pub(super) fn bootstrap_sql(ctx: &Ctx, host: &Host, db: &Database) -> String {
    let flavor = ctx.settings.flavor;
    let me = &host.name;
    let schema = paths::APP_SCHEMA;
    let mut o = ctx.header("--", &format!("{me}/db ({})", flavor.as_str()));
    emit!(
        o,
        "-- Runs once, on the first start. @TOPOLAB_...@ placeholders are filled from"
    );
    emit!(
        o,
        "-- the lab's secret files by db-start.sh. One statement per line."
    );
    emit!(o, "--");
    emit!(
        o,
        "-- Every database bootstraps the same way with the binary log off, so no"
    );
    emit!(o, "-- replica replays another server's bootstrap.");
    emit!(o, "SET SESSION sql_log_bin = 0;");
    let replica = matches!(db.role, Role::Replica { .. });
    if replica && flavor == Flavor::Mysql {
        emit!(o, "SET GLOBAL super_read_only = OFF;");
    }
    match flavor {
        Flavor::Mysql => emit!(
            o,
            "ALTER USER 'root'@'localhost' IDENTIFIED BY '@TOPOLAB_DB_ROOT_PASSWORD@';"
        ),
        Flavor::Mariadb => {
            emit!(
                o,
                "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('@TOPOLAB_DB_ROOT_PASSWORD@');"
            );
            emit!(
                o,
                "-- MariaDB has no super_read_only: read_only does not stop an account that holds"
            );
            emit!(
                o,
                "-- READ_ONLY ADMIN. Only topolab's own account keeps it (to promote and fence),"
            );
            emit!(
                o,
                "-- so a read-only server refuses root's writes too: never two writable primaries."
            );
            emit!(
                o,
                "CREATE USER IF NOT EXISTS '{admin}'@'localhost' IDENTIFIED BY '@TOPOLAB_DB_ROOT_PASSWORD@';",
                admin = super::DB_ADMIN_MARIADB
            );
            emit!(
                o,
                "GRANT ALL PRIVILEGES ON *.* TO '{admin}'@'localhost' WITH GRANT OPTION;",
                admin = super::DB_ADMIN_MARIADB
            );
            emit!(o, "REVOKE READ_ONLY ADMIN ON *.* FROM 'root'@'localhost';");
        }
    }
    emit!(
        o,
        "-- The application's schema: what the app server writes and reads."
    );
    emit!(o, "CREATE DATABASE IF NOT EXISTS {schema};");
    emit!(
        o,
        "CREATE TABLE IF NOT EXISTS {schema}.items (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, value VARCHAR(255) NOT NULL, written_by VARCHAR(63) NOT NULL, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3));"
    );
    emit!(
        o,
        "-- The app's user: data access on its schema and nothing else."
    );
    emit!(
        o,
        "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY '@TOPOLAB_APP_PASSWORD@';"
    );
    emit!(
        o,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.* TO 'app'@'%';"
    );
    emit!(
        o,
        "-- Replication: every server has the user, so any of them can be promoted."
    );
    emit!(
        o,
        "CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY '@TOPOLAB_REPLICATION_PASSWORD@';"
    );
    emit!(o, "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';");
    emit!(o, "-- Monitoring: replication and server status, no data.");
    emit!(
        o,
        "CREATE USER IF NOT EXISTS 'monitor'@'%' IDENTIFIED BY '@TOPOLAB_MONITOR_PASSWORD@';"
    );
    match flavor {
        Flavor::Mysql => emit!(
            o,
            "GRANT PROCESS, REPLICATION CLIENT ON *.* TO 'monitor'@'%';"
        ),
        Flavor::Mariadb => emit!(
            o,
            "GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'monitor'@'%';"
        ),
    }
    if let Role::Replica { of } = &db.role {
        let source = ctx
            .endpoint(of, ComponentKind::Db)
            .unwrap_or_else(|| of.to_string());
        let port = ctx
            .topology
            .host(of)
            .and_then(|h| h.database())
            .map_or(3306, |d| d.port);
        emit!(
            o,
            "-- Replicate {of}/db from the start of its binary log, by GTID."
        );
        match flavor {
            Flavor::Mysql => {
                emit!(
                    o,
                    "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '{source}', SOURCE_PORT = {port}, SOURCE_USER = 'repl', SOURCE_PASSWORD = '@TOPOLAB_REPLICATION_PASSWORD@', SOURCE_AUTO_POSITION = 1, SOURCE_CONNECT_RETRY = 1, SOURCE_RETRY_COUNT = 100000, SOURCE_HEARTBEAT_PERIOD = 1, GET_SOURCE_PUBLIC_KEY = 1;"
                );
                emit!(o, "START REPLICA;");
                emit!(o, "SET GLOBAL super_read_only = ON;");
            }
            Flavor::Mariadb => {
                emit!(o, "SET GLOBAL gtid_slave_pos = '';");
                emit!(
                    o,
                    "CHANGE MASTER TO MASTER_HOST = '{source}', MASTER_PORT = {port}, MASTER_USER = 'repl', MASTER_PASSWORD = '@TOPOLAB_REPLICATION_PASSWORD@', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = 1;"
                );
                emit!(o, "START SLAVE;");
            }
        }
    }
    o
}

pub(super) fn start_script(ctx: &Ctx, host: &Host) -> String {
    let flavor = ctx.settings.flavor;
    let me = &host.name;
    let (init, server, admin) = match flavor {
        Flavor::Mysql => (
            "mysqld --defaults-file=\"$conf\" --initialize-insecure",
            "mysqld",
            "mysqladmin",
        ),
        Flavor::Mariadb => (
            "mariadb-install-db --defaults-file=\"$conf\" --skip-test-db --auth-root-authentication-method=socket > /dev/null",
            "mariadbd",
            "mariadb-admin",
        ),
    };
    let mut o = "#!/bin/sh\n".to_owned();
    o.push_str(&ctx.header("#", &format!("{me}/db ({})", flavor.as_str())));
    emit!(
        o,
        "# Starts the database. On the first start it creates the data directory and"
    );
    emit!(
        o,
        "# runs bootstrap.sql with the passwords read from {}/ (files only root",
        paths::SECRETS_DIR
    );
    emit!(o, "# can read; none is in the environment).");
    emit!(o, "set -eu");
    emit!(o, "conf={}/my.cnf", paths::CONFIG_DIR);
    emit!(o, "init=/run/mysqld/bootstrap.sql");
    emit!(
        o,
        "# A first start killed before the server read it leaves the filled-in file."
    );
    emit!(o, "rm -f \"$init\"");
    emit!(o, "mkdir -p /run/mysqld");
    emit!(o, "chown mysql:mysql /run/mysqld {}", paths::DB_DATA);
    emit!(o, "if [ ! -d {}/mysql ]; then", paths::DB_DATA);
    if flavor == Flavor::Mariadb {
        emit!(
            o,
            "    # An image may carry a ready data directory: copying it is faster."
        );
        emit!(o, "    if [ -d {}/mysql ]; then", paths::DB_TEMPLATE);
        emit!(
            o,
            "        cp -a {}/. {}/",
            paths::DB_TEMPLATE,
            paths::DB_DATA
        );
        emit!(o, "    else");
        emit!(o, "        {init}");
        emit!(o, "    fi");
    } else {
        emit!(o, "    {init}");
    }
    emit!(o, "    ( umask 077");
    let secrets = [
        Secret::DbRootPassword,
        Secret::AppPassword,
        Secret::ReplicationPassword,
        Secret::MonitorPassword,
    ];
    for (i, secret) in secrets.iter().enumerate() {
        let lead = if i == 0 { "      sed" } else { "         " };
        emit!(
            o,
            "{lead} -e \"s|{}|$(cat {})|g\" \\",
            secret.placeholder(),
            secret.path()
        );
    }
    emit!(
        o,
        "          {}/bootstrap.sql > \"$init\" )",
        paths::CONFIG_DIR
    );
    emit!(o, "    chown mysql:mysql \"$init\"");
    emit!(
        o,
        "    # The filled-in file holds every password: remove it as soon as the server"
    );
    emit!(
        o,
        "    # answers, which it does only after reading it. Detached, so the init"
    );
    emit!(o, "    # process reaps it.");
    emit!(
        o,
        "    ( ( until {admin} --socket={} ping > /dev/null 2>&1; do sleep 0.1; done; rm -f \"$init\" ) & )",
        paths::DB_SOCKET
    );
    emit!(
        o,
        "    exec {server} --defaults-file=\"$conf\" --init-file=\"$init\""
    );
    emit!(o, "fi");
    emit!(o, "exec {server} --defaults-file=\"$conf\"");
    o
}
