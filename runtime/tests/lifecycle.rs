//! The runtime's whole life in one process: use before init, init on the main thread, a second
//! init, the main interpreter (and from the wrong thread), shutdown refused while interpreters
//! live, shutdown, and use after shutdown.
//!
//! This binary has its own harness (`harness = false` in Cargo.toml): CPython is initialised
//! once per process, these steps depend on each other in order, and `Runtime::init` must run
//! on the process's real main thread (libtest runs tests on other threads). It prints
//! libtest-style lines and exits non-zero on a failure.

use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use subinterp::{Error, Interpreter, Runtime, RuntimeConfig, Value};

/// Runs the steps in order, stopping at the first failure (later steps depend on it).
struct Steps {
    passed: usize,
    failed: usize,
    started: Instant,
}

impl Steps {
    fn step(&mut self, name: &str, f: impl FnOnce()) {
        if self.failed > 0 {
            return;
        }
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => {
                println!("test {name} ... ok");
                self.passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                self.failed += 1;
            }
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("lifecycle: test");
        return;
    }
    println!("\nrunning the lifecycle steps");
    let mut steps = Steps {
        passed: 0,
        failed: 0,
        started: Instant::now(),
    };

    steps.step("use_before_init_is_not_initialized", || {
        assert_eq!(Runtime::current().unwrap_err(), Error::NotInitialized);
    });

    let config = RuntimeConfig::default().argv(["prog", "arg"]);
    let runtime = Runtime::init(config).expect("CPython starts");

    steps.step("a_second_init_is_already_initialized", || {
        let err = Runtime::init(RuntimeConfig::default()).unwrap_err();
        assert_eq!(err, Error::AlreadyInitialized);
        assert!(err.to_string().contains("once per process"), "{err}");
        assert!(Runtime::current().is_ok());
    });

    steps.step("the_main_interpreter_runs_on_the_main_thread", || {
        assert!(runtime.is_main_thread());
        let (id, argv) = runtime
            .with_main(|py| -> subinterp::Result<_> {
                py.exec("import sys, csp\nanswer = 6 * 7")?;
                let id = py.eval("csp.current_interpreter()")?.to_value()?;
                let argv = py.eval("tuple(sys.argv)")?.to_value()?;
                Ok((id, argv))
            })
            .unwrap()
            .unwrap();
        assert_eq!(id, Value::from(0));
        assert_eq!(argv, Value::Tuple(vec!["prog".into(), "arg".into()]));
        // State persists, and a nested call reuses the attachment.
        let nested = runtime
            .with_main(|_py| runtime.with_main(|py| py.eval("answer")?.to_value()))
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(nested, Value::from(42));
    });

    steps.step(
        "the_main_interpreter_from_another_thread_is_wrong_thread",
        || {
            let other = runtime.clone();
            let err = std::thread::spawn(move || other.with_main(|_py| ()).unwrap_err())
                .join()
                .unwrap();
            assert!(matches!(err, Error::WrongThread(_)), "{err:?}");
            assert!(
                err.to_string().contains("Interpreter"),
                "names the fix: {err}"
            );
            let other = runtime.clone();
            let err = std::thread::spawn(move || other.shutdown().unwrap_err())
                .join()
                .unwrap();
            assert!(matches!(err, Error::WrongThread(_)), "{err:?}");
        },
    );

    steps.step("subinterpreters_run_beside_the_main_one", || {
        let interp = Interpreter::new(&runtime).unwrap();
        assert_eq!(interp.eval("6 * 7").unwrap(), Value::from(42));
        assert!(interp.id() > 0);
    });

    steps.step("shutdown_is_refused_while_an_interpreter_lives", || {
        let interp = Interpreter::new(&runtime).unwrap();
        assert_eq!(runtime.shutdown(), Err(Error::InterpretersAlive(1)));
        // Still usable.
        assert_eq!(interp.eval("1").unwrap(), Value::from(1));
        let err = runtime
            .with_main(|_py| runtime.shutdown())
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, Error::WrongThread(_)), "{err:?}");
        drop(interp);
    });

    steps.step("pools_made_from_python_are_closed_by_shutdown", || {
        runtime
            .with_main(|py| {
                py.exec(
                    "import csp\n\
                     kept_open = csp.Pool(2)\n\
                     assert kept_open.submit(abs, -2).result() == 2\n\
                     assert csp.map(abs, [-1]) == [1]",
                )
            })
            .unwrap()
            .unwrap();
        assert!(runtime.live_interpreters() >= 2);
    });

    steps.step("shutdown_finalizes", || {
        runtime.shutdown().unwrap();
        assert_eq!(runtime.live_interpreters(), 0);
    });

    steps.step("use_after_shutdown_is_a_clear_error", || {
        assert_eq!(Interpreter::new(&runtime).unwrap_err(), Error::ShutDown);
        assert_eq!(runtime.with_main(|_py| ()).unwrap_err(), Error::ShutDown);
        assert_eq!(runtime.shutdown().unwrap_err(), Error::ShutDown);
        assert_eq!(Runtime::current().unwrap_err(), Error::ShutDown);
        let err = Runtime::init(RuntimeConfig::default()).unwrap_err();
        assert_eq!(err, Error::AlreadyInitialized);
        assert!(Error::ShutDown.to_string().contains("cannot be used again"));
    });

    let status = if steps.failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {status}. {} passed; {} failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        steps.passed,
        steps.failed,
        steps.started.elapsed().as_secs_f64()
    );
    std::process::exit(if steps.failed == 0 { 0 } else { 101 });
}
