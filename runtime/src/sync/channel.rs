//! [`Channel<T>`]: CSP channels carrying `T`s between threads, and [`Select<T>`] over several
//! of their operations. The public [`Channel`](crate::Channel) and [`Select`](crate::Select)
//! are these, carrying [`Value`](crate::Value)s.
//!
//! A channel is a lock-protected buffer plus two queues of blocked operations: senders
//! waiting with their value, and receivers waiting for one. An operation that cannot complete
//! at once enqueues a *waiter* (one per blocking call, shared by every case of a select) and
//! parks its thread; the thread that later makes it possible (a receiver for a blocked sender,
//! a sender for a blocked receiver, `close` for both) completes the waiter — at most once,
//! under the waiter's own lock, so a select finishes exactly one of its cases — and unparks
//! it. Nothing polls.
//!
//! Lock order: several channel locks only ever in address order (a select takes all of its
//! channels' locks to look for a ready case), and a waiter's lock only while holding at most
//! one channel lock and nothing else.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::sync::facade::{Arc, Mutex, MutexGuard, lock};
use crate::sync::generation;
use crate::sync::parker::Parker;
use crate::sync::wait::{Block, Wait, Waited, plain_wait};

/// A CSP channel: many senders and many receivers, carrying `T`s (see
/// [`Channel`](crate::Channel) for the behaviour).
pub(crate) struct Channel<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    id: u64,
    state: Mutex<State<T>>,
}

struct State<T> {
    capacity: usize,
    buffer: VecDeque<T>,
    closed: bool,
    senders: VecDeque<BlockedSend<T>>,
    receivers: VecDeque<BlockedRecv<T>>,
}

struct BlockedSend<T> {
    waiter: Arc<Waiter<T>>,
    case: usize,
    value: T,
}

struct BlockedRecv<T> {
    waiter: Arc<Waiter<T>>,
    case: usize,
}

