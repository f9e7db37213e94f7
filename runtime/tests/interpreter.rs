//! `Interpreter`: every operation, and bad input that must give a clear error and leave the
//! interpreter usable.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Rendezvous, runtime};
use subinterp::{
    Channel, Error, Interpreter, InterpreterConfig, InterpreterInfo, InterpreterState, Pool,
    PoolConfig, Value,
};

fn interp() -> Interpreter {
    Interpreter::new(runtime()).expect("an interpreter starts")
}

#[test]
fn exec_eval_and_state_persisting_between_calls() {
    let i = interp();
    i.exec("x = 20\ndef double(v):\n    return v * 2").unwrap();
    assert_eq!(i.eval("double(x) + 2").unwrap(), Value::from(42));
    assert_eq!(i.eval("__name__").unwrap(), Value::from("__main__"));
    assert!(i.id() > 0, "a subinterpreter, not the main one");
    assert_eq!(
        i.eval("__import__('csp').current_interpreter()").unwrap(),
        Value::from(i.id())
    );
}

#[test]
fn text_is_utf8_without_importing_codecs_at_start() {
    // An isolated runtime reads no locale: UTF-8 mode keeps it off ASCII, and lets a new
    // interpreter make its standard streams without the encodings package (patch 0008).
    let i = interp();
    assert_eq!(
        i.eval("'encodings' in __import__('sys').modules").unwrap(),
        Value::from(false)
    );
    let sys = "__import__('sys')";
    assert_eq!(
        i.eval(&format!(
            "({sys}.stdout.encoding, {sys}.getfilesystemencoding())"
        ))
        .unwrap(),
        Value::Tuple(vec![Value::from("utf-8"), Value::from("utf-8")])
    );
    assert_eq!(
        i.eval("'ünïcödé ✓'.encode().decode()").unwrap(),
        Value::from("ünïcödé ✓")
    );
}

#[test]
fn call_imports_the_module_and_walks_the_qualified_name() {
    let i = interp();
    assert_eq!(
        i.call("math:factorial", vec![5.into()]).unwrap(),
        Value::from(120)
    );
    assert_eq!(
        i.call("builtins:str.upper", vec!["abc".into()]).unwrap(),
        Value::from("ABC")
    );
    i.exec("class K:\n    @staticmethod\n    def twice(s): return s * 2")
        .unwrap();
    assert_eq!(
        i.call("__main__:K.twice", vec!["ab".into()]).unwrap(),
        Value::from("abab")
    );
}

#[test]
fn call_with_a_malformed_target_is_a_clear_error() {
    let i = interp();
    for target in ["math.factorial", ":f", "math:", "m:a..b"] {
        let err = i.call(target, vec![]).unwrap_err();
        assert!(matches!(err, Error::InvalidTarget(_)), "{target}: {err:?}");
        assert!(err.to_string().contains("module:function"), "{err}");
    }
    let err = i.call("no_such_module_xyz:f", vec![]).unwrap_err();
    assert!(err.is_python("ModuleNotFoundError"), "{err:?}");
    let err = i.call("math:no_such_function", vec![]).unwrap_err();
    assert!(err.is_python("AttributeError"), "{err:?}");
}

#[test]
fn submitted_jobs_run_in_order_and_return_handles() {
    let i = interp();
    let tasks: Vec<_> = (0..10)
        .map(|n| i.submit_exec(&format!("order = globals().get('order', ()) + ({n},)")))
        .collect();
    let last = i.submit_eval("order");
    for task in tasks {
        task.wait().unwrap();
    }
    let expected = Value::Tuple((0..10).map(Value::from).collect());
    assert_eq!(last.wait().unwrap(), expected);
    let call = i.submit_call("operator:add", vec![1.into(), 2.into()]);
    assert_eq!(call.wait().unwrap(), Value::from(3));
}

#[test]
fn with_python_gives_a_token_for_objects() {
    let i = interp();
    let text = i
        .with_python(|py| {
            let list = py.eval("[3, 1, 2]")?;
            list.getattr("sort")?.call(&[])?;
            list.repr()
        })
        .unwrap();
    assert_eq!(text, "[3, 1, 2]".replace("3, 1, 2", "1, 2, 3"));
}

