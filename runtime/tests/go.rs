//! `Runtime::go`: every task gets an interpreter of its own at once, idle ones are reused,
//! and they are destroyed after the idle timeout.

use std::time::{Duration, Instant};

use subinterp::{Channel, Runtime, RuntimeConfig, Value};

const IDLE: Duration = Duration::from_millis(300);

/// Waits until `done()` holds (true) or five seconds pass (false).
fn eventually(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn go_interpreters_start_at_once_are_reused_and_trimmed() {
    let runtime = Runtime::init(RuntimeConfig::default().go_idle_timeout(IDLE)).unwrap();
    // Four tasks that all block until released: each needs its own interpreter.
    let gate = Channel::new(0);
    let blocked: Vec<_> = (0..4)
        .map(|_| runtime.go("builtins:next", vec![gate.clone().into()]))
        .collect();
    assert!(eventually(|| runtime.go_interpreters().0 == 4));
    for i in 0..4 {
        gate.send(i).unwrap();
    }
    let mut got: Vec<i64> = blocked
        .into_iter()
        .map(|t| t.wait().unwrap().as_i64().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, vec![0, 1, 2, 3]);
    assert!(eventually(|| runtime.go_interpreters() == (4, 4)));

    // An idle interpreter is reused rather than a new one started.
    let id = runtime
        .go("csp:current_interpreter", vec![])
        .wait()
        .unwrap();
    assert!(id.as_i64().unwrap() > 0);
    assert_eq!(runtime.go_interpreters().0, 4);

    // Idle ones are destroyed after the timeout.
    assert!(eventually(|| runtime.go_interpreters() == (0, 0)));
    assert!(eventually(|| runtime.live_interpreters() == 0));
    // go still works afterwards, on a new interpreter.
    assert_eq!(
        runtime.go("operator:add", vec![2.into(), 3.into()]).wait(),
        Ok(Value::from(5))
    );
    assert!(
        runtime.go("nonsense", vec![]).wait().is_err(),
        "a malformed target is an error"
    );
    runtime.shutdown().unwrap();
}
