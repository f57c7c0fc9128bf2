//! Which load balancer holds a virtual IP: asked the way keepalived's own
//! check asks HAProxy, at the address itself. Every member answers
//! [`WHO_PATH`](crate::generate::vrrp::WHO_PATH) with its host's name.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::model::HostName;

/// How long one question may take.
pub const ASK_TIMEOUT: Duration = Duration::from_millis(400);

/// The member holding the virtual IP at `addr` (its address and port in
/// the lab), or why none answers there.
pub async fn holder(addr: SocketAddr) -> Result<HostName, String> {
    tokio::time::timeout(ASK_TIMEOUT, ask(addr))
        .await
        .unwrap_or_else(|_| Err("no answer".to_owned()))
}

async fn ask(addr: SocketAddr) -> Result<HostName, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {addr}\r\n\r\n",
        crate::generate::vrrp::WHO_PATH
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream
        .take(4096)
        .read_to_end(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    parse(&String::from_utf8_lossy(&answer))
}

/// The host a member's answer names.
fn parse(answer: &str) -> Result<HostName, String> {
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| "a truncated answer".to_owned())?;
    let status = head.lines().next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("200") {
        return Err(format!("answered {status:?}"));
    }
    let name = body.trim();
    if name.is_empty() || crate::model::host_name_problem(name).is_some() {
        return Err("answered with no host name".to_owned());
    }
    Ok(HostName::new(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_names_its_host_or_says_what_is_wrong() {
        let ok = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nlb-02";
        assert_eq!(parse(ok), Ok(HostName::new("lb-02")));
        let refused = "HTTP/1.1 503 Service Unavailable\r\n\r\n";
        assert!(parse(refused).expect_err("a 503").contains("503"));
        assert!(parse("HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse("HTTP/1.1 200 OK\r\n\r\n\u{202e}x").is_err());
    }
}
