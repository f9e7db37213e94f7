//! The `subinterp` binary: `--version`, `run SCRIPT ARGS` with Python's exit-status rules,
//! functions of the script's `__main__` crossing to pool workers, the examples, the Python
//! test suite of the `csp` module, and Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_subinterp");

/// Writes `code` to a script in a fresh directory and runs it with `args`.
fn run_code(name: &str, code: &str, args: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("subinterp-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join(format!("{name}.py"));
    std::fs::write(&script, code).unwrap();
    run(&script, args)
}

fn run(script: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("run")
        .arg(script)
        .args(args)
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("subinterp starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_names_the_python() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    let version = text(&out.stdout);
    assert!(version.starts_with("subinterp 0."), "{version}");
    assert!(version.contains("(CPython 3.13."), "{version}");
}

#[test]
fn run_sets_argv_and_path_like_python() {
    let out = run_code(
        "argv",
        "import sys, os\n\
         print(__name__, sys.argv[1:])\n\
         print(sys.path[0] == os.path.dirname(os.path.realpath(__file__)))\n\
         print(sys.executable.startswith(sys.prefix))",
        &["a", "--flag", "-x"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "__main__ ['a', '--flag', '-x']\nTrue\nTrue\n"
    );
}

#[test]
fn exit_status_follows_python() {
    let out = run_code("exit3", "import sys\nsys.exit(3)", &[]);
    assert_eq!(out.status.code(), Some(3));
    let out = run_code("exitnone", "raise SystemExit", &[]);
    assert_eq!(out.status.code(), Some(0));
    let out = run_code("exitmsg", "import sys\nsys.exit('bad input')", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "bad input\n");

    let out = run_code("raises", "def f():\n    raise ValueError('boom')\nf()", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Traceback (most recent call last):"),
        "{stderr}"
    );
    assert!(stderr.contains("line 2, in f"), "{stderr}");
    assert!(stderr.trim_end().ends_with("ValueError: boom"), "{stderr}");

    let out = run_code("syntax", "x = (1,\n", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("SyntaxError"),
        "{}",
        text(&out.stderr)
    );

    let out = run(Path::new("/no/such/script.py"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no such file"));
}

#[test]
fn functions_of_the_main_script_cross_to_workers() {
    let out = run_code(
        "mainfuncs",
        "import csp, sys\n\
         print('imported as', __name__, file=sys.stderr)\n\
         def square(x):\n    return x * x\n\
         class Shapes:\n    @staticmethod\n    def area(w, h):\n        return w * h\n\
         def nested(x):\n    return sum(csp.map(abs, [x, -x]))\n\
         if __name__ == '__main__':\n\
         \x20   with csp.Pool(2) as pool:\n\
         \x20       print(pool.map(square, range(6)))\n\
         \x20       print(pool.submit(Shapes.area, 3, 4).result())\n\
         \x20       print(all(i > 0 for i in pool.starmap(csp.current_interpreter, [()] * 4)))\n\
         \x20   print(csp.map(square, [7]))\n\
         \x20   print(csp.map(nested, [1, 2]))\n",
        &[],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        text(&out.stdout),
        "[0, 1, 4, 9, 16, 25]\n12\nTrue\n[49]\n[2, 4]\n"
    );
    assert!(stderr.contains("imported as __main__"), "{stderr}");
    assert!(
        stderr.contains("imported as __mp_main__"),
        "workers import the script under __mp_main__: {stderr}"
    );
}

#[test]
fn a_pool_created_without_the_main_guard_is_a_clear_error() {
    let out = run_code(
        "noguard",
        "import csp\n\
         def f(x):\n    return x\n\
         print(csp.Pool(1).submit(f, 1).result())\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("if __name__ == '__main__'"), "{stderr}");
}

#[test]
fn the_primes_example_counts_on_all_cores() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/primes.py");
    let out = run(&example, &["2000000"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(text(&out.stdout), "primes below 2000000: 148933\n");
    let cores = subinterp::default_workers();
    assert!(
        stderr.starts_with(&format!("{cores} workers, ")),
        "{stderr}"
    );
    eprintln!("{stderr}");
}

#[test]
fn the_benchmark_script_runs_every_variant() {
    // `--quick` measures nothing; it keeps `cargo xtask bench` from rotting.
    let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/bench-scripts/bench.py");
    let out = run(&bench, &["--quick", "--json", "--max-workers", "2"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for key in [
        "\"subinterp\"",
        "\"threads\"",
        "\"multiprocessing\"",
        "\"_interpreters\"",
        "\"ProcessPoolExecutor\"",
        "\"ThreadPoolExecutor\"",
        "\"speedup\"",
        "\"throughput\"",
        "\"latency_us\"",
        "\"_interpqueues\"",
        "\"multiprocessing.Queue\"",
        "\"queue.Queue (threads)\"",
        "\"csp (SharedBytes)\"",
    ] {
        assert!(stdout.contains(key), "{key} missing from {stdout}");
    }
}

#[test]
fn the_csp_python_suite_passes() {
    let suite =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/python/test_csp.py");
    let out = run(&suite, &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim_end().ends_with("OK"), "{stderr}");
    eprintln!("{stderr}");
}

#[test]
fn the_pipeline_example_sieves_through_100_stages() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/pipeline.py");
    let out = run(&example, &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("the first 100 primes, through 100 filter stages:")
    );
    let primes: Vec<u32> = lines
        .next()
        .unwrap()
        .split(' ')
        .map(|p| p.parse().unwrap())
        .collect();
    let expected: Vec<u32> = (2..)
        .filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .take(100)
        .collect();
    assert_eq!(primes, expected);
    assert!(stderr.starts_with("101 interpreters"), "{stderr}");
}

#[test]
fn the_fan_out_example_gives_the_same_count_on_any_number_of_workers() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/fan_out.py");
    let expected = "1572380 of 2000000 samples inside the quarter circle: pi ~ 3.14476\n";
    for workers in ["1", "3"] {
        let out = run(&example, &["2000000", workers]);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(text(&out.stdout), expected);
        assert!(
            stderr.starts_with(&format!("40 jobs on {workers} workers")),
            "{stderr}"
        );
    }
}

#[test]
fn a_process_pool_program_gives_the_same_output_on_interpreters() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/executor_swap.py");
    let on_interpreters = run(&example, &[]);
    let on_processes = run(&example, &["--process"]);
    for out in [&on_interpreters, &on_processes] {
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let stdout = text(&on_interpreters.stdout);
    assert_eq!(stdout, text(&on_processes.stdout));
    assert!(
        stdout.starts_with("longest Collatz chain below 300000: 230631 (442 steps)\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("caught from a worker: ValueError('negative input: -4')\n"));
    assert!(text(&on_interpreters.stderr).starts_with("InterpreterPoolExecutor: "));
}

#[test]
fn an_executor_left_open_finishes_its_work_at_exit() {
    let out = run_code(
        "openexecutor",
        "import csp, time\n\
         def work(i):\n    time.sleep(0.05)\n    print('done', i, flush=True)\n\
         if __name__ == '__main__':\n\
         \x20   ex = csp.InterpreterPoolExecutor(1)\n\
         \x20   futures = [ex.submit(work, i) for i in range(4)]\n\
         \x20   print('submitted', flush=True)\n",
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "submitted\ndone 0\ndone 1\ndone 2\ndone 3\n"
    );
}

/// Starts `code` as a script, waits for it to print `ready`, sends it SIGINT and returns its
/// exit status, its stderr, and how long it took to exit after the signal.
fn interrupt_script(name: &str, code: &str) -> (Option<i32>, String, std::time::Duration) {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    use std::time::Instant;

    let dir = std::env::temp_dir().join(format!("subinterp-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join(format!("{name}.py"));
    std::fs::write(&script, code).unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("run")
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec only async-signal-safe `signal` is called; it gives the
    // child the default SIGINT disposition even if this test runs with SIGINT ignored.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let sent = Instant::now();
    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let status = child.wait().unwrap();
    let took = sent.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr, took)
}

#[test]
fn ctrl_c_interrupts_a_script_waiting_on_a_pool() {
    let (code, stderr, took) = interrupt_script(
        "ctrlc",
        "import csp, sys\n\
         def spin(n):\n    while True: n += 1\n\
         if __name__ == '__main__':\n\
         \x20   with csp.Pool(2) as pool:\n\
         \x20       tasks = [pool.submit(spin, 0) for _ in range(4)]\n\
         \x20       print('ready', flush=True)\n\
         \x20       tasks[0].result()\n",
    );
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.trim_end().ends_with("KeyboardInterrupt"), "{stderr}");
    assert!(
        took < std::time::Duration::from_secs(20),
        "the running tasks were interrupted, not waited for"
    );
}

#[test]
fn ctrl_c_interrupts_a_script_blocked_on_a_channel() {
    let (code, stderr, took) = interrupt_script(
        "ctrlc-channel",
        "import csp\n\
         ch = csp.Channel()\n\
         print('ready', flush=True)\n\
         csp.select(ch, csp.Channel())\n",
    );
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.trim_end().ends_with("KeyboardInterrupt"), "{stderr}");
    // The parked wait is woken by the signal itself and exits promptly.
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
}

/// Regression: a daemon thread blocked in, or looping on, a csp call when the script ends
/// used to abort the process (SIGABRT: CPython ended the thread with `pthread_exit()`, whose
/// forced unwind cannot cross Rust's `extern "C"` entry points). It now exits 0, and the
/// thread simply never returns, as with stdlib primitives (patch 0018).
#[test]
fn daemon_threads_blocked_on_csp_at_exit_do_not_abort() {
    let code = "import csp, threading, time\n\
                ch = csp.Channel()\n\
                def poll():\n\
                \x20   while True:\n\
                \x20       try:\n\
                \x20           ch.recv(timeout=0.001)\n\
                \x20       except TimeoutError:\n\
                \x20           pass\n\
                def block():\n\
                \x20   ch.recv()\n\
                def select():\n\
                \x20   csp.select(ch, csp.Channel())\n\
                for target in (poll, poll, block, select):\n\
                \x20   threading.Thread(target=target, daemon=True).start()\n\
                class SlowTeardown:\n\
                \x20   def __del__(self, sleep=time.sleep):\n\
                \x20       sleep(0.05)  # hands the GIL to the daemon threads while finalizing\n\
                teardown = SlowTeardown()\n\
                time.sleep(0.05)\n\
                print('done')\n";
    for round in 0..5 {
        let out = run_code(&format!("daemon-exit-{round}"), code, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {:?}\n{}",
            out.status,
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), "done\n");
    }
}

/// Regression: after `os.fork()` the runtime was dead in the child (`csp.go` never ran) and a
/// child that exited normally hung joining threads that only exist in the parent. Now the
/// child gets a fresh runtime, objects from before the fork fail with a clear error, and both
/// processes exit promptly.
#[test]
fn a_forked_child_gets_a_fresh_runtime_and_exits() {
    let code = r#"
import csp, multiprocessing, os, sys, time, warnings
warnings.simplefilter("ignore", DeprecationWarning)

def square(x):
    return x * x

def echo(ch):
    ch.send(ch.recv() + 1)

def uses_csp(x):
    return csp.go(square, x).result(timeout=10)

if __name__ == "__main__":
    pool = csp.Pool(2)
    ch = csp.Channel()
    assert pool.map(square, range(4)) == [0, 1, 4, 9]
    running = csp.go(time.sleep, 0.3)
    waiting = csp.go(echo, ch)           # blocked on ch in the parent
    pid = os.fork()
    if pid == 0:
        assert csp.go(square, 5).result(timeout=10) == 25
        with csp.Pool(2) as fresh:
            assert fresh.map(square, range(3)) == [0, 1, 4]
        for stale in (lambda: pool.map(square, [1]), lambda: running.result(timeout=5)):
            try:
                stale()
            except RuntimeError as e:
                assert "before fork()" in str(e), e
            else:
                raise AssertionError("an object of the parent worked in the child")
        assert running.interrupt() is False
        ch2 = csp.Channel()
        csp.go(echo, ch2)
        ch2.send(41)
        assert ch2.recv(timeout=10) == 42
        print("child ok", flush=True)
        sys.exit(0)                       # exits with the parent's pool still referenced
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    ch.send(1)                            # the parent's go task still has its receiver
    assert ch.recv(timeout=10) == 2
    assert pool.map(square, range(3)) == [0, 1, 4]
    with multiprocessing.get_context("fork").Pool(2) as mp:
        assert mp.map(uses_csp, range(4)) == [0, 1, 4, 9]
    # Forks while the runtime's own threads (the warm stock refilling, go interpreters
    # starting and ending) hold their locks: a child never waits for a lock that a thread the
    # fork left behind holds.
    for i in range(30):
        csp.go(square, i)
        pid = os.fork()
        if pid == 0:
            code = 0 if csp.go(square, 3).result(timeout=20) == 9 else 1
            os._exit(code)
        deadline = time.monotonic() + 30
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                raise AssertionError(f"fork {i}: the child hung")
            time.sleep(0.01)
        assert os.waitstatus_to_exitcode(done[1]) == 0, (i, done)
    pool.close()
    print("parent ok", flush=True)
"#;
    let out = run_code("fork-child", code, &[]);
    assert!(
        out.status.success(),
        "{:?}\n{}",
        out.status,
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "child ok\nparent ok\n");
}

/// Regression: worker interpreters whose tasks touched `threading` (from threads Python did
/// not start) printed `Exception ignored in: <function _DeleteDummyThreadOnDel.__del__ ...>`
/// when they were destroyed.
#[test]
fn workers_that_touched_threading_end_quietly() {
    let code = "import concurrent.futures, csp, threading\n\
                def touch(x):\n\
                \x20   t = threading.current_thread()\n\
                \x20   threading.local()\n\
                \x20   return (t.name, x * 2)\n\
                if __name__ == '__main__':\n\
                \x20   with csp.InterpreterPoolExecutor(2) as ex:\n\
                \x20       print([r[1] for r in ex.map(touch, range(8))])\n\
                \x20   with csp.Pool(2) as pool:\n\
                \x20       print([r[1] for r in pool.map(touch, range(4))])\n\
                \x20   print(csp.go(touch, 5).result()[1])\n";
    let out = run_code("dummy-threads", code, &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        text(&out.stdout),
        "[0, 2, 4, 6, 8, 10, 12, 14]\n[0, 2, 4, 6]\n10\n"
    );
    assert!(!stderr.contains("Exception ignored"), "{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
}

/// A script run by `subinterp run` that also uses multiprocessing's spawn start method: the
/// children run the built `python3` (`sys.executable`) and import csp from its extension
/// module (installed by `cargo xtask build-python`), as the parent does from the command.
#[test]
fn spawn_children_of_a_subinterp_script_can_import_csp() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/python/csp_with_spawn_children.py");
    let out = run(&script, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "[0, 1, 4, 9] {'a': 1}\n[0, 1, 4, 9]\n81\n"
    );
}

/// `subinterp run` in an activated venv (`VIRTUAL_ENV`) runs the script in that venv, as the
/// venv's `python` would: its packages import in the main interpreter and in workers.
#[test]
fn run_honours_an_activated_venv() {
    let prefix = run_code("prefix", "import sys\nprint(sys.prefix)", &[]);
    let prefix = text(&prefix.stdout).trim().to_owned();
    let venv = std::env::temp_dir().join(format!("subinterp-cli-{}-venv", std::process::id()));
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new(Path::new(&prefix).join("bin/python3"))
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .expect("python starts");
    assert!(made.success());
    std::fs::write(
        venv.join("lib/python3.13/site-packages/only_in_the_venv.py"),
        "VALUE = 'from the venv'\n",
    )
    .unwrap();
    let dir =
        std::env::temp_dir().join(format!("subinterp-cli-{}-venv-script", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("venv_script.py");
    std::fs::write(
        &script,
        "import sys, csp\n\
         def get():\n\
         \x20   import only_in_the_venv\n\
         \x20   return only_in_the_venv.VALUE\n\
         if __name__ == '__main__':\n\
         \x20   print(sys.prefix == sys.argv[1], csp.go(get).result(timeout=30))\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("run")
        .arg(&script)
        .arg(&venv)
        .env("VIRTUAL_ENV", &venv)
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .output()
        .expect("subinterp starts");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "True from the venv\n");
}

/// Interpreters the stdlib's `_interpreters` creates inside a script run by `subinterp run`
/// have the script's directory first on `sys.path`, as under `python SCRIPT` (CPython's
/// `PyConfig.sys_path_0`), so modules beside the script import there; once, not twice.
#[test]
fn stdlib_interpreters_see_the_script_directory() {
    let out = run_code(
        "sys_path_0",
        "import _interpreters, os, sys\n\
         here = os.path.dirname(os.path.realpath(__file__))\n\
         with open(os.path.join(here, 'beside_the_script.py'), 'w') as f:\n\
         \x20   f.write('VALUE = 42\\n')\n\
         for kind in ('isolated', 'legacy'):\n\
         \x20   interp = _interpreters.create(kind)\n\
         \x20   code = ('import sys, beside_the_script\\n'\n\
         \x20           f'assert sys.path[0] == {here!r}, sys.path\\n'\n\
         \x20           f'assert sys.path.count({here!r}) == 1, sys.path\\n'\n\
         \x20           'assert beside_the_script.VALUE == 42\\n')\n\
         \x20   err = _interpreters.run_string(interp, code)\n\
         \x20   _interpreters.destroy(interp)\n\
         \x20   print(kind, err)\n\
         print(sys.path.count(here))\n",
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "isolated None\nlegacy None\n1\n");
}