#[test]
fn an_exception_keeps_its_type_message_and_traceback() {
    let i = interp();
    i.exec("def inner():\n    raise KeyError('missing')\ndef outer():\n    inner()")
        .unwrap();
    let err = i.exec("outer()").unwrap_err();
    let exc = err.python().expect("a Python exception");
    assert_eq!(exc.type_name(), "KeyError");
    assert_eq!(exc.message(), "'missing'");
    let tb = exc.traceback();
    assert!(tb.starts_with("Traceback (most recent call last):"), "{tb}");
    assert!(
        tb.contains("line 4, in outer") && tb.contains("line 2, in inner"),
        "{tb}"
    );
    assert!(tb.trim_end().ends_with("KeyError: 'missing'"), "{tb}");
    assert_eq!(err.to_string(), tb.trim_end());

    // Exceptions from modules are named with their module (builtins and __main__ are not).
    let err = i.exec("import json\njson.loads('{')").unwrap_err();
    assert_eq!(
        err.python().unwrap().type_name(),
        "json.decoder.JSONDecodeError"
    );
    i.exec("class Oops(Exception): pass").unwrap();
    let err = i.exec("raise Oops('x')").unwrap_err();
    assert_eq!(err.python().unwrap().type_name(), "Oops");
    assert_eq!(i.eval("1 + 1").unwrap(), Value::from(2), "still usable");
}

#[test]
fn a_syntax_error_points_at_the_line() {
    let i = interp();
    let err = i.exec("a = 1\nb = (2 +\nc = 3\n").unwrap_err();
    let exc = err.python().unwrap();
    assert_eq!(exc.type_name(), "SyntaxError");
    assert_eq!(exc.lineno(), Some(2));
    assert!(exc.traceback().contains("line 2"), "{}", exc.traceback());
    assert!(exc.traceback().contains("b = (2 +"), "{}", exc.traceback());

    let err = i.exec("x = = 1").unwrap_err();
    assert_eq!(err.python().unwrap().lineno(), Some(1));
    assert!(
        err.to_string().contains('^'),
        "a caret under the error: {err}"
    );
    assert!(i.eval("1 +").unwrap_err().is_python("SyntaxError"));
    assert_eq!(i.eval("'ok'").unwrap(), Value::from("ok"));
}

#[test]
fn a_non_shareable_result_is_a_type_error_naming_the_type() {
    let i = interp();
    for (expr, type_name) in [
        ("[1, 2]", "list"),
        ("{'a': 1}", "dict"),
        ("object()", "object"),
        ("(1, [2])", "list"),
        ("frozenset({(1, range(2))})", "range"),
    ] {
        let err = i.eval(expr).unwrap_err();
        let exc = err.python().unwrap_or_else(|| panic!("{expr}: {err:?}"));
        assert_eq!(exc.type_name(), "TypeError", "{expr}");
        assert!(
            exc.message()
                .starts_with(&format!("{type_name} is not shareable")),
            "{expr}: {}",
            exc.message()
        );
    }
    i.exec("class MyInt(int): pass").unwrap();
    let err = i.eval("MyInt(3)").unwrap_err();
    assert!(
        err.python()
            .unwrap()
            .message()
            .starts_with("MyInt is not shareable"),
        "subclasses are refused: {err}"
    );
    // A non-shareable argument is refused inside the interpreter as well.
    let err = i.call("builtins:len", vec![]).unwrap_err();
    assert!(err.is_python("TypeError"));
    assert_eq!(i.eval("2 * 21").unwrap(), Value::from(42));
}

#[test]
fn sys_exit_is_an_error_not_an_exit() {
    let i = interp();
    let err = i.exec("import sys\nsys.exit(3)").unwrap_err();
    let exc = err.python().unwrap();
    assert_eq!(exc.type_name(), "SystemExit");
    assert_eq!(exc.message(), "3");
    assert_eq!(i.eval("'alive'").unwrap(), Value::from("alive"));
}

