//! Two subinterpreters with their own GIL run Python on two OS threads at the same time.
//!
//! The main thread initialises CPython and detaches (`PyEval_SaveThread`). Each worker creates
//! an interpreter (`Py_NewInterpreterFromConfig` leaves it attached to the worker), spins in
//! Python when told to, and destroys it on the same thread.
//!
//! Two kinds of evidence that the GILs are separate:
//! - both workers meet at a rendezvous *while attached*, which deadlocks (and here times out)
//!   if they shared a GIL, whatever the machine's load;
//! - during a spin the CPU time of both threads adds up to well over the wall time
//!   (`MIN_OVERLAP`). That needs two idle cores, and a shared machine may not have them, so
//!   rounds repeat until one gets there; each round also spins plain Rust threads right after
//!   the Python spin, to see what parallelism the machine was giving at that moment. A round
//!   clearly above what a shared GIL permits (`ABOVE_SHARED_GIL`) also counts, and the test
//!   fails only if Python stayed below that while plain threads got two cores in several rounds.
//!
//! CPython is initialised once per process, so this file holds a single test.

use std::ffi::{CStr, CString};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use cpython_sys as ffi;

const WORKERS: usize = 2;
/// Most spin rounds to try before judging.
const MAX_ROUNDS: usize = 10;
/// How long each spin lasts.
const SPIN: Duration = Duration::from_millis(250);
/// CPU time over wall time expected of two spins on two idle cores.
const MIN_OVERLAP: f64 = 1.5;
/// CPU time over wall time that still proves overlap: threads taking turns on one GIL use at
/// most about one core between them.
const ABOVE_SHARED_GIL: f64 = 1.2;
/// Rounds in which plain threads got two cores while Python did not, before the test fails.
const MAX_MISSED_ROUNDS: usize = 3;
/// How long a worker waits for the other at a rendezvous.
const RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(10);

/// One spin on one thread: how much it did, the CPU it used, and when it ran.
#[derive(Debug, Clone, Copy)]
struct Spin {
    iterations: i64,
    cpu: Duration,
    started: Instant,
    finished: Instant,
}

/// One worker's part of a round: a Python spin, then a plain Rust spin.
#[derive(Debug, Clone, Copy)]
struct Sample {
    python: Spin,
    rust: Spin,
}

/// CPU/wall of the Python spins and of the Rust spins of one round.
#[derive(Debug, Clone, Copy)]
struct Overlap {
    python: f64,
    rust: f64,
}

#[test]
fn own_gil_interpreters_run_in_parallel() {
    // SAFETY: the only test in this binary; the main thread initialises CPython and detaches
    // its thread state before the workers start, and reattaches it after they have finished.
    let main_tstate = unsafe {
        initialize();
        ffi::PyEval_SaveThread()
    };

    let rendezvous = Rendezvous::new(WORKERS);
    let (sample_tx, sample_rx) = mpsc::channel();
    let (ids, rounds) = std::thread::scope(|scope| {
        let mut commands = Vec::new();
        let mut workers = Vec::new();
        for _ in 0..WORKERS {
            let (command_tx, command_rx) = mpsc::channel();
            let sample_tx = sample_tx.clone();
            let rendezvous = &rendezvous;
            commands.push(command_tx);
            workers.push(scope.spawn(move || worker(rendezvous, command_rx, sample_tx)));
        }
        drop(sample_tx);
        let rounds = spin_rounds(&commands, &sample_rx);
        drop(commands);
        let ids: Vec<i64> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        (ids, rounds)
    });

    // SAFETY: every subinterpreter has been destroyed; reattach the main thread state that
    // `PyEval_SaveThread` returned, then finalise from the main thread.
    unsafe {
        ffi::PyEval_RestoreThread(main_tstate);
        assert_eq!(ffi::Py_FinalizeEx(), 0, "Py_FinalizeEx failed");
    }

    assert!(ids.iter().all(|&id| id > 0), "not subinterpreters: {ids:?}");
    assert_ne!(ids[0], ids[1], "both workers got the same interpreter");
    eprintln!("CPU/wall per round: {rounds:.2?}");

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let best = rounds.iter().map(|r| r.python).fold(0.0, f64::max);
    if cores < 2 || best >= MIN_OVERLAP {
        return;
    }
    if best >= ABOVE_SHARED_GIL {
        eprintln!(
            "busy machine: best {best:.2} is short of {MIN_OVERLAP}, still above a shared GIL"
        );
        return;
    }
    let missed = rounds.iter().filter(|r| r.rust >= MIN_OVERLAP).count();
    assert!(
        missed < MAX_MISSED_ROUNDS,
        "own-GIL interpreters did not run in parallel (best CPU/wall {best:.2}), \
         though plain threads did in {missed} rounds: {rounds:.2?}"
    );
    eprintln!("machine too busy to measure parallelism; only the rendezvous proved it");
}

