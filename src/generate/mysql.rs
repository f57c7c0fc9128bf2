//! my.cnf, bootstrap SQL and the start script of a database, in the
//! flavor's own option names and statements (MySQL 8.4 or MariaDB).

use super::{Ctx, Secret, line, network_note, paths};
use crate::model::{ComponentKind, Database, Flavor, Host, ReplicationMode, Role, serving_network};

/// How long a semi-sync primary waits for a replica's acknowledgement
/// before it falls back to asynchronous replication: shorter than the app's
/// write timeout, so a write the app reports as failed is not committed
/// later.
const SEMI_SYNC_TIMEOUT_MS: u32 = 700;

/// Each database's server id: its place among the databases, from 1.
fn server_id(ctx: &Ctx, host: &Host) -> usize {
    ctx.topology
        .databases()
        .position(|(h, _)| h.name == host.name)
        .map_or(1, |i| i + 1)
}

pub(super) fn my_cnf(ctx: &Ctx, host: &Host, db: &Database) -> String {
    let flavor = ctx.settings.flavor;
    let me = &host.name;
    let mut o = ctx.header("#", &format!("{me}/db ({})", flavor.as_str()));
    let replica = matches!(db.role, Role::Replica { .. });
    line!(o, "[mysqld]");
    line!(o, "user = mysql");
    line!(o, "datadir = {}", paths::DB_DATA);
    line!(o, "socket = {}", paths::DB_SOCKET);
    line!(o, "port = {}", db.port);
    if ctx.topology.security.segmentation {
        let net = serving_network(ctx.topology, ComponentKind::Db);
        let addr = ctx.address(me, ComponentKind::Db);
        line!(
            o,
            "# Listen on {} only: the front tier cannot reach this port.",
            network_note(net)
        );
        line!(
            o,
            "bind-address = {}",
            addr.map_or("127.0.0.1".to_owned(), |a| a.to_string())
        );
    } else {
        line!(o, "bind-address = 0.0.0.0");
    }
    line!(o, "skip-name-resolve = ON");
    if flavor == Flavor::Mysql {
        line!(
            o,
            "# No X Protocol listener (33060): the lab speaks the classic protocol only."
        );
        line!(o, "mysqlx = OFF");
    }
    line!(o, "character-set-server = utf8mb4");
    line!(o, "collation-server = utf8mb4_unicode_ci");
    line!(o, "# A small server: this is a lab.");
    line!(o, "innodb-buffer-pool-size = 32M");
    line!(o, "innodb-log-file-size = 8M");
    line!(o, "performance-schema = OFF");
    line!(o, "max-connections = 200");
    line!(o);
    line!(o, "# Replication: a unique id, a binary log, GTIDs.");
    line!(o, "server-id = {}", server_id(ctx, host));
    line!(o, "log-bin = binlog");
    line!(o, "binlog-format = ROW");
    match flavor {
        Flavor::Mysql => {
            line!(o, "log-replica-updates = ON");
            line!(o, "gtid-mode = ON");
            line!(o, "enforce-gtid-consistency = ON");
        }
        Flavor::Mariadb => {
            line!(o, "log-slave-updates = ON");
            line!(o, "gtid-strict-mode = ON");
            line!(o, "gtid-domain-id = 0");
        }
    }
    line!(
        o,
        "# Notice a dead link within about two seconds (the default is 60 s),"
    );
    line!(o, "# so a healed replica catches up at once.");
    match flavor {
        Flavor::Mysql => line!(o, "replica-net-timeout = 2"),
        Flavor::Mariadb => {
            line!(o, "slave-net-timeout = 2");
            line!(o, "master-retry-count = 100000");
        }
    }
    if replica {
        line!(
            o,
            "# A replica is read-only: only replication writes to it."
        );
        line!(o, "read-only = ON");
        if flavor == Flavor::Mysql {
            line!(o, "super-read-only = ON");
        }
    } else {
        line!(o, "read-only = OFF");
    }
    if ctx.topology.databases.replication == ReplicationMode::SemiSync {
        line!(o);
        line!(
            o,
            "# Semi-synchronous replication: a commit is acknowledged only once a"
        );
        line!(
            o,
            "# replica has received it (after the primary synced it to its binary log)."
        );
        line!(
            o,
            "# Both sides are enabled on every server so promotion keeps the mode."
        );
        match flavor {
            Flavor::Mysql => {
                line!(
                    o,
                    "# `loose-`: the plugins' options are unknown until they are loaded."
                );
                line!(o, "plugin-load-add = semisync_source.so");
                line!(o, "plugin-load-add = semisync_replica.so");
                line!(o, "loose-rpl-semi-sync-source-enabled = ON");
                line!(o, "loose-rpl-semi-sync-replica-enabled = ON");
                line!(o, "loose-rpl-semi-sync-source-wait-point = AFTER_SYNC");
                line!(
                    o,
                    "loose-rpl-semi-sync-source-timeout = {SEMI_SYNC_TIMEOUT_MS}"
                );
            }
            Flavor::Mariadb => {
                line!(o, "rpl-semi-sync-master-enabled = ON");
                line!(o, "rpl-semi-sync-slave-enabled = ON");
                line!(o, "rpl-semi-sync-master-wait-point = AFTER_SYNC");
                line!(o, "rpl-semi-sync-master-timeout = {SEMI_SYNC_TIMEOUT_MS}");
            }
        }
    }
    line!(o);
    line!(o, "[client]");
    line!(o, "socket = {}", paths::DB_SOCKET);
    o
}