/// Channel ids, for `Debug` and `repr`.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        Channel {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Channel<T> {
    /// A new channel holding up to `capacity` values (0: rendezvous).
    pub(crate) fn new(capacity: usize) -> Channel<T> {
        Channel {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                state: Mutex::new(State {
                    capacity,
                    buffer: VecDeque::new(),
                    closed: false,
                    senders: VecDeque::new(),
                    receivers: VecDeque::new(),
                }),
            }),
        }
    }

    /// Sends `value`, waiting as long as it takes for room (or, with capacity 0, a receiver).
    pub(crate) fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_until(value, Block::Forever)
    }

    /// Sends `value`, waiting at most `timeout`.
    pub(crate) fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendError<T>> {
        self.send_until(value, Block::after(timeout))
    }

    /// Sends `value` only if that needs no waiting: there is room, or a receiver is waiting.
    pub(crate) fn try_send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_until(value, Block::No)
    }

    /// Receives the next value, waiting as long as it takes.
    pub(crate) fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(Block::Forever)
    }

    /// Receives the next value, waiting at most `timeout`.
    pub(crate) fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_until(Block::after(timeout))
    }

    /// Receives a value only if one is ready now.
    pub(crate) fn try_recv(&self) -> Result<T, RecvError> {
        self.recv_until(Block::No)
    }

    /// Closes the channel: blocked senders get their values back, receivers drain what is
    /// queued and then get [`RecvError::Closed`]. Returns `false` if it was already closed.
    pub(crate) fn close(&self) -> bool {
        // Waiters are completed under the channel's lock, like every other dequeue: a blocked
        // sender that gives up meanwhile then finds its entry still queued (and takes its
        // value back) or already completed, never in between. They wake after the unlock.
        let mut woken: Vec<Wakeup<T>> = Vec::new(); // Declared first: wakes after the unlock.
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.closed = true;
        for s in std::mem::take(&mut state.senders) {
            match s.waiter.complete(s.case, Outcome::SendClosed(s.value)) {
                Ok(()) => woken.push(Wakeup(Some(s.waiter))),
                Err(back) => {
                    if let Some(value) = back.into_value() {
                        s.waiter.give_back(s.case, value);
                    }
                }
            }
        }
        for r in std::mem::take(&mut state.receivers) {
            if r.waiter.complete(r.case, Outcome::RecvClosed).is_ok() {
                woken.push(Wakeup(Some(r.waiter)));
            }
        }
        true
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The number of values queued in the channel now.
    pub(crate) fn len(&self) -> usize {
        self.lock().buffer.len()
    }

    /// Whether no value is queued now.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many values the channel holds before senders wait (0: rendezvous).
    pub(crate) fn capacity(&self) -> usize {
        self.lock().capacity
    }

    /// Whether two handles are the same channel.
    pub(crate) fn same(&self, other: &Channel<T>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// A process-unique number naming the channel (in `Debug` and Python's `repr`).
    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    /// The address identifying this channel (its hash in Python).
    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        lock(&self.inner.state)
    }

    /// Sends without waiting: the value comes back if that is not possible now.
    pub(crate) fn send_now(&self, value: T) -> Result<(), NotSent<T>> {
        let mut wake = Wakeup::default(); // Declared first: wakes after the unlock.
        try_send(&mut self.lock(), value, &mut wake)
    }

    /// Receives without waiting.
    pub(crate) fn recv_now(&self) -> Result<T, NotReady> {
        let mut wake = Wakeup::default(); // Declared first: wakes after the unlock.
        try_recv(&mut self.lock(), &mut wake)
    }

    fn send_until(&self, value: T, block: Block) -> Result<(), SendError<T>> {
        let value = match self.send_now(value) {
            Ok(()) => return Ok(()),
            Err(NotSent::Closed(value)) => {
                return Err(SendError {
                    kind: SendErrorKind::Closed,
                    value: Some(value),
                });
            }
            Err(NotSent::Full(value)) => value,
        };
        let mut select = Select::new();
        select.send(self, value);
        match select.run(block, &mut plain_wait) {
            Ok(_) => Ok(()),
            Err(SelectError::SendClosed { value, .. }) => Err(SendError {
                kind: SendErrorKind::Closed,
                value: Some(value),
            }),
            Err(SelectError::WouldBlock) => Err(SendError {
                kind: SendErrorKind::Full,
                value: select.take_unsent(0),
            }),
            Err(SelectError::Timeout | SelectError::Aborted) => Err(SendError {
                kind: SendErrorKind::Timeout,
                value: select.take_unsent(0),
            }),
        }
    }

    fn recv_until(&self, block: Block) -> Result<T, RecvError> {
        match self.recv_now() {
            Ok(value) => return Ok(value),
            Err(NotReady::Closed) => return Err(RecvError::Closed),
            Err(NotReady::Empty) if matches!(block, Block::No) => return Err(RecvError::Empty),
            Err(NotReady::Empty) => {}
        }
        let mut select = Select::new();
        select.recv(self);
        match select.run(block, &mut plain_wait) {
            Ok(Selected::Received { value, .. }) => Ok(value),
            Ok(_) => Err(RecvError::Closed),
            Err(SelectError::WouldBlock) => Err(RecvError::Empty),
            Err(_) => Err(RecvError::Timeout),
        }
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.inner.id)
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

/// A send that could not complete without waiting, with its value.
#[derive(Debug, PartialEq)]
pub(crate) enum NotSent<T> {
    /// No room (capacity 0: no receiver waiting).
    Full(T),
    /// The channel is closed.
    Closed(T),
}

/// Why a receive could not complete without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotReady {
    /// Nothing to receive yet.
    Empty,
    /// Closed and drained.
    Closed,
}

/// A send that did not happen.
#[derive(Debug, PartialEq)]
pub(crate) struct SendError<T> {
    /// Why it failed.
    pub(crate) kind: SendErrorKind,
    /// The value that was not sent. `None` only if it had been lost, which the channel's
    /// give-back protocol excludes (the loom models check it).
    pub(crate) value: Option<T>,
}