#[test]
fn a_timeout_stops_an_infinite_loop_and_the_interpreter_stays_usable() {
    let i = interp();
    let started = Instant::now();
    let err = i
        .submit_exec("n = 0\nwhile True:\n    n += 1")
        .wait_timeout(Duration::from_millis(200))
        .unwrap_err();
    assert_eq!(err, Error::Timeout(Duration::from_millis(200)));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(i.eval("n").unwrap().as_i64().unwrap() > 0, "the loop ran");
    assert_eq!(i.eval("'usable'").unwrap(), Value::from("usable"));

    // A loop that swallows the interrupt is interrupted again until it stops.
    let code = "stops = 0\nwhile stops < 3:\n    try:\n        while True: pass\n    except KeyboardInterrupt:\n        stops += 1";
    let result = i.submit_exec(code).wait_timeout(Duration::from_millis(100));
    assert_eq!(result, Ok(()), "it ended by itself after three interrupts");
    assert_eq!(i.eval("stops").unwrap(), Value::from(3));

    // A job that finishes in time returns its value; a queued one that times out never runs.
    assert_eq!(
        i.submit_eval("1")
            .wait_timeout(Duration::from_secs(10))
            .unwrap(),
        Value::from(1)
    );
    let blocker = i.submit_exec("import time\ntime.sleep(0.5)");
    let queued = i.submit_exec("never = True");
    assert_eq!(
        queued.wait_timeout(Duration::from_millis(50)),
        Err(Error::Timeout(Duration::from_millis(50)))
    );
    blocker.wait().unwrap();
    assert!(i.eval("never").unwrap_err().is_python("NameError"));
}

#[test]
fn interrupt_stops_the_running_job() {
    let i = interp();
    assert!(!i.interrupt(), "nothing to interrupt");
    let task = i.submit_exec("while True: pass");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !task.interrupt() {
        assert!(Instant::now() < deadline, "the job never started");
        std::thread::yield_now();
    }
    assert_eq!(task.wait(), Err(Error::Interrupted));
    assert_eq!(i.eval("'after'").unwrap(), Value::from("after"));

    let task = i.submit_exec("while True: pass");
    while !i.interrupt() {
        std::thread::yield_now();
    }
    assert_eq!(task.wait(), Err(Error::Interrupted));
    // A late interrupt does not leak into the next job.
    for _ in 0..20 {
        assert_eq!(i.eval("sum(range(1000))").unwrap(), Value::from(499500));
    }
}

#[test]
fn interrupts_and_timeouts_end_a_job_blocked_on_a_channel() {
    let i = interp();
    let ch = Channel::new(0);
    i.exec("import csp").unwrap();
    i.with_python({
        let ch = ch.clone();
        move |py| {
            let main = py.main_module()?;
            main.setattr("ch", &py.object(&ch.into())?)
        }
    })
    .unwrap();
    // Parked in recv, running no bytecode: the interrupt wakes it.
    let task = i.submit_eval("ch.recv()");
    std::thread::sleep(Duration::from_millis(100));
    assert!(i.interrupt());
    assert_eq!(task.wait(), Err(Error::Interrupted));
    // A timeout does the same, and the interpreter (and the channel) still work afterwards.
    let started = Instant::now();
    let err = i
        .submit_eval("csp.select(ch, csp.Channel())")
        .wait_timeout(Duration::from_millis(100));
    assert_eq!(err, Err(Error::Timeout(Duration::from_millis(100))));
    assert!(started.elapsed() < Duration::from_secs(10));
    let sender = std::thread::spawn(move || ch.send("after"));
    assert_eq!(i.eval("ch.recv()").unwrap(), Value::from("after"));
    sender.join().unwrap().unwrap();
}

#[test]
fn a_panic_in_a_job_fails_only_that_job() {
    let i = interp();
    let err = i
        .with_python(|_py| -> subinterp::Result<()> { panic!("job went wrong") })
        .unwrap_err();
    assert_eq!(err, Error::Panic("job went wrong".into()));
    assert_eq!(i.eval("7").unwrap(), Value::from(7));
}

