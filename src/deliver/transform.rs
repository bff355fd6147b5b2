//! A destination's `transform` runs in a process of its own: `hookgate transform-worker`,
//! started by the destination's worker with an empty environment (no secret is
//! reachable), its address space capped and a large stack, fed one body at a time over
//! its stdin. jq has no way to interrupt a program, so isolation is what bounds one:
//! a program that runs past [`BUDGET`] is killed with its process, and one that
//! exhausts its stack or memory takes down only that process. Either way the event is a
//! dead letter for the destination (docs/delivery.md) and the next event gets a fresh
//! process. A body costs two pipe writes and reads on top of the program's run.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::checks::transform::{Program, TransformError, MAX_LEN};

/// How long one body's run may take, from the write of its body to the read of the
/// answer. A transform is a reshaping of a document: milliseconds are plenty.
pub(crate) const BUDGET: Duration = Duration::from_millis(50);
/// The worker's address space: room for the stack and a program's values.
const MEMORY: u64 = 1 << 30;
/// The stack the program runs on: deep recursion fails here, in the worker.
const STACK: usize = 256 << 20;
/// A worker's start (exec and compile) is not part of any body's budget.
const START: Duration = Duration::from_secs(10);

const OK: u8 = 0;
const FAILED: u8 = 1;

/// One destination's transform: its program and the processes running it, each
/// started when first needed and again after one was stopped. A body goes to a free
/// one; a round trip is mostly waiting for the other process to wake, so two or more
/// let attempts in flight overlap.
pub(crate) struct Transformer {
    source: String,
    max_output: usize,
    /// The hookgate binary: this one, whatever replaced its file since it started.
    exe: PathBuf,
    pool: Vec<tokio::sync::Mutex<Option<Process>>>,
    next: AtomicUsize,
}

struct Process {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Transformer {
    /// At most `workers` processes (one per attempt in flight, up to the cores).
    pub(crate) fn new(source: &str, max_output: usize, workers: usize) -> Transformer {
        let exe = PathBuf::from("/proc/self/exe");
        Transformer::with_exe(source, max_output, workers, exe)
    }

    /// Run by another binary than this one (the benchmark's own is not hookgate).
    pub(crate) fn with_exe(
        source: &str,
        max_output: usize,
        workers: usize,
        exe: PathBuf,
    ) -> Transformer {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Transformer {
            source: source.to_string(),
            max_output,
            exe,
            pool: (0..workers.clamp(1, cores))
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// The body `body` becomes for this destination.
    pub(crate) async fn apply(&self, body: &[u8]) -> Result<Bytes, TransformError> {
        let free = self.pool.iter().find_map(|p| p.try_lock().ok());
        let mut process = match free {
            Some(p) => p,
            None => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
                self.pool[i].lock().await
            }
        };
        if process.is_none() {
            *process = Some(self.start().await?);
        }
        let p = process.as_mut().expect("started above");
        match tokio::time::timeout(BUDGET, exchange(p, body, self.max_output)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                // Killed on drop; the next body starts another.
                *process = None;
                Err(TransformError::Crashed(stopped(e)))
            }
            Err(_) => {
                *process = None;
                Err(TransformError::TooSlow(BUDGET.as_millis()))
            }
        }
    }

    async fn start(&self) -> Result<Process, TransformError> {
        let crashed = |e: io::Error| TransformError::NotStarted(e.to_string());
        let mut child = Command::new(&self.exe)
            .arg("transform-worker")
            .arg("--max-output")
            .arg(self.max_output.to_string())
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(crashed)?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(crashed(io::Error::other("no pipes")));
        };
        let mut p = Process {
            _child: child,
            stdin,
            stdout: BufReader::new(stdout),
        };
        match tokio::time::timeout(START, exchange(&mut p, self.source.as_bytes(), 0)).await {
            Ok(Ok(Ok(_))) => Ok(p),
            // The configuration compiled it: this worker is not the same program.
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(e)) => Err(crashed(e)),
            Err(_) => Err(crashed(io::Error::other("no answer"))),
        }
    }
}

/// Send one frame, read its answer.
async fn exchange(
    p: &mut Process,
    body: &[u8],
    max_output: usize,
) -> io::Result<Result<Bytes, TransformError>> {
    let len = u32::try_from(body.len()).map_err(io::Error::other)?;
    // One write: the worker wakes once, with the whole frame to read.
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(body);
    p.stdin.write_all(&frame).await?;
    let tag = p.stdout.read_u8().await?;
    let len = p.stdout.read_u32().await? as usize;
    // The worker holds to the limit; a longer answer is not read.
    if len > max_output.max(4096) {
        return Err(io::Error::other("an answer past the limit"));
    }
    let mut payload = vec![0; len];
    p.stdout.read_exact(&mut payload).await?;
    Ok(match tag {
        OK => Ok(Bytes::from(payload)),
        _ => Err(serde_json::from_slice(&payload).map_err(io::Error::other)?),
    })
}

/// What a worker that stopped answering died of, as far as the pipe tells.
fn stopped(e: io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe => {
            "the program's process ended (its stack or memory ran out)".into()
        }
        _ => format!("the program's process failed: {e}"),
    }
}

/// `hookgate transform-worker`: the first frame on stdin is the program; each one after
/// it a body, answered on stdout in order.
pub(crate) fn worker_main(max_output: usize) -> i32 {
    let limit = rustix::process::Rlimit {
        current: Some(MEMORY),
        maximum: Some(MEMORY),
    };
    if rustix::process::setrlimit(rustix::process::Resource::As, limit).is_err() {
        return 2;
    }
    // A gateway that is killed takes its workers along (a runaway program included).
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let run = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || serve(max_output));
    match run.map(|t| t.join()) {
        Ok(Ok(Ok(()))) => 0,
        _ => 2,
    }
}

fn serve(max_output: usize) -> io::Result<()> {
    let mut input = io::BufReader::new(io::stdin().lock());
    let mut out = io::BufWriter::new(io::stdout().lock());
    let Some(source) = read_frame(&mut input, MAX_LEN)? else {
        return Ok(());
    };
    let source = String::from_utf8(source).map_err(io::Error::other)?;
    let program = match Program::compile(&source) {
        Ok(p) => p,
        Err(e) => return answer(&mut out, Err(e)),
    };
    answer(&mut out, Ok(Vec::new()))?;
    while let Some(body) = read_frame(&mut input, max_output)? {
        answer(&mut out, program.run(&body, max_output))?;
    }
    Ok(())
}

/// A frame: its length (4 bytes, big-endian), then its bytes. `None` at the end.
fn read_frame(r: &mut impl Read, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0; 4];
    match r.read_exact(&mut len) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::other("a frame past the limit"));
    }
    let mut buf = vec![0; len];
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}

fn answer(w: &mut impl Write, r: Result<Vec<u8>, TransformError>) -> io::Result<()> {
    let (tag, payload) = match r {
        Ok(body) => (OK, body),
        Err(e) => (FAILED, serde_json::to_vec(&e).map_err(io::Error::other)?),
    };
    w.write_all(&[tag])?;
    w.write_all(&(payload.len() as u32).to_be_bytes())?;
    w.write_all(&payload)?;
    w.flush()
}
