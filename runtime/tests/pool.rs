//! `Pool` from Rust, and the `csp` module's pools from Python.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Rendezvous, runtime};
use subinterp::{Error, Interpreter, Pool, PoolConfig, Value};

#[test]
fn submit_and_map_preserving_order() {
    let pool = Pool::new(runtime(), 3).unwrap();
    assert_eq!(pool.workers(), 3);
    let ids = pool.interpreter_ids();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|&id| id > 0));

    let task = pool.submit("math:gcd", vec![12.into(), 18.into()]);
    assert_eq!(task.wait().unwrap(), Value::from(6));

    let results = pool
        .map("operator:mul", (0..50i64).map(|i| vec![i.into(), i.into()]))
        .unwrap();
    let expected: Vec<Value> = (0..50i64).map(|i| Value::from(i * i)).collect();
    assert_eq!(results, expected);
}

#[test]
fn the_default_size_is_the_number_of_cores() {
    let pool = Pool::new(runtime(), 0).unwrap();
    assert_eq!(pool.workers(), subinterp::default_workers());
}

#[test]
fn a_failing_task_does_not_kill_its_worker() {
    let pool = Pool::new(runtime(), 1).unwrap();
    let err = pool
        .submit("math:sqrt", vec![(-1).into()])
        .wait()
        .unwrap_err();
    assert!(err.is_python("ValueError"), "{err:?}");
    let err = pool
        .submit_with(|_py| -> subinterp::Result<()> { panic!("worker job panicked") })
        .wait()
        .unwrap_err();
    assert_eq!(err, Error::Panic("worker job panicked".into()));
    let err = pool
        .submit("builtins:exit", vec![2.into()])
        .wait()
        .unwrap_err();
    assert!(err.is_python("SystemExit"), "{err:?}");
    // The same single worker still serves.
    assert_eq!(
        pool.submit("math:sqrt", vec![Value::Float(4.0)])
            .wait()
            .unwrap(),
        Value::Float(2.0)
    );
    let err = pool
        .map("math:sqrt", [vec![1.into()], vec![(-1).into()]])
        .unwrap_err();
    assert!(err.is_python("ValueError"));
    assert!(matches!(
        pool.map("nocolon", [vec![]]),
        Err(Error::InvalidTarget(_))
    ));
}

#[test]
fn setup_runs_once_per_worker() {
    let config = PoolConfig::default().workers(2).setup(
        "import itertools\nCOUNTER = itertools.count()\ndef next_count(): return next(COUNTER)"
            .to_owned(),
    );
    let pool = Pool::with_config(runtime(), config).unwrap();
    let results = pool
        .map("__main__:next_count", (0..4).map(|_| vec![]))
        .unwrap();
    // Each worker counts from 0 on its own; 4 tasks over 2 workers see at most 0..=3.
    assert!(
        results
            .iter()
            .all(|v| (0..4).contains(&v.as_i64().unwrap()))
    );
    assert!(results.contains(&Value::from(0)));

    let config = PoolConfig::default()
        .workers(2)
        .setup("raise ImportError('no numpy here')".to_owned());
    let err = Pool::with_config(runtime(), config).unwrap_err();
    assert!(err.is_python("ImportError"), "{err:?}");
}

#[test]
fn a_closed_pool_refuses_tasks_with_a_clear_error() {
    let pool = Pool::new(runtime(), 1).unwrap();
    let queued = pool.submit("builtins:sum", vec![Value::Tuple(vec![1.into(), 2.into()])]);
    pool.close();
    assert!(pool.is_closed());
    assert_eq!(
        queued.wait().unwrap(),
        Value::from(3),
        "queued tasks finish"
    );
    let err = pool
        .submit("builtins:abs", vec![1.into()])
        .wait()
        .unwrap_err();
    assert_eq!(err, Error::Closed("pool"));
    assert!(err.to_string().contains("create a new one"));
    pool.close(); // Idempotent.
}