#[test]
fn a_panic_in_rust_called_from_python_becomes_a_python_exception() {
    let i = interp();
    let caught = i
        .with_python(|py| {
            let explode = py.function("explode", |_py, args| {
                if args.is_empty() {
                    panic!("kaboom");
                }
                Ok(Value::Tuple(args))
            })?;
            py.main_module()?.setattr("explode", &explode)?;
            py.exec(
                "try:\n    explode()\nexcept RuntimeError as e:\n    caught = str(e)\nechoed = explode(1, 'a')",
            )?;
            Ok(())
        })
        .map(|()| i.eval("caught, echoed").unwrap())
        .unwrap();
    let caught_text = caught.as_tuple().unwrap()[0].as_str().unwrap().to_owned();
    assert!(caught_text.contains("kaboom"), "{caught_text}");
    assert_eq!(
        caught.as_tuple().unwrap()[1],
        Value::Tuple(vec![1.into(), "a".into()])
    );
}

#[test]
fn waiting_for_a_task_of_the_same_interpreter_is_a_deadlock_error() {
    let i = Arc::new(interp());
    let inner = Arc::clone(&i);
    let err = i.with_python(move |_py| inner.eval("1")).unwrap_err();
    assert!(matches!(err, Error::Deadlock(_)), "{err:?}");
    assert_eq!(i.eval("2").unwrap(), Value::from(2));
}

