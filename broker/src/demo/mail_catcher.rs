//! The demo's development mail catcher (NOT FOR PRODUCTION): a minimal SMTP server on 127.0.0.1
//! that accepts every message and writes it to `<data_dir>/mail/<n>.eml`, so the notice digests
//! the demo's broker sends can be read without any mail service. It speaks just enough SMTP
//! (RFC 5321: HELO/EHLO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) for lettre.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::cli::CliError;

/// The largest message kept (a digest is a few kilobytes).
const MAX_MESSAGE: usize = 1 << 20;

/// A running catcher: where it listens and where it writes.
#[derive(Debug, Clone)]
pub struct Running {
    pub port: u16,
    pub dir: PathBuf,
}

/// Starts the catcher on `port` (127.0.0.1), writing to `<data_dir>/mail`.
pub async fn start(port: u16, data_dir: &Path) -> Result<Running, CliError> {
    let dir = data_dir.join("mail");
    std::fs::create_dir_all(&dir).map_err(|source| CliError::File {
        what: "create",
        path: dir.clone(),
        source,
    })?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| CliError::Other(format!("demo mail catcher on port {port}: {e}")))?;
    let seen = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    let counter = Arc::new(AtomicU64::new(u64::try_from(seen).unwrap_or(0)));
    let out = dir.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (out, counter) = (out.clone(), counter.clone());
            tokio::spawn(async move {
                if let Err(e) = session(stream, &out, &counter).await {
                    tracing::debug!(error = %e, "demo mail catcher: connection ended");
                }
            });
        }
    });
    Ok(Running { port, dir })
}

async fn session(stream: TcpStream, dir: &Path, counter: &AtomicU64) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write
        .write_all(b"220 demo-mail-catcher ESMTP (development only)\r\n")
        .await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-demo-mail-catcher\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut message = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    if message.len() < MAX_MESSAGE {
                        message.push_str(line.strip_prefix('.').unwrap_or(&line));
                    }
                }
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let file = dir.join(format!("{n}.eml"));
                tokio::fs::write(&file, message).await?;
                tracing::info!(file = %file.display(), "demo mail catcher: message kept");
                b"250 OK: kept\r\n"
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}