/// Why a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// The channel is closed.
    Closed,
    /// [`Channel::try_send`](crate::Channel::try_send): the channel is full (with capacity 0:
    /// no receiver is waiting).
    Full,
    /// [`Channel::send_timeout`](crate::Channel::send_timeout): no room within the timeout.
    Timeout,
}

/// Why a receive failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// The channel is closed and everything sent has been received.
    Closed,
    /// [`Channel::try_recv`](crate::Channel::try_recv): nothing is ready now.
    Empty,
    /// [`Channel::recv_timeout`](crate::Channel::recv_timeout): nothing arrived within the
    /// timeout.
    Timeout,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecvError::Closed => "the channel is closed and drained",
            RecvError::Empty => "the channel is empty",
            RecvError::Timeout => "nothing arrived within the timeout",
        })
    }
}

impl std::error::Error for RecvError {}

/// Waits for the first of several channel operations that can complete, and completes only
/// that one (see [`Select`](crate::Select) for the behaviour).
#[derive(Debug)]
pub(crate) struct Select<T> {
    /// The channel of each case.
    channels: Vec<Channel<T>>,
    /// What each case does.
    cases: Vec<Case<T>>,
}

/// One case of a [`Select`].
#[derive(Debug)]
enum Case<T> {
    /// A receive.
    Recv,
    /// A send: its value, which is `None` while it sits in a channel's queue of blocked
    /// senders (or after it was delivered).
    Send(Option<T>),
}

impl<T> Default for Select<T> {
    fn default() -> Self {
        Select {
            channels: Vec::new(),
            cases: Vec::new(),
        }
    }
}

/// The operation a [`Select`] completed, by the index its `send`/`recv` call returned.
#[derive(Debug, PartialEq)]
pub(crate) enum Selected<T> {
    /// A receive got `value`.
    Received { index: usize, value: T },
    /// A receive found its channel closed and drained.
    Closed { index: usize },
    /// A send delivered its value.
    Sent { index: usize },
}

/// Why a [`Select`] completed nothing.
#[derive(Debug, PartialEq)]
pub(crate) enum SelectError<T> {
    /// A `Block::No` select found no case ready.
    WouldBlock,
    /// No case became ready before the deadline.
    Timeout,
    /// A send case's channel is closed; its value comes back.
    SendClosed { index: usize, value: T },
    /// The wait was abandoned (a Python signal handler raised, or the interpreter was
    /// interrupted).
    Aborted,
}

impl<T> Select<T> {
    /// An empty select; add cases with [`send`](Self::send) and [`recv`](Self::recv).
    pub(crate) fn new() -> Select<T> {
        Select::default()
    }

    /// Adds a receive from `channel`; returns the case's index.
    pub(crate) fn recv(&mut self, channel: &Channel<T>) -> usize {
        self.channels.push(channel.clone());
        self.cases.push(Case::Recv);
        self.channels.len() - 1
    }

    /// Adds a send of `value` on `channel`; returns the case's index. If another case is
    /// chosen, the value is dropped.
    pub(crate) fn send(&mut self, channel: &Channel<T>, value: T) -> usize {
        self.channels.push(channel.clone());
        self.cases.push(Case::Send(Some(value)));
        self.channels.len() - 1
    }

    /// Waits until one case completes.
    pub(crate) fn wait(mut self) -> Result<Selected<T>, SelectError<T>> {
        self.run(Block::Forever, &mut plain_wait)
    }

    /// Waits at most `timeout` for one case to complete.
    pub(crate) fn wait_timeout(mut self, timeout: Duration) -> Result<Selected<T>, SelectError<T>> {
        self.run(Block::after(timeout), &mut plain_wait)
    }

    /// Completes a case that is ready now, if any.
    pub(crate) fn try_wait(mut self) -> Result<Selected<T>, SelectError<T>> {
        self.run(Block::No, &mut plain_wait)
    }

    /// The value of send case `index` if it was not sent (`None` if it had been lost, which
    /// the give-back protocol excludes).
    pub(crate) fn take_unsent(&mut self, index: usize) -> Option<T> {
        match &mut self.cases[index] {
            Case::Send(value) => value.take(),
            Case::Recv => None,
        }
    }

