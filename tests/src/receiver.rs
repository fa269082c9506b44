//! A real HTTP server on 127.0.0.1 that receives webhook deliveries: it records each
//! request (headers and raw body) and answers 500 to the first `fail_first` of them, 200
//! after.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::Result;

/// One request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A request's headers (name, value) and raw body.
pub type Request = (Vec<(String, String)>, Vec<u8>);

/// Reads one HTTP/1.1 request from `stream`: its headers and its body (by Content-Length).
pub fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut headers = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((headers, body))
}

pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Listens on a free loopback port; the thread lives as long as the test process.
    pub fn start(fail_first: usize) -> Result<Receiver> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let url = format!(
            "http://127.0.0.1:{}/hooks/till",
            listener.local_addr()?.port()
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let failures = Arc::new(AtomicUsize::new(fail_first));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok((headers, body)) = read_request(&stream) else {
                    continue;
                };
                let fail = failures
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let status = if fail { 500 } else { 200 };
                let reason = if fail { "Internal Server Error" } else { "OK" };
                let answer = format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let mut stream = stream;
                let _ = stream.write_all(answer.as_bytes());
                if let Ok(mut log) = log.lock() {
                    log.push(Received {
                        headers,
                        body,
                        status,
                    });
                }
            }
        });
        Ok(Receiver { url, received })
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Polls until `count` requests arrived, running `between` on each round (e.g. the cron
    /// trigger); gives up after `timeout`.
    pub fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
        mut between: impl FnMut(),
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= count || Instant::now() > deadline {
                return got;
            }
            between();
            thread::sleep(Duration::from_millis(200));
        }
    }
}