/// Runs rounds until the Python spins overlap fully or `MAX_ROUNDS` have run.
fn spin_rounds(commands: &[Sender<()>], samples: &Receiver<Sample>) -> Vec<Overlap> {
    let mut rounds = Vec::new();
    while rounds.len() < MAX_ROUNDS {
        for command in commands {
            command.send(()).expect("worker alive");
        }
        let round: Vec<Sample> = (0..WORKERS)
            .map_while(|_| samples.recv_timeout(RENDEZVOUS_TIMEOUT * 3).ok())
            .collect();
        if round.len() < WORKERS {
            break; // A worker failed; joining it reports why.
        }
        let overlap = Overlap {
            python: overlap(round.iter().map(|s| s.python)),
            rust: overlap(round.iter().map(|s| s.rust)),
        };
        assert!(round.iter().all(|s| s.python.iterations > 0));
        rounds.push(overlap);
        if overlap.python >= MIN_OVERLAP {
            break;
        }
    }
    rounds
}

/// Creates an own-GIL interpreter on this thread, spins in it once per command, destroys it
/// when the commands end, and returns its id.
fn worker(rendezvous: &Rendezvous, commands: Receiver<()>, samples: Sender<Sample>) -> i64 {
    let config = ffi::PyInterpreterConfig {
        use_main_obmalloc: 0,
        allow_fork: 0,
        allow_exec: 0,
        allow_threads: 1,
        allow_daemon_threads: 0,
        check_multi_interp_extensions: 1,
        gil: ffi::PyInterpreterConfig_OWN_GIL,
    };
    let mut tstate = std::ptr::null_mut();
    // SAFETY: this thread has no thread state; on success the new interpreter's thread state
    // is attached to it, and everything until `Py_EndInterpreter` runs in that interpreter.
    unsafe {
        check(ffi::Py_NewInterpreterFromConfig(&mut tstate, &config));
        assert_eq!(ffi::PyThreadState_Get(), tstate);
        let interp = ffi::PyThreadState_GetInterpreter(tstate);
        let interpreter_id = ffi::PyInterpreterState_GetID(interp);

        let globals = ffi::PyDict_New();
        let builtins = ffi::PyEval_GetBuiltins();
        assert_eq!(
            ffi::PyDict_SetItemString(globals, c"__builtins__".as_ptr(), builtins),
            0
        );
        run(c"import time", globals);
        let code = CString::new(format!(
            "n = 0\ndeadline = time.perf_counter() + {}\n\
             while time.perf_counter() < deadline:\n    n += 1\n",
            SPIN.as_secs_f64()
        ))
        .unwrap();

        while commands.recv().is_ok() {
            // Both workers are attached here at once: impossible with a shared GIL.
            meet(rendezvous);
            let python = spin(|| {
                run(&code, globals);
                let n = ffi::PyDict_GetItemString(globals, c"n".as_ptr());
                ffi::PyLong_AsLongLong(n)
            });
            meet(rendezvous);
            let rust = spin(|| {
                let mut iterations = 0;
                let deadline = Instant::now() + SPIN;
                while Instant::now() < deadline {
                    iterations = std::hint::black_box(iterations + 1);
                }
                iterations
            });
            samples.send(Sample { python, rust }).unwrap();
        }

        ffi::Py_DECREF(globals);
        ffi::Py_EndInterpreter(tstate);
        assert!(ffi::PyThreadState_GetUnchecked().is_null());
        interpreter_id
    }
}

