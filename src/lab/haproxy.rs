//! HAProxy's runtime API: one command through its socket, the servers as
//! `show stat` reports them, and setting a server's state in every load
//! balancer that has it. The monitor keeps its own session open for
//! polling; everything else asks through here.

use std::collections::HashMap;

use super::docker::{DockerError, Engine};
use super::plan::{self, Part};
use super::state::LabState;
use crate::generate::paths;
use crate::live::BackendStatus;
use crate::model::{ComponentKind, HostName};

/// One server as HAProxy's `show stat` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStat {
    /// The backend (proxy) name.
    pub backend: String,
    /// The server (a host name).
    pub server: String,
    /// Its state.
    pub status: BackendStatus,
    /// The last check, e.g. `L4CON Connection refused` or `L7OK/200`.
    pub check: String,
    /// Sessions per second over the last second.
    pub rate: u64,
    /// Sessions so far.
    pub requests: u64,
    /// Connection errors, response errors and 5xx answers so far.
    pub errors: u64,
}

/// Parses `show stat` CSV: the server rows.
pub fn parse_show_stat(csv: &str) -> Vec<ServerStat> {
    let mut lines = csv.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(header) = lines.next().and_then(|h| h.strip_prefix("# ")) else {
        return Vec::new();
    };
    let columns: HashMap<&str, usize> =
        header.split(',').enumerate().map(|(i, c)| (c, i)).collect();
    let mut out = Vec::new();
    for line in lines {
        let fields = csv_fields(line);
        let get = |name: &str| {
            columns
                .get(name)
                .and_then(|i| fields.get(*i))
                .map_or("", String::as_str)
        };
        let num = |name: &str| get(name).parse::<u64>().unwrap_or(0);
        let server = get("svname");
        if server.is_empty() || server == "FRONTEND" || server == "BACKEND" || get("type") != "2" {
            continue;
        }
        let check_status = get("check_status").trim_start_matches("* ").to_owned();
        let code = get("check_code");
        let mut check = if code.is_empty() {
            check_status.clone()
        } else {
            format!("{check_status}/{code}")
        };
        let detail = get("last_chk");
        if !check_status.ends_with("OK") && !detail.is_empty() {
            check.push(' ');
            check.push_str(detail);
        }
        out.push(ServerStat {
            backend: get("pxname").to_owned(),
            server: server.to_owned(),
            status: BackendStatus::parse(get("status")),
            check,
            rate: num("rate"),
            requests: num("stot"),
            errors: num("econ") + num("eresp") + num("hrsp_5xx"),
        });
    }
    out
}

/// The fields of one CSV line; a field in double quotes may hold commas
/// (HAProxy quotes check descriptions such as `"Detected 1 consecutive
/// errors, last one was: L4 connection problem"`).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The runtime API's prompt, which ends every answer in prompt mode.
pub const PROMPT: &str = "\n> ";

/// Why the runtime API did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum HaproxyError {
    /// The command could not be run in the container.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The runtime API could not be reached.
    #[error("the runtime API answered {code}: {answer}")]
    Unreachable {
        /// The exit code of the client.
        code: i64,
        /// What it printed.
        answer: String,
    },
    /// HAProxy refused the command.
    #[error("{lb}/lb refused `{command}`: {answer}")]
    Refused {
        /// The load balancer's host.
        lb: HostName,
        /// The command.
        command: String,
        /// Its answer.
        answer: String,
    },
}

/// Sends one command to the runtime API of the HAProxy in `container`:
/// its answer. (Not for polling: it starts a process; the monitor keeps one
/// session open instead.)
pub async fn command(
    engine: &Engine,
    container: &str,
    command: &str,
) -> Result<String, HaproxyError> {
    let script = format!(
        "echo '{command}' | socat - UNIX-CONNECT:{}",
        paths::HAPROXY_SOCKET
    );
    match engine.exec(container, &["sh", "-c", &script]).await? {
        (0, out) => Ok(out),
        (code, out) => Err(HaproxyError::Unreachable {
            code,
            answer: out.trim().to_owned(),
        }),
    }
}

/// Reads `show stat` once (for `topolab status` and fault checks).
pub async fn servers(engine: &Engine, container: &str) -> Result<Vec<ServerStat>, HaproxyError> {
    command(engine, container, "show stat")
        .await
        .map(|out| parse_show_stat(&out))
}

/// Sets `server`'s state (`ready`, `drain`, `maint`) in every load
/// balancer that has it.
pub async fn set_server_state(
    engine: &Engine,
    state: &LabState,
    server: &HostName,
    word: &str,
) -> Result<(), HaproxyError> {
    let line = format!("set server web/{server} state {word}");
    for (lb, balancer) in state.topology.load_balancers() {
        if !balancer.backends.iter().any(|b| &b.host == server) {
            continue;
        }
        let name = plan::container_name(&state.lab, &lb.name, Part::Component(ComponentKind::Lb));
        // The runtime API answers a `set server` with nothing when it obeys.
        let answer = command(engine, &name, &line).await?;
        if !answer.trim().is_empty() {
            return Err(HaproxyError::Refused {
                lb: lb.name.clone(),
                command: line,
                answer: answer.trim().to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_stat_rows() {
        let csv = "# pxname,svname,qcur,stot,econ,eresp,status,type,rate,check_status,check_code,hrsp_5xx,last_chk\n\
                   www,FRONTEND,,10,,,OPEN,0,3,,,0,\n\
                   web,web-01,0,6,0,0,UP,2,2,L7OK,200,0,OK\n\
                   web,web-02,0,4,1,0,DOWN,2,0,* L4CON,,2,Connection refused\n\
                   web,web-03,0,0,0,0,UP 1/2,2,0,L4TOUT,,0,\n\
                   web,BACKEND,0,10,1,0,UP,1,2,,,2,\n";
        let rows = parse_show_stat(csv);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].server, "web-01");
        assert_eq!(rows[0].status, BackendStatus::Up);
        assert_eq!(rows[0].check, "L7OK/200");
        assert_eq!(rows[0].rate, 2);
        assert_eq!(rows[1].status, BackendStatus::Down);
        assert_eq!(rows[1].check, "L4CON Connection refused");
        assert_eq!(rows[1].errors, 3);
        assert_eq!(rows[2].status, BackendStatus::GoingDown);
        assert!(parse_show_stat("").is_empty());
        let quoted = "# pxname,svname,status,type,check_status,last_chk\n\
                      web,web-01,DOWN,2,HANA,\"Detected 1 consecutive errors, last one was: L4 connection problem\"\n";
        let rows = parse_show_stat(quoted);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].check,
            "HANA Detected 1 consecutive errors, last one was: L4 connection problem"
        );
        assert!(parse_show_stat("garbage\n1,2,3").is_empty());
    }
}
