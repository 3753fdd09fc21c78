//! A local SMTP sink for integration tests: accepts every message on
//! 127.0.0.1 (port chosen by the OS) and hands each one to the test.
//! Enough of RFC 5321 for Keycloak's mailer (EHLO/HELO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT; no TLS, no AUTH).
#![allow(dead_code)] // each test binary uses a different part

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};

/// One received message.
#[derive(Debug, Clone)]
pub(crate) struct Mail {
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message as sent (headers and body, dot-unstuffed).
    pub data: String,
}

impl Mail {
    /// The message text; quoted-printable soft breaks and escapes undone
    /// when the message uses that encoding.
    pub(crate) fn decoded(&self) -> String {
        if self
            .data
            .to_ascii_lowercase()
            .contains("content-transfer-encoding: quoted-printable")
        {
            decode_quoted_printable(&self.data)
        } else {
            self.data.clone()
        }
    }

    /// The first link in the message that starts with `prefix`.
    pub(crate) fn link(&self, prefix: &str) -> Option<String> {
        let text = self.decoded();
        let start = text.find(prefix)?;
        let link: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | '>' | '\''))
            .collect();
        Some(link.replace("&amp;", "&"))
    }
}

/// The sink: its port and the messages it received.
pub(crate) struct SmtpSink {
    pub port: u16,
    inbox: Mutex<mpsc::UnboundedReceiver<Mail>>,
}

impl SmtpSink {
    /// Starts the sink in the test's runtime.
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("SMTP sink binds");
        let port = listener.local_addr().expect("address").port();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _ = session(stream, tx).await;
                });
            }
        });
        Self {
            port,
            inbox: Mutex::new(rx),
        }
    }

    /// The realm `smtpServer` representation that sends to this sink.
    pub(crate) fn realm_config(&self) -> serde_json::Value {
        serde_json::json!({
            "host": "127.0.0.1",
            "port": self.port.to_string(),
            "from": "keycloak@localhost",
            "fromDisplayName": "Sign-in",
            "auth": "false",
            "ssl": "false",
            "starttls": "false",
        })
    }

    /// The next message, waiting up to `within`.
    pub(crate) async fn next(&self, within: Duration) -> Option<Mail> {
        let mut inbox = self.inbox.lock().await;
        tokio::time::timeout(within, inbox.recv())
            .await
            .ok()
            .flatten()
    }

    /// A message already received, without waiting.
    pub(crate) async fn try_next(&self) -> Option<Mail> {
        self.inbox.lock().await.try_recv().ok()
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    tx: mpsc::UnboundedSender<Mail>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 localhost test sink\r\n").await?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-localhost\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "NOOP" => b"250 OK\r\n",
            "RSET" => {
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                let addr = line
                    .split(':')
                    .nth(1)
                    .unwrap_or_default()
                    .trim()
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_owned();
                to.push(addr);
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with .\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                let _ = tx.send(Mail {
                    to: std::mem::take(&mut to),
                    data,
                });
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// Undoes quoted-printable: `=` at a line end joins lines, `=XX` is a byte.
fn decode_quoted_printable(s: &str) -> String {
    let joined = s.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
