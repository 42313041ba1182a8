//! `charter health`: asks the local server's `/healthz`, for container health checks
//! (runtime images carry no HTTP client). Exits 0 only on a `200` within three seconds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn check(bind: SocketAddr) -> anyhow::Result<()> {
    // A server bound to every address answers on loopback.
    let addr = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), bind.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), bind.port())
        }
        _ => bind,
    };
    let status = tokio::time::timeout(Duration::from_secs(3), async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut head = vec![0u8; 256];
        let n = s.read(&mut head).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..n]).to_string())
    })
    .await
    .with_context(|| format!("{addr}: no answer within 3 s"))?
    .with_context(|| format!("{addr}: cannot reach the server"))?;
    let code = status.split(' ').nth(1).unwrap_or_default();
    if code != "200" {
        bail!(
            "{addr}/healthz answered {:?}",
            status.lines().next().unwrap_or_default()
        );
    }
    println!("ok");
    Ok(())
}
