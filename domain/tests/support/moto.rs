//! A throwaway `moto_server` (PyPI `moto[server]`) on loopback: the S3 stand-in of the tests.
//!
//! The binary is `$BAZAAR_MOTO_SERVER` when set (it must then exist), else the one that
//! `scripts/setup.sh` installs under `target/moto-venv`, else `moto_server` on `PATH`. With none
//! of them, [`shared`] returns `None` and the S3 tests say they were skipped.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

pub const BINARY_VAR: &str = "BAZAAR_MOTO_SERVER";

pub fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(BINARY_VAR) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{BINARY_VAR} is set to {}, which does not exist",
            path.display()
        );
        return Some(path);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/moto-venv/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("moto_server"))
        .find(|path| path.is_file())
}

/// One server for the tests that run together: started by the first test that asks, stopped
/// when the last one holding it is done. Each test uses buckets of its own.
pub fn shared() -> Option<Arc<Moto>> {
    static SHARED: Mutex<Weak<Moto>> = Mutex::new(Weak::new());
    let mut slot = SHARED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(moto) = slot.upgrade() {
        return Some(moto);
    }
    let moto = Arc::new(Moto::start(&find_binary()?));
    *slot = Arc::downgrade(&moto);
    Some(moto)
}

/// `moto_server` on 127.0.0.1; stopped on drop.
pub struct Moto {
    /// `sh` running moto and a watchdog that stops moto once our end of the pipe closes: on
    /// drop, and also when this process dies without running destructors.
    supervisor: Child,
    lifeline: Option<ChildStdin>,
    port: u16,
    log: PathBuf,
}

const SUPERVISOR: &str = r#"
exec 3<&0 </dev/null
"$0" -H 127.0.0.1 -p "$1" >"$2" 2>&1 &
moto=$!
{ read _ <&3; kill "$moto" 2>/dev/null; } &
wait "$moto"
"#;

impl Moto {
    pub fn start(binary: &Path) -> Moto {
        let mut failures = Vec::new();
        for _attempt in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!("bazaar-moto-{port}.log"));
            let supervisor = Command::new("sh")
                .arg("-c")
                .arg(SUPERVISOR)
                .arg(binary)
                .arg(port.to_string())
                .arg(&log)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            let mut moto = Moto {
                lifeline: None,
                supervisor,
                port,
                log,
            };
            moto.lifeline = moto.supervisor.stdin.take();
            match moto.wait_until_ready(Duration::from_secs(60)) {
                Ok(()) => return moto,
                Err(why) => failures.push(format!("port {port}: {why}\n{}", moto.log_text())),
            }
        }
        panic!(
            "{} did not start:\n{}",
            binary.display(),
            failures.join("\n")
        );
    }

    fn wait_until_ready(&mut self, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.supervisor.try_wait() {
                return Err(format!("moto_server exited ({status})"));
            }
            if let Ok((status, _)) = self.try_request("GET", "/") {
                if status > 0 {
                    return Ok(());
                }
            }
            if started.elapsed() > limit {
                return Err(format!("no answer within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A plain HTTP/1.0 request with an empty body (moto does not check signatures):
    /// the status code and the body.
    pub fn request(&self, method: &str, path_and_query: &str) -> (u16, String) {
        self.try_request(method, path_and_query)
            .unwrap_or_else(|e| panic!("{method} {path_and_query} to moto: {e}"))
    }

    fn try_request(&self, method: &str, path_and_query: &str) -> std::io::Result<(u16, String)> {
        let mut conn = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        conn.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            conn,
            "{method} {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\r\n",
            self.port
        )?;
        let mut response = String::new();
        conn.read_to_string(&mut response)?;
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// A new, empty bucket with a unique name.
    pub fn create_bucket(&self) -> String {
        let bucket = format!("test-{}", uuid::Uuid::new_v4().simple());
        let (status, body) = self.request("PUT", &format!("/{bucket}"));
        assert_eq!(status, 200, "creating bucket {bucket}: {body}");
        bucket
    }

    /// Every key in the bucket, as S3 itself lists them.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{bucket}?list-type=2&max-keys=1000"));
        assert_eq!(status, 200, "listing {bucket}: {body}");
        xml_values(&body, "Key")
    }

    /// The keys of the multipart uploads started in the bucket and neither completed nor aborted.
    pub fn unfinished_uploads(&self, bucket: &str) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{bucket}?uploads"));
        assert_eq!(status, 200, "listing uploads in {bucket}: {body}");
        body.split("<Upload>")
            .skip(1)
            .flat_map(|upload| xml_values(upload, "Key").into_iter().take(1))
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the pipe makes the watchdog stop moto, and then `sh` returns.
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.supervisor.try_wait() {
                std::fs::remove_file(&self.log).ok();
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.supervisor.kill().ok();
        self.supervisor.wait().ok();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port on loopback")
        .port()
}

fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|rest| {
            rest.split_once(close.as_str())
                .map(|(value, _)| value.to_owned())
        })
        .collect()
}
