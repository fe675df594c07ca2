//! The built `eventzr-local` binary: it serves the platform on the port it is given and
//! stops cleanly on Ctrl-C (SIGINT). Cargo builds the binary for this test
//! (`CARGO_BIN_EXE_eventzr-local`), in the same build as every other test.

use std::{
    fs::File,
    path::PathBuf,
    process::{Child, Command},
    time::{Duration, Instant},
};

use reqwest::StatusCode;

/// Kills the child if the test ends before it exited (a failed assertion must not leave
/// a server running).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test]
async fn the_built_binary_serves_health_and_stops_cleanly_on_sigint() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_eventzr-local"));
    let port = free_port();
    let log_path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("eventzr-local-{port}.log"));
    let log = File::create(&log_path).expect("log file");
    let log_tail = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut child = ChildGuard(
        Command::new(&bin)
            .args(["--port", &port.to_string(), "--store", "memory"])
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display())),
    );

    // Up: health answers 200 within 20 s.
    let client = reqwest::Client::builder()
        .no_proxy() // loopback only, whatever HTTP_PROXY says
        .build()
        .expect("http client");
    let url = format!("http://127.0.0.1:{port}/search/v1/health");
    let started = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().expect("child status") {
            panic!("eventzr-local exited early ({status}):\n{}", log_tail());
        }
        match client
            .get(&url)
            .timeout(Duration::from_secs(1))
            .send()
            .await
        {
            Ok(resp) if resp.status() == StatusCode::OK => break,
            _ if started.elapsed() > Duration::from_secs(20) => {
                panic!(
                    "eventzr-local did not answer {url} with 200 within 20 s:\n{}",
                    log_tail()
                )
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }

    // Down: SIGINT (Ctrl-C) ends it with success within 10 s.
    let pid = child.0.id() as libc::pid_t;
    // SAFETY: kill(2) with a pid we spawned and still hold (not yet reaped).
    let sent = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(sent, 0, "SIGINT to {pid} failed");
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("child status") {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "eventzr-local still running 10 s after SIGINT:\n{}",
            log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        status.success(),
        "eventzr-local exited with {status}:\n{}",
        log_tail()
    );
}