/// Waits, attached, for the other worker. On a timeout it detaches first, so that a worker
/// blocked behind this thread's GIL can go on and the test fails instead of hanging.
unsafe fn meet(rendezvous: &Rendezvous) {
    if !rendezvous.wait(RENDEZVOUS_TIMEOUT) {
        // SAFETY: the caller is attached; after this the thread never touches Python again.
        unsafe { ffi::PyEval_SaveThread() };
        panic!("rendezvous timed out while attached: do the interpreters share a GIL?");
    }
}

/// Times `work` (which returns its iteration count) in wall-clock and thread CPU time.
fn spin(work: impl FnOnce() -> i64) -> Spin {
    let started = Instant::now();
    let cpu_before = thread_cpu_time();
    let iterations = work();
    Spin {
        iterations,
        cpu: thread_cpu_time() - cpu_before,
        started,
        finished: Instant::now(),
    }
}

/// CPU time of concurrent spins divided by the wall time they spanned.
fn overlap(spins: impl Iterator<Item = Spin> + Clone) -> f64 {
    let start = spins.clone().map(|s| s.started).min().unwrap();
    let end = spins.clone().map(|s| s.finished).max().unwrap();
    let cpu: Duration = spins.map(|s| s.cpu).sum();
    cpu.as_secs_f64() / (end - start).as_secs_f64()
}

/// A reusable barrier whose wait gives up after a deadline instead of hanging forever.
#[derive(Debug)]
struct Rendezvous {
    parties: usize,
    arrived: Mutex<usize>,
    changed: Condvar,
}

impl Rendezvous {
    fn new(parties: usize) -> Self {
        Self {
            parties,
            arrived: Mutex::new(0),
            changed: Condvar::new(),
        }
    }

    /// Blocks until all parties have called `wait` as often as this caller has; `false` if
    /// that did not happen within `timeout`.
    fn wait(&self, timeout: Duration) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        let target = arrived.div_ceil(self.parties) * self.parties;
        self.changed.notify_all();
        let (_arrived, result) = self
            .changed
            .wait_timeout_while(arrived, timeout, |arrived| *arrived < target)
            .unwrap();
        !result.timed_out()
    }
}

/// Starts CPython with an isolated config whose `home` is the prefix we were built against.
unsafe fn initialize() {
    // SAFETY: `config` is initialised by `PyConfig_InitIsolatedConfig` before any other use and
    // cleared once; the home string outlives the call that copies it.
    unsafe {
        let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::uninit();
        ffi::PyConfig_InitIsolatedConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        let home = std::ffi::CString::new(ffi::PREFIX).unwrap();
        check(ffi::PyConfig_SetBytesString(
            &mut config,
            &mut config.home,
            home.as_ptr(),
        ));
        check(ffi::Py_InitializeFromConfig(&config));
        ffi::PyConfig_Clear(&mut config);
    }
}

/// Panics with CPython's message when a `PyStatus` is an error or an exit.
unsafe fn check(status: ffi::PyStatus) {
    // SAFETY: `PyStatus_Exception` only reads the struct; `err_msg` is a static C string or null.
    unsafe {
        if ffi::PyStatus_Exception(status) != 0 {
            let msg = if status.err_msg.is_null() {
                "(no message)".into()
            } else {
                CStr::from_ptr(status.err_msg).to_string_lossy()
            };
            panic!("CPython failed: {msg} (exit code {})", status.exitcode);
        }
    }
}

/// Runs statements in `globals`; panics if they raised.
unsafe fn run(code: &CStr, globals: *mut ffi::PyObject) {
    // SAFETY: the caller is attached to the interpreter that owns `globals`.
    unsafe {
        let result = ffi::PyRun_String(code.as_ptr(), ffi::Py_file_input, globals, globals);
        if result.is_null() {
            ffi::PyErr_Print();
            panic!("Python raised running {code:?}");
        }
        ffi::Py_DECREF(result);
    }
}

/// CPU time consumed by the calling thread so far.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid out-pointer; the clock id is supported on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