#[test]
fn a_task_timeout_interrupts_its_worker() {
    let pool = Pool::new(runtime(), 1).unwrap();
    let task = pool.submit_with(|py| py.exec("while True: pass"));
    assert_eq!(
        task.wait_timeout(Duration::from_millis(200)),
        Err(Error::Timeout(Duration::from_millis(200)))
    );
    assert_eq!(
        pool.submit("builtins:abs", vec![(-5).into()])
            .wait()
            .unwrap(),
        Value::from(5)
    );
}

#[test]
fn workers_run_in_parallel() {
    // Both workers meet while attached to their interpreters.
    let pool = Pool::new(runtime(), 2).unwrap();
    let rendezvous = Arc::new(Rendezvous::default());
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let rendezvous = Arc::clone(&rendezvous);
            pool.submit_with(move |py| {
                assert!(
                    rendezvous.wait(2, Duration::from_secs(20)),
                    "no parallel workers"
                );
                Ok(py.interpreter_id())
            })
        })
        .collect();
    let ids: Vec<_> = tasks
        .into_iter()
        .map(|t| t.wait_timeout(Duration::from_secs(30)).unwrap())
        .collect();
    assert_ne!(ids[0], ids[1]);
}

/// Runs Python code in a fresh interpreter and returns the value of `result` afterwards.
fn python(code: &str) -> Value {
    let i = Interpreter::new(runtime()).unwrap();
    i.exec(code).unwrap_or_else(|e| panic!("{e}"));
    i.eval("result").unwrap()
}

#[test]
fn csp_pool_from_python() {
    let result = python(
        "import csp, math, operator\n\
         with csp.Pool(2) as pool:\n\
         \x20   assert pool.workers == 2\n\
         \x20   squares = pool.map(math.factorial, range(10))\n\
         \x20   product = pool.submit(operator.mul, 6, 7).result()\n\
         \x20   pairs = pool.starmap(operator.add, [(1, 2), (3, 4)])\n\
         \x20   by_name = pool.submit('math:gcd', 12, 8).result(timeout=30)\n\
         result = (tuple(squares), product, tuple(pairs), by_name, csp.current_interpreter() > 0)",
    );
    let factorials: Vec<Value> = [1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880]
        .into_iter()
        .map(Value::from)
        .collect();
    assert_eq!(
        result,
        Value::Tuple(vec![
            Value::Tuple(factorials),
            42.into(),
            Value::Tuple(vec![3.into(), 7.into()]),
            4.into(),
            true.into(),
        ])
    );
}

#[test]
fn csp_remote_exceptions_are_reraised_with_the_remote_traceback() {
    let result = python(
        "import csp, json\n\
         with csp.Pool(1) as pool:\n\
         \x20   try:\n\
         \x20       pool.submit(json.loads, '{').result()\n\
         \x20   except RuntimeError as e:\n\
         \x20       custom = (str(e), '\\n'.join(e.__notes__))\n\
         \x20   try:\n\
         \x20       pool.submit(int, 'x').result()\n\
         \x20   except ValueError as e:\n\
         \x20       builtin = str(e)\n\
         \x20   try:\n\
         \x20       pool.submit(list, ()).result()\n\
         \x20   except TypeError as e:\n\
         \x20       unshareable = str(e)\n\
         \x20   try:\n\
         \x20       pool.submit(len, [1])\n\
         \x20   except TypeError as e:\n\
         \x20       bad_arg = str(e)\n\
         \x20   try:\n\
         \x20       pool.submit(lambda: 1)\n\
         \x20   except TypeError as e:\n\
         \x20       lam = str(e)\n\
         \x20   still = pool.submit(abs, -1).result()\n\
         result = (custom[0], custom[1], builtin, unshareable, bad_arg, lam, still)",
    );
    let parts: Vec<&str> = result.as_tuple().unwrap()[..6]
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        parts[0].starts_with("json.decoder.JSONDecodeError: Expecting"),
        "{}",
        parts[0]
    );
    assert!(
        parts[1].contains("Traceback in interpreter ") && parts[1].contains(" 'pool-0':\n"),
        "{}",
        parts[1]
    );
    assert!(parts[1].contains("json/decoder.py"), "{}", parts[1]);
    assert!(
        parts[2].contains("invalid literal for int()"),
        "{}",
        parts[2]
    );
    assert!(
        parts[3].starts_with("list is not shareable"),
        "{}",
        parts[3]
    );
    assert!(
        parts[4].starts_with("list is not shareable"),
        "{}",
        parts[4]
    );
    assert!(
        parts[5].contains("lambdas and nested functions"),
        "{}",
        parts[5]
    );
    assert_eq!(result.as_tuple().unwrap()[6], Value::from(1));
}