pub(super) fn bootstrap_sql(ctx: &Ctx, host: &Host, db: &Database) -> String {
    let flavor = ctx.settings.flavor;
    let me = &host.name;
    let schema = paths::APP_SCHEMA;
    let mut o = ctx.header("--", &format!("{me}/db ({})", flavor.as_str()));
    line!(
        o,
        "-- Runs once, on the first start. @TOPOLAB_...@ placeholders are filled from"
    );
    line!(
        o,
        "-- the lab's secret files by db-start.sh. One statement per line."
    );
    line!(o, "--");
    line!(
        o,
        "-- Every database bootstraps the same way with the binary log off, so no"
    );
    line!(o, "-- replica replays another server's bootstrap.");
    line!(o, "SET SESSION sql_log_bin = 0;");
    let replica = matches!(db.role, Role::Replica { .. });
    if replica && flavor == Flavor::Mysql {
        line!(o, "SET GLOBAL super_read_only = OFF;");
    }
    match flavor {
        Flavor::Mysql => line!(
            o,
            "ALTER USER 'root'@'localhost' IDENTIFIED BY '@TOPOLAB_DB_ROOT_PASSWORD@';"
        ),
        Flavor::Mariadb => {
            line!(
                o,
                "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('@TOPOLAB_DB_ROOT_PASSWORD@');"
            );
            line!(
                o,
                "-- MariaDB has no super_read_only: read_only does not stop an account that holds"
            );
            line!(
                o,
                "-- READ_ONLY ADMIN. Only topolab's own account keeps it (to promote and fence),"
            );
            line!(
                o,
                "-- so a read-only server refuses root's writes too: never two writable primaries."
            );
            line!(
                o,
                "CREATE USER IF NOT EXISTS '{admin}'@'localhost' IDENTIFIED BY '@TOPOLAB_DB_ROOT_PASSWORD@';",
                admin = super::DB_ADMIN_MARIADB
            );
            line!(
                o,
                "GRANT ALL PRIVILEGES ON *.* TO '{admin}'@'localhost' WITH GRANT OPTION;",
                admin = super::DB_ADMIN_MARIADB
            );
            line!(o, "REVOKE READ_ONLY ADMIN ON *.* FROM 'root'@'localhost';");
        }
    }
    line!(
        o,
        "-- The application's schema: what the app server writes and reads."
    );
    line!(o, "CREATE DATABASE IF NOT EXISTS {schema};");
    line!(
        o,
        "CREATE TABLE IF NOT EXISTS {schema}.items (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, value VARCHAR(255) NOT NULL, written_by VARCHAR(63) NOT NULL, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3));"
    );
    line!(
        o,
        "-- The app's user: data access on its schema and nothing else."
    );
    line!(
        o,
        "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY '@TOPOLAB_APP_PASSWORD@';"
    );
    line!(
        o,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.* TO 'app'@'%';"
    );
    line!(
        o,
        "-- Replication: every server has the user, so any of them can be promoted."
    );
    line!(
        o,
        "CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY '@TOPOLAB_REPLICATION_PASSWORD@';"
    );
    line!(o, "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';");
    line!(o, "-- Monitoring: replication and server status, no data.");
    line!(
        o,
        "CREATE USER IF NOT EXISTS 'monitor'@'%' IDENTIFIED BY '@TOPOLAB_MONITOR_PASSWORD@';"
    );
    match flavor {
        Flavor::Mysql => line!(
            o,
            "GRANT PROCESS, REPLICATION CLIENT ON *.* TO 'monitor'@'%';"
        ),
        Flavor::Mariadb => line!(
            o,
            "GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'monitor'@'%';"
        ),
    }
    if let Role::Replica { of } = &db.role {
        let source = ctx
            .address(of, ComponentKind::Db)
            .map_or_else(|| of.to_string(), |a| a.to_string());
        let port = ctx
            .topology
            .host(of)
            .and_then(|h| h.database())
            .map_or(3306, |d| d.port);
        line!(
            o,
            "-- Replicate {of}/db from the start of its binary log, by GTID."
        );
        match flavor {
            Flavor::Mysql => {
                line!(
                    o,
                    "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '{source}', SOURCE_PORT = {port}, SOURCE_USER = 'repl', SOURCE_PASSWORD = '@TOPOLAB_REPLICATION_PASSWORD@', SOURCE_AUTO_POSITION = 1, SOURCE_CONNECT_RETRY = 1, SOURCE_RETRY_COUNT = 100000, SOURCE_HEARTBEAT_PERIOD = 1, GET_SOURCE_PUBLIC_KEY = 1;"
                );
                line!(o, "START REPLICA;");
                line!(o, "SET GLOBAL super_read_only = ON;");
            }
            Flavor::Mariadb => {
                line!(o, "SET GLOBAL gtid_slave_pos = '';");
                line!(
                    o,
                    "CHANGE MASTER TO MASTER_HOST = '{source}', MASTER_PORT = {port}, MASTER_USER = 'repl', MASTER_PASSWORD = '@TOPOLAB_REPLICATION_PASSWORD@', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = 1;"
                );
                line!(o, "START SLAVE;");
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
    line!(
        o,
        "# Starts the database. On the first start it creates the data directory and"
    );
    line!(
        o,
        "# runs bootstrap.sql with the passwords read from {}/ (files only root",
        paths::SECRETS_DIR
    );
    line!(o, "# can read; none is in the environment).");
    line!(o, "set -eu");
    line!(o, "conf={}/my.cnf", paths::CONFIG_DIR);
    line!(o, "init=/run/mysqld/bootstrap.sql");
    line!(
        o,
        "# A first start killed before the server read it leaves the filled-in file."
    );
    line!(o, "rm -f \"$init\"");
    line!(o, "mkdir -p /run/mysqld");
    line!(o, "chown mysql:mysql /run/mysqld {}", paths::DB_DATA);
    line!(o, "if [ ! -d {}/mysql ]; then", paths::DB_DATA);
    if flavor == Flavor::Mariadb {
        line!(
            o,
            "    # An image may carry a ready data directory: copying it is faster."
        );
        line!(o, "    if [ -d {}/mysql ]; then", paths::DB_TEMPLATE);
        line!(
            o,
            "        cp -a {}/. {}/",
            paths::DB_TEMPLATE,
            paths::DB_DATA
        );
        line!(o, "    else");
        line!(o, "        {init}");
        line!(o, "    fi");
    } else {
        line!(o, "    {init}");
    }
    line!(o, "    ( umask 077");
    let secrets = [
        Secret::DbRootPassword,
        Secret::AppPassword,
        Secret::ReplicationPassword,
        Secret::MonitorPassword,
    ];
    for (i, secret) in secrets.iter().enumerate() {
        let lead = if i == 0 { "      sed" } else { "         " };
        line!(
            o,
            "{lead} -e \"s|{}|$(cat {})|g\" \\",
            secret.placeholder(),
            secret.path()
        );
    }
    line!(
        o,
        "          {}/bootstrap.sql > \"$init\" )",
        paths::CONFIG_DIR
    );
    line!(o, "    chown mysql:mysql \"$init\"");
    line!(
        o,
        "    # The filled-in file holds every password: remove it as soon as the server"
    );
    line!(
        o,
        "    # answers, which it does only after reading it. Detached, so the init"
    );
    line!(o, "    # process reaps it.");
    line!(
        o,
        "    ( ( until {admin} --socket={} ping > /dev/null 2>&1; do sleep 0.1; done; rm -f \"$init\" ) & )",
        paths::DB_SOCKET
    );
    line!(
        o,
        "    exec {server} --defaults-file=\"$conf\" --init-file=\"$init\""
    );
    line!(o, "fi");
    line!(o, "exec {server} --defaults-file=\"$conf\"");
    o
}