    /// Runs the select: completes a ready case, or (unless `block` is `No`) enqueues a waiter
    /// on every channel and parks, calling `wait` for each sleep.
    pub(crate) fn run(
        &mut self,
        block: Block,
        wait: &mut Wait<'_>,
    ) -> Result<Selected<T>, SelectError<T>> {
        if self.channels.is_empty() {
            return Err(SelectError::WouldBlock); // Nothing could ever complete.
        }
        let order = random_order(self.channels.len());
        let mut wake = Wakeup::default(); // Declared before the locks: wakes after the unlock.
        let mut locks = LockSet::new(&self.channels);
        // A ready case completes now, under all the channels' locks.
        let ready = complete_ready(
            &self.channels,
            &mut self.cases,
            &order,
            &mut locks,
            &mut wake,
        );
        if let Some(done) = ready {
            return done;
        }
        if matches!(block, Block::No) {
            return Err(SelectError::WouldBlock);
        }
        // Nothing is ready: wait on every channel with one waiter.
        let waiter = Arc::new(Waiter::new());
        for (index, case) in self.cases.iter_mut().enumerate() {
            let state = locks.state(&self.channels[index]);
            match case {
                Case::Send(slot) => state.senders.push_back(BlockedSend {
                    waiter: Arc::clone(&waiter),
                    case: index,
                    value: slot.take().expect("a send case holds its value"),
                }),
                Case::Recv => state.receivers.push_back(BlockedRecv {
                    waiter: Arc::clone(&waiter),
                    case: index,
                }),
            }
        }
        drop(locks);
        let outcome = loop {
            if let Some(outcome) = waiter.take() {
                break Ok(outcome);
            }
            match wait(&waiter.parker, block.deadline()) {
                Waited::Continue => {}
                Waited::Timeout => break Err(SelectError::Timeout),
                Waited::Abort => break Err(SelectError::Aborted),
            }
        };
        // An outcome may have arrived while we gave up: it wins, since it already happened.
        let outcome = match outcome {
            Ok(outcome) => Ok(outcome),
            Err(e) => waiter.abandon().ok_or(e),
        };
        self.withdraw(&waiter);
        match outcome? {
            (index, Outcome::Sent) => Ok(Selected::Sent { index }),
            (index, Outcome::Received(value)) => Ok(Selected::Received { index, value }),
            (index, Outcome::RecvClosed) => Ok(Selected::Closed { index }),
            (index, Outcome::SendClosed(value)) => Err(SelectError::SendClosed { index, value }),
        }
    }

    /// Removes what is left of `waiter` from the channels, putting unsent values back into
    /// their cases.
    fn withdraw(&mut self, waiter: &Arc<Waiter<T>>) {
        for (index, (channel, case)) in self.channels.iter().zip(&mut self.cases).enumerate() {
            let mut state = channel.lock();
            match case {
                Case::Send(slot) => {
                    if let Some(pos) = state
                        .senders
                        .iter()
                        .position(|s| s.case == index && Arc::ptr_eq(&s.waiter, waiter))
                        && let Some(entry) = state.senders.remove(pos)
                    {
                        *slot = Some(entry.value);
                    }
                }
                Case::Recv => state.receivers.retain(|r| !Arc::ptr_eq(&r.waiter, waiter)),
            }
        }
        // Once every channel has been visited, no other thread holds an entry of ours.
        for (index, value) in waiter.returned() {
            self.cases[index] = Case::Send(Some(value));
        }
    }
}

