//! Model tests of the concurrency core (channels, the parker, task completion) with loom: each
//! test runs its threads under every interleaving loom explores (up to a preemption bound), on
//! the loom primitives the [`facade`](crate::sync::facade) hands out in this build. The
//! channels carry plain `i64`s: the core is generic, and the public `Value` channel only wraps
//! it.
//!
//! Run them in release mode, in a target folder of their own:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p subinterp --lib --release --target-dir target/loom loom_tests
//! ```
//!
//! Loom has no clock. A timed wait ends either when woken or, at whatever point loom chooses,
//! with a timeout (see [`Parker`]'s model of its sleep), so every abandon/withdraw/give-back
//! path after a timeout is explored too. A deadline here only says "this wait is timed".

use std::time::Duration;

use loom::thread;

use crate::error::Error;
use crate::sync::channel::{
    Channel, RecvError, Select, SelectError, Selected, SendError, SendErrorKind,
};
use crate::sync::facade::Arc;
use crate::sync::facade::atomic::{AtomicBool, Ordering};
use crate::sync::parker::{Parker, Wake, deadline_after};
use crate::sync::task;
use crate::sync::wait::plain_wait;

/// Runs `f` under loom: every interleaving, or with `Some(n)` those with at most `n`
/// preemptions (blocking is not a preemption) where that is too many to finish in a few
/// seconds; prints how many executions that took (seen with `--nocapture`).
fn model(preemptions: Option<usize>, f: impl Fn() + Send + Sync + 'static) {
    let executions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&executions);
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = preemptions;
    builder.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    println!(
        "{} executions (preemption bound {preemptions:?})",
        executions.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// A timeout for a timed wait: its length does not matter to loom (see the module docs).
const TIMEOUT: Duration = Duration::from_secs(1);

/// A value to send (any `T` would do; distinct ones show which arrived where).
fn int(i: i64) -> i64 {
    i
}

/// Rendezvous: a send and a receive on a capacity-0 channel meet, whichever blocks first; the
/// value is delivered exactly once and nothing stays in the channel.
#[test]
fn rendezvous_delivers_the_value_exactly_once() {
    model(None, || {
        let ch = Channel::new(0);
        let tx = ch.clone();
        let sender = thread::spawn(move || tx.send(int(1)));
        assert_eq!(ch.recv(), Ok(int(1)));
        assert_eq!(sender.join().unwrap(), Ok(()));
        assert_eq!(ch.try_recv(), Err(RecvError::Empty));
        assert!(ch.is_empty());
    });
}

/// Buffered (capacity 1): two sends, the second of which may block on the full buffer until
/// the receiver frees room (its value then moves from the blocked sender into the buffer),
/// arrive once each and in order.
#[test]
fn buffered_channel_delivers_each_value_once_in_order() {
    model(Some(5), || {
        let ch = Channel::new(1);
        let tx = ch.clone();
        let sender = thread::spawn(move || (tx.send(int(1)), tx.send(int(2))));
        assert_eq!(ch.recv(), Ok(int(1)));
        assert_eq!(ch.recv(), Ok(int(2)));
        assert_eq!(sender.join().unwrap(), (Ok(()), Ok(())));
        assert_eq!(ch.try_recv(), Err(RecvError::Empty));
    });
}

/// `close` racing a blocked sender whose timed wait may give up at any point: the sender gets
/// its value back (`SendError::value`, whether it saw the close or its timeout), never a
/// placeholder — the value is never lost, and no one else has it.
///
/// This is the model that finds the old `close` (which dequeued the blocked senders, released
/// the channel's lock and only then completed them: a sender that gave up in that window
/// found its entry gone and nothing handed back yet, and returned `Value::None`; the generic
/// core now reports such a loss as `value: None`).
#[test]
fn close_racing_a_timed_out_sender_gives_its_value_back() {
    model(None, || {
        let ch = Channel::new(0);
        let tx = ch.clone();
        let sender = thread::spawn(move || tx.send_timeout(int(7), TIMEOUT));
        assert!(ch.close());
        let error = sender.join().unwrap().expect_err("nobody receives");
        assert!(matches!(
            error.kind,
            SendErrorKind::Closed | SendErrorKind::Timeout
        ));
        assert_eq!(
            error.value,
            Some(int(7)),
            "the value of a failed send ({:?})",
            error.kind
        );
        assert_eq!(ch.try_recv(), Err(RecvError::Closed));
    });
}

/// A timed sender, a receiver and `close`, all racing: either the receiver got the value and
/// the send succeeded, or the send failed with the value back and the receiver saw the
/// close — exactly one of the two ends has it.
#[test]
fn close_racing_a_timed_sender_and_a_receiver_delivers_or_returns_exactly_once() {
    model(Some(5), || {
        let ch = Channel::new(0);
        let (tx, rx) = (ch.clone(), ch.clone());
        let sender = thread::spawn(move || tx.send_timeout(int(7), TIMEOUT));
        let receiver = thread::spawn(move || rx.recv());
        ch.close();
        let sent = sender.join().unwrap();
        let received = receiver.join().unwrap();
        match sent {
            Ok(()) => assert_eq!(received, Ok(int(7))),
            Err(error) => {
                assert_eq!(
                    error.value,
                    Some(int(7)),
                    "the value of a failed send ({:?})",
                    error.kind
                );
                assert_eq!(received, Err(RecvError::Closed));
            }
        }
    });
}

/// A timed select over two receives, racing two senders (then both channels close): at most
/// one case completes, with the value of its sender, whose send succeeded; the other sender
/// gets its own value back intact. A timeout completes nothing and both values come back.
#[test]
fn select_completes_exactly_one_of_two_receives() {
    model(Some(3), || {
        let (a, b) = (Channel::new(0), Channel::new(0));
        let (ta, tb) = (a.clone(), b.clone());
        let send_a = thread::spawn(move || ta.send(int(1)));
        let send_b = thread::spawn(move || tb.send(int(2)));
        let mut select = Select::new();
        let from_a = select.recv(&a);
        let from_b = select.recv(&b);
        let selected = select.wait_timeout(TIMEOUT);
        a.close();
        b.close();
        let (sent_a, sent_b) = (send_a.join().unwrap(), send_b.join().unwrap());
        let returned = |sent: Result<(), SendError<i64>>| sent.expect_err("not received").value;
        match selected {
            Ok(Selected::Received { index, value }) if index == from_a => {
                assert_eq!(value, int(1));
                assert_eq!(sent_a, Ok(()));
                assert_eq!(returned(sent_b), Some(int(2)));
            }
            Ok(Selected::Received { index, value }) if index == from_b => {
                assert_eq!(value, int(2));
                assert_eq!(sent_b, Ok(()));
                assert_eq!(returned(sent_a), Some(int(1)));
            }
            Err(SelectError::Timeout) => {
                assert_eq!(returned(sent_a), Some(int(1)));
                assert_eq!(returned(sent_b), Some(int(2)));
            }
            other => panic!("unexpected {other:?}"),
        }
    });
}

/// `close` racing a blocked receiver (untimed) and a timed one: the untimed one always wakes
/// with `Closed` (the close never goes unnoticed), the timed one with `Closed` or `Timeout`.
#[test]
fn close_wakes_blocked_receivers() {
    model(Some(4), || {
        let ch = Channel::<i64>::new(0);
        let (r1, r2) = (ch.clone(), ch.clone());
        let blocked = thread::spawn(move || r1.recv());
        let timed = thread::spawn(move || r2.recv_timeout(TIMEOUT));
        assert!(ch.close());
        assert!(!ch.close());
        assert_eq!(blocked.join().unwrap(), Err(RecvError::Closed));
        let timed = timed.join().unwrap();
        assert!(matches!(timed, Err(RecvError::Closed | RecvError::Timeout)));
    });
}

/// A receive racing two buffered sends and `close`: it drains what was sent before the close,
/// in order, then sees `Closed`; a send after the close fails with its value back.
#[test]
fn recv_after_close_drains_the_buffer() {
    model(Some(5), || {
        let ch = Channel::new(2);
        let tx = ch.clone();
        let sender = thread::spawn(move || {
            tx.send(int(1)).unwrap();
            tx.send(int(2)).unwrap();
            tx.close();
            tx.send(int(3))
        });
        assert_eq!(ch.recv(), Ok(int(1)));
        assert_eq!(ch.recv(), Ok(int(2)));
        assert_eq!(ch.recv(), Err(RecvError::Closed));
        let late = sender.join().unwrap().expect_err("sent after close");
        assert_eq!(late.kind, SendErrorKind::Closed);
        assert_eq!(late.value, Some(int(3)));
    });
}

/// The parker never loses a wake-up: an `unpark` before, during or after a (timed, then
/// untimed) park ends the wait — otherwise the owner would park forever and loom would report
/// a deadlock — and a timeout does not swallow a token that arrived.
#[test]
fn an_unpark_is_never_lost() {
    model(None, || {
        let parker = Parker::current();
        let other = std::sync::Arc::clone(&parker);
        let ready = Arc::new(AtomicBool::new(false));
        let set = Arc::clone(&ready);
        let waker = thread::spawn(move || {
            set.store(true, Ordering::Release);
            other.unpark();
        });
        // A timed park first: it may time out (or wake) at any point of the race.
        if !ready.load(Ordering::Acquire) {
            parker.park(deadline_after(TIMEOUT));
        }
        while !ready.load(Ordering::Acquire) {
            assert_eq!(parker.park(None), Wake::Unparked);
        }
        waker.join().unwrap();
    });
}

/// Interrupt flags: an `interrupt` racing the owner's interruptible operation (a timed park)
/// and its end (`set_interruptible(false)`) reports delivery exactly when the owner sees the
/// request; afterwards the owner is no longer interruptible and the flag is clear.
#[test]
fn an_interrupt_is_delivered_exactly_when_reported() {
    model(None, || {
        let parker = Parker::current();
        assert!(!parker.set_interruptible(true));
        let other = std::sync::Arc::clone(&parker);
        let interrupter = thread::spawn(move || other.interrupt());
        let seen_early = parker.interrupt_requested();
        if !seen_early {
            parker.park(deadline_after(TIMEOUT));
        }
        let seen = parker.set_interruptible(false);
        let delivered = interrupter.join().unwrap();
        assert_eq!(delivered, seen);
        assert!(!seen_early || seen);
        assert!(!parker.interrupt_requested());
        assert!(!parker.interrupt());
    });
}

/// Task completion racing `Task::wait_with` (which registers its parker, then checks): a
/// completion between the two unparks it, so an untimed wait always returns finished (a
/// missed completion would park forever: a loom deadlock), and the result is the one
/// delivered.
#[test]
fn a_completion_racing_wait_with_is_never_missed() {
    model(None, || {
        let (task, completer) = task::pending::<i64>(std::sync::Arc::from([]), "model task");
        let worker = thread::spawn(move || completer.finish(Ok(5)));
        assert_eq!(task.wait_with(None, &mut plain_wait), Some(true));
        assert!(task.is_finished());
        worker.join().unwrap();
        assert_eq!(task.wait(), Ok(5));
    });
}

/// A timed `wait_with` racing the completion: finished, or timed out (the result then still
/// arrives, for `wait`); and a completer dropped unused fails the task with `Closed`.
#[test]
fn a_timed_wait_with_and_a_dropped_completer() {
    model(None, || {
        let (task, completer) = task::pending::<i64>(std::sync::Arc::from([]), "model task");
        let worker = thread::spawn(move || drop(completer));
        let finished = task.wait_with(deadline_after(TIMEOUT), &mut plain_wait);
        assert!(matches!(finished, Some(true) | Some(false)));
        if finished == Some(true) {
            assert!(task.is_finished());
        }
        worker.join().unwrap();
        assert_eq!(task.wait(), Err(Error::Closed("model task")));
    });
}
