//! A real HTTP server on 127.0.0.1 that receives webhook deliveries: it records each
//! request (headers and raw body) and answers it as told: 500 to the first `fail_first`
//! of them and 200 after, a redirect, or no answer at all until released.

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
    /// What the receiver answered (0: nothing, it hung).
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
    /// Connections held without an answer (a hanging receiver), closed by `release`.
    held: Arc<Mutex<Option<Vec<TcpStream>>>>,
}

/// How a receiver answers each request.
#[derive(Clone)]
enum Answer {
    /// 500 to the first n, then 200.
    FailFirst(Arc<AtomicUsize>),
    /// 302 to this location.
    Redirect(String),
    /// Nothing: the connection is held open until `release`.
    Hang,
}

impl Receiver {
    /// Listens on a free loopback port; the thread lives as long as the test process.
    pub fn start(fail_first: usize) -> Result<Receiver> {
        Self::answering(Answer::FailFirst(Arc::new(AtomicUsize::new(fail_first))))
    }

    /// Answers every request with `302 Found` to `location`.
    pub fn redirecting(location: &str) -> Result<Receiver> {
        Self::answering(Answer::Redirect(location.to_owned()))
    }

    /// Reads every request and never answers it, until [`Receiver::release`]; from then on
    /// it closes each connection at once.
    pub fn hanging() -> Result<Receiver> {
        Self::answering(Answer::Hang)
    }

    /// Closes the connections held by a hanging receiver (their senders see an error).
    pub fn release(&self) {
        if let Ok(mut held) = self.held.lock() {
            held.take();
        }
    }

    fn answering(answer: Answer) -> Result<Receiver> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let url = format!(
            "http://127.0.0.1:{}/hooks/till",
            listener.local_addr()?.port()
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let held = Arc::new(Mutex::new(Some(Vec::new())));
        let log = Arc::clone(&received);
        let holding = Arc::clone(&held);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok((headers, body)) = read_request(&stream) else {
                    continue;
                };
                let (status, answer) = match &answer {
                    Answer::FailFirst(failures) => {
                        let fail = failures
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                        let (status, reason) = if fail {
                            (500, "Internal Server Error")
                        } else {
                            (200, "OK")
                        };
                        (
                            status,
                            Some(format!(
                                "HTTP/1.1 {status} {reason}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                            )),
                        )
                    }
                    Answer::Redirect(location) => (
                        302,
                        Some(format!(
                            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )),
                    ),
                    Answer::Hang => (0, None),
                };
                let mut stream = stream;
                match answer {
                    Some(answer) => {
                        let _ = stream.write_all(answer.as_bytes());
                    }
                    None => {
                        if let Ok(mut held) = holding.lock()
                            && let Some(held) = held.as_mut()
                        {
                            held.push(stream);
                        }
                    }
                }
                if let Ok(mut log) = log.lock() {
                    log.push(Received {
                        headers,
                        body,
                        status,
                    });
                }
            }
        });
        Ok(Receiver {
            url,
            received,
            held,
        })
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