/// Completes the first ready case of a select in `order` (its channels locked), if any.
fn complete_ready<T>(
    channels: &[Channel<T>],
    cases: &mut [Case<T>],
    order: &[usize],
    locks: &mut LockSet<'_, T>,
    wake: &mut Wakeup<T>,
) -> Option<Result<Selected<T>, SelectError<T>>> {
    for &index in order {
        let state = locks.state(&channels[index]);
        match &mut cases[index] {
            Case::Send(slot) => {
                let value = slot.take().expect("a send case holds its value");
                match try_send(state, value, wake) {
                    Ok(()) => return Some(Ok(Selected::Sent { index })),
                    Err(NotSent::Closed(value)) => {
                        return Some(Err(SelectError::SendClosed { index, value }));
                    }
                    Err(NotSent::Full(value)) => *slot = Some(value),
                }
            }
            Case::Recv => match try_recv(state, wake) {
                Ok(value) => return Some(Ok(Selected::Received { index, value })),
                Err(NotReady::Closed) => return Some(Ok(Selected::Closed { index })),
                Err(NotReady::Empty) => {}
            },
        }
    }
    None
}

/// Sends `value` into a locked channel if that needs no waiting; a receiver it completes
/// goes into `wake`. On failure the value comes back.
fn try_send<T>(state: &mut State<T>, mut value: T, wake: &mut Wakeup<T>) -> Result<(), NotSent<T>> {
    if state.closed {
        return Err(NotSent::Closed(value));
    }
    while let Some(receiver) = state.receivers.pop_front() {
        match receiver
            .waiter
            .complete(receiver.case, Outcome::Received(value))
        {
            Ok(()) => {
                wake.0 = Some(receiver.waiter);
                return Ok(());
            }
            // That receiver's select finished otherwise: try the next one.
            Err(back) => {
                value = back
                    .into_value()
                    .expect("a receive's outcome comes back with its value")
            }
        }
    }
    if state.buffer.len() < state.capacity {
        state.buffer.push_back(value);
        return Ok(());
    }
    Err(NotSent::Full(value))
}

/// Receives from a locked channel if a value is ready; a sender it completes goes into
/// `wake`.
fn try_recv<T>(state: &mut State<T>, wake: &mut Wakeup<T>) -> Result<T, NotReady> {
    if let Some(value) = state.buffer.pop_front() {
        // Room freed: move the first blocked sender's value in.
        if let Some(moved) = take_blocked_send(state, wake) {
            state.buffer.push_back(moved);
        }
        return Ok(value);
    }
    take_blocked_send(state, wake).ok_or(if state.closed {
        NotReady::Closed
    } else {
        NotReady::Empty
    })
}

/// The value of the first blocked sender still waiting, completing its send (the sender goes
/// into `wake`). Senders whose select finished otherwise get their values back.
fn take_blocked_send<T>(state: &mut State<T>, wake: &mut Wakeup<T>) -> Option<T> {
    while let Some(sender) = state.senders.pop_front() {
        if sender.waiter.complete(sender.case, Outcome::Sent).is_ok() {
            wake.0 = Some(sender.waiter);
            return Some(sender.value);
        }
        sender.waiter.give_back(sender.case, sender.value);
    }
    None
}

/// The locks of a select's channels, taken in address order (each channel once).
struct LockSet<'a, T> {
    guards: Vec<(usize, MutexGuard<'a, State<T>>)>,
}