#[test]
fn interpreters_run_in_parallel_each_holding_its_own_gil() {
    // Two interpreters meet while attached: with a shared GIL the second could
    // never get there.
    let rendezvous = Arc::new(Rendezvous::default());
    let interps: Vec<_> = (0..2).map(|_| interp()).collect();
    let tasks: Vec<_> = interps
        .iter()
        .map(|i| {
            let rendezvous = Arc::clone(&rendezvous);
            i.submit(move |py| {
                // Busy Python work first, then the rendezvous without detaching.
                py.exec("sum(range(10000))")?;
                assert!(
                    rendezvous.wait(2, Duration::from_secs(20)),
                    "the other interpreter never got there: a shared GIL?"
                );
                Ok(py.interpreter_id())
            })
        })
        .collect();
    let ids: Vec<i64> = tasks
        .into_iter()
        .map(|t| t.wait_timeout(Duration::from_secs(30)).unwrap())
        .collect();
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn serial_mode_refuses_threads() {
    let config = InterpreterConfig::default().serial(true);
    let i = Interpreter::with_config(runtime(), config).unwrap();
    let err = i
        .exec("import threading\nthreading.Thread(target=print).start()")
        .unwrap_err();
    assert!(err.is_python("RuntimeError"), "{err:?}");
    let message = err.python().unwrap().message();
    assert!(
        message.starts_with(&format!(
            "starting a thread is refused in interpreter {} 'interpreter': it runs in serial \
             mode (serial=True)",
            i.id()
        )),
        "{message}"
    );
    assert_eq!(i.eval("'fine'").unwrap(), Value::from("fine"));
    let err = i
        .exec("import os\nos.execv('/bin/sh', ['sh', '-c', 'exit 97'])")
        .unwrap_err();
    assert!(err.to_string().contains("serial mode"), "{err}");

    // The default allows them.
    let i = interp();
    i.exec("import threading\nt = threading.Thread(target=lambda: None)\nt.start()\nt.join()")
        .unwrap();
    // ... but never fork.
    let err = i.exec("import os\nos.fork()").unwrap_err();
    assert!(err.is_python("RuntimeError"), "{err:?}");
}

#[test]
fn tasks_outlive_a_dropped_interpreter_with_a_clear_result() {
    let i = interp();
    let task = i.submit_eval("sum(range(100))");
    drop(i); // Runs the queued job, then destroys the interpreter.
    assert_eq!(task.wait().unwrap(), Value::from(4950));
}

#[test]
fn dropping_an_interpreter_ends_it() {
    let i = interp();
    assert!(runtime().live_interpreters() >= 1);
    let id = i.id();
    drop(i);
    let other = interp();
    assert_ne!(other.id(), id, "ids are not reused");
}

/// The listing's entry for interpreter `id`.
fn listed(id: i64) -> Option<InterpreterInfo> {
    runtime()
        .interpreters()
        .into_iter()
        .find(|info| info.id == id)
}

/// The names of this process's threads, as the OS shows them.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

#[test]
fn interpreters_are_listed_with_their_names_and_what_they_run() {
    let config = InterpreterConfig::default().name("listing-test-interpreter");
    let i = Interpreter::with_config(runtime(), config).unwrap();
    assert_eq!(i.name(), "listing-test-interpreter");
    let info = listed(i.id()).expect("listed");
    assert_eq!(
        (info.name.as_str(), &info.state, info.serial),
        ("listing-test-interpreter", &InterpreterState::Idle, false)
    );
    // The OS thread carries the first 15 bytes of the name.
    assert!(thread_names().contains(&"listing-test-in".to_owned()));
    assert_eq!(
        i.eval("__import__('csp').current_interpreter_name()")
            .unwrap(),
        Value::from("listing-test-interpreter")
    );

    let gate = Channel::new(0);
    let started = Instant::now();
    let task = i.submit_call("builtins:next", vec![gate.clone().into()]);
    let running = InterpreterState::Running {
        task: Some("builtins:next".into()),
    };
    let reaches = |state: &InterpreterState| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while listed(i.id()).unwrap().state != *state {
            assert!(Instant::now() < deadline, "{:?}", listed(i.id()));
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    reaches(&running);
    assert!(listed(i.id()).unwrap().since >= started);
    gate.send(1).unwrap();
    assert_eq!(task.wait().unwrap(), Value::from(1));
    // It is idle again once the job has handed its result over.
    reaches(&InterpreterState::Idle);

    let id = i.id();
    drop(i);
    assert!(
        listed(id).is_none(),
        "a destroyed interpreter leaves the listing"
    );

    let serial =
        Interpreter::with_config(runtime(), InterpreterConfig::default().serial(true)).unwrap();
    let info = listed(serial.id()).unwrap();
    assert!(info.serial);
    assert_eq!(info.name, "interpreter");
}

#[test]
fn pool_workers_are_numbered() {
    let pool = Pool::new(runtime(), 2).unwrap();
    let mut names: Vec<String> = pool
        .interpreter_ids()
        .into_iter()
        .map(|id| listed(id).unwrap().name)
        .collect();
    names.sort();
    assert_eq!(names, ["pool-0", "pool-1"]);
    let pool = Pool::with_config(
        runtime(),
        PoolConfig::default().workers(1).name_prefix("db-"),
    )
    .unwrap();
    let id = pool.interpreter_ids()[0];
    assert_eq!(listed(id).unwrap().name, "db-0");
    assert!(thread_names().contains(&"db-0".to_owned()));
}

#[test]
fn errors_name_the_interpreter_that_raised_them() {
    let i =
        Interpreter::with_config(runtime(), InterpreterConfig::default().name("raiser")).unwrap();
    let err = i.exec("raise ValueError('no')").unwrap_err();
    assert_eq!(
        err.python().unwrap().interpreter(),
        Some((i.id(), "raiser"))
    );
    // Raised again in another interpreter, the error's note names the first one.
    let other = interp();
    let err = other
        .with_python(move |py| {
            py.import("builtins")?;
            Err::<(), _>(err)
        })
        .unwrap_err();
    assert_eq!(
        err.python().unwrap().interpreter(),
        Some((i.id(), "raiser"))
    );
    let pool = Pool::with_config(
        runtime(),
        PoolConfig::default().workers(1).name_prefix("p-"),
    )
    .unwrap();
    let note = pool
        .submit_with(|py| {
            py.exec(
                "import csp\n\
                 try:\n\
                 \x20   csp.go(int, 'x').result()\n\
                 except ValueError as e:\n\
                 \x20   raise RuntimeError(e.__notes__[0])",
            )
        })
        .wait()
        .unwrap_err();
    let exc = note.python().unwrap();
    assert!(exc.interpreter().unwrap().1 == "p-0", "{exc:?}");
    assert!(
        exc.message().contains("Traceback in interpreter ") && exc.message().contains("'go:int':"),
        "{}",
        exc.message()
    );
}