#[test]
fn csp_map_uses_the_shared_pool_or_a_sized_one() {
    let result = python(
        "import csp\n\
         a = csp.map(abs, [-1, -2, -3])\n\
         b = csp.map(abs, range(-3, 0), workers=2)\n\
         result = (tuple(a), tuple(b))",
    );
    let expected = Value::Tuple(vec![
        Value::Tuple(vec![1.into(), 2.into(), 3.into()]),
        Value::Tuple(vec![3.into(), 2.into(), 1.into()]),
    ]);
    assert_eq!(result, expected);
}

#[test]
fn csp_task_timeout_and_interrupt() {
    let started = Instant::now();
    let result = python(
        "import csp\n\
         with csp.Pool(1, setup='def spin():\\n    while True: pass') as pool:\n\
         \x20   task = pool.submit('__main__:spin')\n\
         \x20   try:\n\
         \x20       task.result(timeout=0.2)\n\
         \x20   except TimeoutError:\n\
         \x20       timed_out = True\n\
         \x20   import time\n\
         \x20   while not task.interrupt(): time.sleep(0.01)\n\
         \x20   try:\n\
         \x20       task.result()\n\
         \x20   except RuntimeError as e:\n\
         \x20       stopped = str(e)\n\
         \x20   after = pool.submit(abs, -3).result()\n\
         result = (timed_out, stopped, after, task.done())",
    );
    assert_eq!(
        result,
        Value::Tuple(vec![
            true.into(),
            "the task was interrupted".into(),
            3.into(),
            true.into()
        ])
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn csp_shared_bytes_travel_between_pools() {
    let result = python(
        "import csp\n\
         data = bytes(range(256)) * 1024\n\
         with csp.Pool(2) as pool:\n\
         \x20   echoed = pool.submit(bytes, data).result()\n\
         \x20   size = pool.submit(len, data).result()\n\
         result = (type(echoed).__name__, echoed == data, size, csp.SHARED_BYTES_THRESHOLD)",
    );
    assert_eq!(
        result,
        Value::Tuple(vec![
            "SharedBytes".into(),
            true.into(),
            Value::from(256 * 1024),
            Value::from(subinterp::SHARED_BYTES_THRESHOLD)
        ])
    );
}

#[test]
fn csp_pool_misuse_is_a_clear_error() {
    let result = python(
        "import csp\n\
         pool = csp.Pool(1)\n\
         pool.close()\n\
         try:\n\
         \x20   pool.submit(abs, 1)\n\
         except RuntimeError as e:\n\
         \x20   closed = str(e)\n\
         try:\n\
         \x20   csp.Pool(0)\n\
         except ValueError as e:\n\
         \x20   zero = str(e)\n\
         try:\n\
         \x20   csp.Pool(1).submit('nocolon')\n\
         except ValueError as e:\n\
         \x20   target = str(e)\n\
         result = (closed, zero, target)",
    );
    let parts: Vec<&str> = result
        .as_tuple()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(parts[0].contains("pool is closed"), "{}", parts[0]);
    assert!(parts[1].contains("positive int"), "{}", parts[1]);
    assert!(parts[2].contains("module:function"), "{}", parts[2]);
}