impl<'a, T> LockSet<'a, T> {
    fn new(channels: &'a [Channel<T>]) -> LockSet<'a, T> {
        let mut channels: Vec<&Channel<T>> = channels.iter().collect();
        channels.sort_by_key(|c| c.addr());
        channels.dedup_by_key(|c| c.addr());
        LockSet {
            guards: channels.into_iter().map(|c| (c.addr(), c.lock())).collect(),
        }
    }

    fn state(&mut self, channel: &Channel<T>) -> &mut State<T> {
        let addr = channel.addr();
        let pos = self
            .guards
            .binary_search_by_key(&addr, |(a, _)| *a)
            .expect("every case's channel is locked");
        &mut self.guards[pos].1
    }
}

/// How a blocked operation was completed by another thread.
#[derive(Debug)]
enum Outcome<T> {
    Sent,
    Received(T),
    RecvClosed,
    SendClosed(T),
}

impl<T> Outcome<T> {
    /// The value the outcome carries, if any.
    fn into_value(self) -> Option<T> {
        match self {
            Outcome::Received(value) | Outcome::SendClosed(value) => Some(value),
            Outcome::Sent | Outcome::RecvClosed => None,
        }
    }
}

/// The waiter an operation completed, unparked when this is dropped: declared before the
/// channel guards, it wakes the owner only after the locks are released, so the woken thread
/// does not find them still held.
struct Wakeup<T>(Option<Arc<Waiter<T>>>);

impl<T> Default for Wakeup<T> {
    fn default() -> Self {
        Wakeup(None)
    }
}

impl<T> Drop for Wakeup<T> {
    fn drop(&mut self) {
        if let Some(waiter) = self.0.take() {
            waiter.parker.unpark();
        }
    }
}

/// One blocking call (a send, a receive or a whole select) waiting on one or more channels.
struct Waiter<T> {
    parker: std::sync::Arc<Parker>,
    state: Mutex<WaiterState<T>>,
    /// The fork generation of the waiting thread: in a forked child that thread is gone, and
    /// the waiter accepts no outcome (see [`generation`]).
    generation: u64,
}

struct WaiterState<T> {
    /// `Some` once a case completed (and until the owner takes it).
    outcome: Option<(usize, Outcome<T>)>,
    /// Whether the waiter accepts an outcome: it is still waiting.
    open: bool,
    /// Values of send cases that another thread dequeued after the waiter stopped waiting.
    returned: Vec<(usize, T)>,
}

impl<T> Waiter<T> {
    fn new() -> Waiter<T> {
        Waiter {
            parker: Parker::current(),
            state: Mutex::new(WaiterState {
                outcome: None,
                open: true,
                returned: Vec::new(),
            }),
            generation: generation::generation(),
        }
    }

    /// Completes case `case` with `outcome` if nothing completed this waiter yet (and it
    /// still waits); else hands the outcome back (with the value it carries, if any). The
    /// caller then unparks the owner, after releasing the channel's lock (see [`Wakeup`]).
    fn complete(&self, case: usize, outcome: Outcome<T>) -> Result<(), Outcome<T>> {
        let mut state = lock(&self.state);
        if !state.open || generation::orphaned(self.generation) {
            return Err(outcome);
        }
        state.open = false;
        state.outcome = Some((case, outcome));
        Ok(())
    }

    /// Keeps the value of send case `case`, dequeued by another thread after this waiter
    /// stopped waiting, for the owner to get back.
    fn give_back(&self, case: usize, value: T) {
        lock(&self.state).returned.push((case, value));
    }

    /// The outcome, if one arrived.
    fn take(&self) -> Option<(usize, Outcome<T>)> {
        lock(&self.state).outcome.take()
    }

    /// Stops waiting; returns an outcome that arrived first, if any.
    fn abandon(&self) -> Option<(usize, Outcome<T>)> {
        let mut state = lock(&self.state);
        state.open = false;
        state.outcome.take()
    }

    /// The values given back (see [`give_back`](Self::give_back)).
    fn returned(&self) -> Vec<(usize, T)> {
        std::mem::take(&mut lock(&self.state).returned)
    }
}

/// A uniformly random permutation of `0..n` (Fisher-Yates with a per-thread xorshift).
fn random_order(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if n > 1 {
        RNG.with(|rng| {
            let mut x = rng.get();
            for i in (1..n).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                order.swap(i, (x % (i as u64 + 1)) as usize);
            }
            rng.set(x);
        });
    }
    order
}

crate::sync::facade::thread_local! {
    static RNG: std::cell::Cell<u64> = std::cell::Cell::new(rng_seed());
}

/// A seed for a thread's [`RNG`], different on each thread and run.
#[cfg(not(all(loom, test)))]
fn rng_seed() -> u64 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let here = &seed as *const u64 as u64;
    (seed ^ here.rotate_left(32)) | 1
}

/// The model tests' seed: fixed, since loom replays each thread's steps exactly.
#[cfg(all(loom, test))]
fn rng_seed() -> u64 {
    0x9e37_79b9_7f4a_7c15
}
