//! Serving a node on a mesh: the seam a transport implements ([`Transport`]) and the one
//! serve loop every face runs on it ([`serve`], or [`Serving`] for hosts that drive the
//! loop a step at a time because their handlers are asynchronous).
//!
//! The loop's rules are the same in every language: it stops when asked, after an idle
//! time or a number of deliveries; a transport failure is retried (the delivery is
//! presented again: nothing is lost) until the server has been unreachable for
//! `give_up_after`; a policy refusal declines a delivery (another node may take it),
//! any other failure of a visit dead-letters it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peo_core::checkpoint::Segment;
use peo_core::{Body, DelegateReason, Error, ErrorKind, Event, Object, ObjectId, Result, Status};

use crate::{Node, Visit};

/// How often the loop asks its stop conditions while no work comes.
pub const POLL: Duration = Duration::from_millis(200);

/// The most deliveries a serve loop keeps in flight ([`ServeOptions::window`]): each is a
/// thread.
pub const MAX_WINDOW: usize = 1024;

/// The one refusal of a window outside 1 to [`MAX_WINDOW`], whichever face it came from.
pub fn window_error(window: impl std::fmt::Display) -> Error {
    Error::invalid_argument(format!(
        "window must be a whole number of deliveries in flight at once, from 1 to {MAX_WINDOW}, not {window}"
    ))
}

/// What a node must do with a delivery.
#[derive(Debug, Clone)]
pub enum Work {
    /// Visit this object (with the event that wakes it, if any).
    Visit {
        /// The object's bytes.
        object: Vec<u8>,
        /// The event delivered to it, if this delivery is one.
        event: Option<Event>,
    },
    /// Present a finished child to its parent (`Node::complete`).
    Complete {
        /// The waiting parent's newest version.
        parent: Vec<u8>,
        /// The child's final version.
        child: Vec<u8>,
    },
}

impl Node {
    /// Does `work` with this node's handlers.
    pub fn handle(&self, work: &Work) -> Result<Visit> {
        match work {
            Work::Visit { object, event } => self.visit(object, event.as_ref()),
            Work::Complete { parent, child } => self.complete(parent, child),
        }
    }
}

/// Where an object goes after a visit, read from the object itself: every transport,
/// and every node that receives the object, reads the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hop {
    /// It ended: a child goes to its parent's join, a root to the results.
    Finished {
        /// The parent waiting for it (a fan-out child), or `None` for a root object.
        parent: Option<ObjectId>,
    },
    /// It sleeps until `due_at` (ms since the Unix epoch) or the event `event`; with
    /// neither, until something is presented to it (a fan-out's children).
    Dormant {
        /// When it wakes (its wake time or its wait's timeout, whichever is first).
        due_at: Option<i64>,
        /// The event it waits for.
        event: Option<String>,
    },
    /// To a node offering `capability` (preferring `target`, a node or domain).
    Capability {
        /// The capability its next Task needs.
        capability: String,
        /// The node or domain the delegation names, if any.
        target: Option<String>,
    },
    /// To the node or domain `target`.
    Node(String),
    /// To any node (a new object whose first state needs no capability).
    Any,
}

/// Where `object` goes next ([`Hop`]), from its status and last record.
pub fn hop(object: &Object) -> Hop {
    let status = object.status();
    if status.is_terminal() {
        return Hop::Finished { parent: object.lineage().parent };
    }
    let last = object.memory().last().and_then(|r| r.decode().ok()).map(|r| r.body);
    if status == Status::Dormant {
        return match last {
            Some(Body::Dormant { wake_at_ms, event, timeout_at_ms, .. }) => {
                let due_at = match (wake_at_ms, timeout_at_ms) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                Hop::Dormant { due_at, event }
            }
            _ => Hop::Dormant { due_at: None, event: None },
        };
    }
    match last {
        Some(Body::Delegate { reason, capability, target, .. }) if reason != DelegateReason::FanOut => {
            match (capability, target) {
                (Some(capability), target) => Hop::Capability { capability, target },
                (None, Some(t)) => Hop::Node(t),
                (None, None) => Hop::Any,
            }
        }
        // A new object (or one whose last visit left no routing record): straight to
        // the capability of its current Task state (unless the state awaits an event,
        // which any node records), else to any node.
        _ => {
            let plan = object.intent().plan();
            match plan.machine.get(object.state()).map(|s| &s.kind) {
                Some(peo_core::intent::StateKind::Task(t)) if !plan.awaits.contains_key(object.state()) => {
                    Hop::Capability { capability: t.resource.clone(), target: None }
                }
                _ => Hop::Any,
            }
        }
    }
}

/// A mesh's side of serving: where deliveries come from and where visits go. JetStream
/// (`peo-jetstream`) and the `peo` command's SQLite mesh implement it.
pub trait Transport {
    /// A delivery: work taken from the mesh and not yet settled.
    type Delivery;
    /// Starts receiving the work of node `node_id` for `capabilities`.
    fn listen(&self, node_id: &str, capabilities: &[String]) -> Result<()>;
    /// Whether [`Transport::listen`] was called.
    fn is_listening(&self) -> bool;
    /// Waits up to `timeout` for a delivery.
    fn next(&self, timeout: Duration) -> Result<Option<Self::Delivery>>;
    /// What `delivery` asks for.
    fn work<'d>(&self, delivery: &'d Self::Delivery) -> &'d Work;
    /// Records a visit's result and sends it on: the object after it (decoded when the
    /// host has it), the children it created, and the records its compaction pruned
    /// (kept for audits: `Object::audit`).
    fn settle(
        &self,
        delivery: Self::Delivery,
        bytes: &[u8],
        object: Option<&Object>,
        children: &[Vec<u8>],
        archive: &[Segment],
    ) -> Result<()>;
    /// The node's policy refused the work: it is presented again later, to this node or
    /// another.
    fn decline(&self, delivery: Self::Delivery, reason: &Error) -> Result<()>;
    /// The work cannot be done (malformed, tampered, over a limit): it is set aside with
    /// the error and never presented again.
    fn reject(&self, delivery: Self::Delivery, error: &Error) -> Result<()>;
    /// Gives the delivery back at once (the host could not do it); it is presented again.
    fn abandon(&self, delivery: Self::Delivery);
    /// Logs a line about the loop (a retried failure).
    fn say(&self, _line: &str) {}
    /// Told before [`Transport::listen`] how many deliveries the serve loop keeps in
    /// flight, so that the transport can fetch that many ahead.
    fn keep_in_flight(&self, _window: usize) {}
}

/// What a visit gave, for [`finish`]: a visit of this process, or the bytes and children
/// a host got from one.
pub enum Outcome<'a> {
    /// A visit of this process.
    Visit(&'a Visit),
    /// The object's bytes, its children and the records its compaction pruned.
    Bytes(&'a [u8], &'a [Vec<u8>], &'a [Segment]),
}

/// Settles `delivery` with a visit's outcome: a success is settled, a policy refusal
/// declined, a transport failure gives the delivery back (and is returned), any other
/// error rejects it.
pub fn finish<T: Transport>(t: &T, delivery: T::Delivery, outcome: Result<Outcome<'_>>) -> Result<()> {
    match outcome {
        Ok(Outcome::Visit(v)) => t.settle(delivery, &v.bytes, Some(&v.object), &v.children, v.object.archive()),
        Ok(Outcome::Bytes(bytes, children, archive)) => t.settle(delivery, bytes, None, children, archive),
        Err(e) if e.kind() == ErrorKind::Policy => t.decline(delivery, &e),
        Err(e) if e.kind() == ErrorKind::Transport => {
            t.abandon(delivery);
            Err(e)
        }
        Err(e) => t.reject(delivery, &e),
    }
}

/// [`finish`] inside a serve loop: a transport failure is not the loop's error (the
/// delivery is presented again), it is logged.
fn finish_in_loop<T: Transport>(t: &T, delivery: T::Delivery, outcome: Result<Outcome<'_>>) -> Result<()> {
    match finish(t, delivery, outcome) {
        Err(e) if e.kind() == ErrorKind::Transport => {
            t.say(&format!("{e} (the delivery will be presented again)"));
            Ok(())
        }
        other => other,
    }
}

/// When a serve loop stops.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// Stop after this long without a delivery.
    pub idle_timeout: Option<Duration>,
    /// Stop after this many deliveries.
    pub max_deliveries: Option<u64>,
    /// Stop when this becomes true (checked at least every 200 ms).
    pub stop: Option<Arc<AtomicBool>>,
    /// Stop when this returns true (asked at least every 200 ms, one call at a time: on
    /// the serving thread, or with a window on its workers).
    pub should_stop: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
    /// Give up with the `Transport` error when the server stays unreachable this long
    /// (default: keep retrying).
    pub give_up_after: Option<Duration>,
    /// Deliveries in flight at once ([`serve`]): this many visits run concurrently, on
    /// worker threads, each settled (committed, sent on, acknowledged) by its worker
    /// while the others visit. 0 or 1: one at a time, on the serving thread. Handlers
    /// are then called from several threads at once. At most [`MAX_WINDOW`].
    pub window: usize,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("idle_timeout", &self.idle_timeout)
            .field("max_deliveries", &self.max_deliveries)
            .field("stop", &self.stop)
            .field("should_stop", &self.should_stop.is_some())
            .field("give_up_after", &self.give_up_after)
            .field("window", &self.window)
            .finish()
    }
}

/// One step of a serve loop.
#[derive(Debug)]
pub enum Poll<D> {
    /// A delivery to handle, then to [`Serving::finish`] (or [`Serving::abandon`]).
    Work(D),
    /// Nothing came this time (or the server is unreachable and the loop retries).
    Idle,
    /// The loop is over: a stop condition holds.
    Stop,
}

/// A serve loop driven by its host ([`Serving::poll`]): the host handles each delivery
/// however its handlers run (awaiting them in an event loop, on threads of its own) and
/// hands the outcome back with [`Serving::finish`]. Its methods may be called from several
/// threads at once, so a host may keep several deliveries in flight: a delivery is
/// reserved before it is asked for, so `max_deliveries` holds exactly. [`serve`] is this
/// loop for a node of this process.
#[derive(Debug)]
pub struct Serving {
    options: ServeOptions,
    state: Mutex<State>,
}

/// What a serve loop counts, under its lock.
#[derive(Debug)]
struct State {
    idle_since: Instant,
    failing_since: Option<Instant>,
    /// Deliveries handed out.
    handled: u64,
    /// Calls of the transport's `next` under way.
    asking: u64,
    /// The first failure of the loop (a transport given up on, a delivery that could not
    /// be settled): the loop stops.
    failed: Option<Error>,
}

impl Serving {
    /// Starts serving node `node_id` (for `capabilities`) on `t`, telling the transport
    /// how many deliveries the loop keeps in flight (`options.window`) before it listens.
    /// A window above [`MAX_WINDOW`] is `InvalidArgument`.
    pub fn start<T: Transport>(t: &T, node_id: &str, capabilities: &[String], options: ServeOptions) -> Result<Self> {
        if options.window > MAX_WINDOW {
            return Err(window_error(options.window));
        }
        if !t.is_listening() {
            t.keep_in_flight(options.window.max(1));
            t.listen(node_id, capabilities)?;
        }
        let state = State { idle_since: Instant::now(), failing_since: None, handled: 0, asking: 0, failed: None };
        Ok(Serving { options, state: Mutex::new(state) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The deliveries handed out so far.
    pub fn handled(&self) -> u64 {
        self.lock().handled
    }

    /// Whether a stop condition holds (or the loop failed).
    pub fn stopping(&self) -> bool {
        self.stops(&self.lock())
    }

    /// Whether the loop failed or its stop flag is set (what ends it even after a delivery
    /// came).
    fn halted(&self, s: &State) -> bool {
        s.failed.is_some() || self.options.stop.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
    }

    fn stops(&self, s: &State) -> bool {
        let o = &self.options;
        self.halted(s)
            || o.should_stop.as_ref().is_some_and(|f| f())
            || o.max_deliveries.is_some_and(|m| s.handled + s.asking >= m)
            || o.idle_timeout.is_some_and(|t| s.idle_since.elapsed() >= t)
    }

    /// Waits up to [`POLL`] for the next delivery. A transport failure is retried (the
    /// call returns `Idle` after a pause) until the server has been unreachable for
    /// `give_up_after`, when it is returned (and the loop stops).
    pub fn poll<T: Transport>(&self, t: &T) -> Result<Poll<T::Delivery>> {
        {
            let mut s = self.lock();
            if self.stops(&s) {
                return Ok(Poll::Stop);
            }
            s.asking += 1;
        }
        let next = t.next(POLL);
        let mut s = self.lock();
        s.asking -= 1;
        match Self::took(&self.options, &mut s, t, next) {
            Err(e) => {
                s.failed.get_or_insert_with(|| e.clone());
                Err(e)
            }
            // Asked to stop (or failed) while it waited: a delivery that came meanwhile
            // is given back, not visited.
            Ok(Poll::Work(d)) if self.halted(&s) => {
                s.handled -= 1;
                drop(s);
                t.abandon(d);
                Ok(Poll::Stop)
            }
            Ok(Poll::Idle) if s.failing_since.is_some() => {
                drop(s);
                std::thread::sleep(POLL);
                Ok(Poll::Idle)
            }
            step => step,
        }
    }

    /// Counts what `next` gave: a delivery, nothing, or a transport failure (retried, so
    /// `Idle`, until `give_up_after`).
    fn took<T: Transport>(
        options: &ServeOptions,
        s: &mut State,
        t: &T,
        next: Result<Option<T::Delivery>>,
    ) -> Result<Poll<T::Delivery>> {
        match next {
            Ok(Some(d)) => {
                s.handled += 1;
                s.idle_since = Instant::now();
                s.failing_since = None;
                Ok(Poll::Work(d))
            }
            Ok(None) => {
                s.failing_since = None;
                Ok(Poll::Idle)
            }
            Err(e) if e.kind() == ErrorKind::Transport => {
                let since = *s.failing_since.get_or_insert_with(Instant::now);
                if options.give_up_after.is_some_and(|limit| since.elapsed() > limit) {
                    return Err(e);
                }
                t.say(&format!("{e} (retrying)"));
                Ok(Poll::Idle)
            }
            Err(e) => Err(e),
        }
    }

    /// The next delivery, or `None` when the loop is over.
    pub fn next<T: Transport>(&self, t: &T) -> Result<Option<T::Delivery>> {
        loop {
            match self.poll(t)? {
                Poll::Work(d) => return Ok(Some(d)),
                Poll::Stop => return Ok(None),
                Poll::Idle => {}
            }
        }
    }

    /// Settles a delivery with its outcome ([`finish`]). A transport failure is not an
    /// error of the loop: the delivery is presented again. Any other failure to settle is
    /// returned, and the loop stops.
    pub fn finish<T: Transport>(&self, t: &T, delivery: T::Delivery, outcome: Result<Outcome<'_>>) -> Result<()> {
        let settled = finish_in_loop(t, delivery, outcome);
        if let Err(e) = &settled {
            self.lock().failed.get_or_insert_with(|| e.clone());
        }
        settled
    }

    /// Gives a delivery back (the host was interrupted while handling it).
    pub fn abandon<T: Transport>(&self, t: &T, delivery: T::Delivery) {
        t.abandon(delivery);
    }
}

/// Runs `node` as a service on `t` until `options` say stop: receives the work for its
/// capabilities, does it and sends the objects on, `options.window` deliveries at a
/// time. Failures of one delivery are settled as [`finish`] says; a failure to listen,
/// a failure to settle that is not the transport's, or a server unreachable for longer
/// than `give_up_after`, ends the loop with the error (the deliveries in hand are
/// finished first).
pub fn serve<T>(node: &Node, t: &T, options: &ServeOptions) -> Result<()>
where
    T: Transport + Sync,
    T::Delivery: Send,
{
    let capabilities: Vec<String> = node.spec().capabilities.iter().cloned().collect();
    serve_with(t, node.id(), &capabilities, options, |work| node.handle(work))
}

/// [`serve`] with the visits done by `visit` (a host's node, whose handlers may need a
/// check after each visit): node `node_id` listens for `capabilities` on `t`. With a
/// window above 1, `visit` is called from the loop's worker threads at once.
pub fn serve_with<T, F>(t: &T, node_id: &str, capabilities: &[String], options: &ServeOptions, visit: F) -> Result<()>
where
    T: Transport + Sync,
    T::Delivery: Send,
    F: Fn(&Work) -> Result<Visit> + Sync,
{
    let serving = Serving::start(t, node_id, capabilities, options.clone())?;
    let work = || -> Result<()> {
        while let Some(d) = serving.next(t)? {
            let visit = visit(t.work(&d));
            serving.finish(t, d, visit.as_ref().map(Outcome::Visit).map_err(Clone::clone))?;
        }
        Ok(())
    };
    if options.window <= 1 {
        return work();
    }
    // `window` workers, each taking its own deliveries (the transport's `next` may be
    // called from several threads), visiting and settling them. The first failure stops
    // the others after the deliveries in their hands, and is returned.
    std::thread::scope(|scope| {
        for _ in 0..options.window {
            scope.spawn(work);
        }
    });
    match serving.lock().failed.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicUsize;

    /// A transport whose server is gone: every `next` fails.
    struct Down(Mutex<Vec<String>>);

    impl Transport for Down {
        type Delivery = ();
        fn listen(&self, _: &str, _: &[String]) -> Result<()> {
            Ok(())
        }
        fn is_listening(&self) -> bool {
            true
        }
        fn next(&self, _: Duration) -> Result<Option<()>> {
            Err(Error::transport("connection refused"))
        }
        fn work<'d>(&self, _: &'d ()) -> &'d Work {
            unreachable!("no delivery is ever made")
        }
        fn settle(&self, _: (), _: &[u8], _: Option<&Object>, _: &[Vec<u8>], _: &[Segment]) -> Result<()> {
            Ok(())
        }
        fn decline(&self, _: (), _: &Error) -> Result<()> {
            Ok(())
        }
        fn reject(&self, _: (), _: &Error) -> Result<()> {
            Ok(())
        }
        fn abandon(&self, _: ()) {}
        fn say(&self, line: &str) {
            self.0.lock().unwrap().push(line.to_owned());
        }
    }

    #[test]
    fn an_unreachable_server_is_retried_then_given_up() {
        let t = Down(Mutex::default());
        let options = ServeOptions { give_up_after: Some(Duration::from_millis(500)), ..Default::default() };
        let started = Instant::now();
        let e = serve(&Node::new("n", "d"), &t, &options).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert!(t.0.lock().unwrap().len() >= 2, "retried: {:?}", t.0.lock().unwrap());
        assert!(t.0.lock().unwrap()[0].ends_with("(retrying)"));
    }

    #[test]
    fn stop_conditions_end_the_loop() {
        let t = Down(Mutex::default());
        let stop = Arc::new(AtomicBool::new(true));
        serve(&Node::new("n", "d"), &t, &ServeOptions { stop: Some(stop), ..Default::default() }).unwrap();
        let idle = ServeOptions { idle_timeout: Some(Duration::ZERO), ..Default::default() };
        serve(&Node::new("n", "d"), &t, &idle).unwrap();
        assert!(t.0.lock().unwrap().is_empty(), "stopped before asking the server");
    }

    /// A transport holding objects to visit in memory; records what it settles.
    #[derive(Default)]
    struct Queue {
        work: Mutex<VecDeque<Work>>,
        settled: Mutex<Vec<Status>>,
        /// Settling fails (with an error that is not the transport's).
        broken: bool,
        /// Set by `next` before it hands out work (a stop asked while it waited).
        stop_on_next: Option<Arc<AtomicBool>>,
        abandoned: Mutex<Vec<Work>>,
    }

    impl Queue {
        fn with(objects: usize) -> Queue {
            let plan =
                serde_json::json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "t", "End": true}}});
            let work = (0..objects)
                .map(|i| {
                    let o = Object::create(
                        &plan,
                        peo_core::Context::new(),
                        &serde_json::json!({"i": i}),
                        &peo_core::CreateOptions::default(),
                    )
                    .unwrap();
                    Work::Visit { object: o.to_bytes(), event: None }
                })
                .collect();
            Queue { work: Mutex::new(work), ..Default::default() }
        }
    }

    impl Transport for Queue {
        type Delivery = Work;
        fn listen(&self, _: &str, _: &[String]) -> Result<()> {
            Ok(())
        }
        fn is_listening(&self) -> bool {
            true
        }
        fn next(&self, timeout: Duration) -> Result<Option<Work>> {
            if let Some(stop) = &self.stop_on_next {
                stop.store(true, Ordering::SeqCst);
            }
            let w = self.work.lock().unwrap().pop_front();
            if w.is_none() {
                std::thread::sleep(timeout.min(Duration::from_millis(10)));
            }
            Ok(w)
        }
        fn work<'d>(&self, d: &'d Work) -> &'d Work {
            d
        }
        fn settle(&self, _: Work, _: &[u8], o: Option<&Object>, _: &[Vec<u8>], _: &[Segment]) -> Result<()> {
            if self.broken {
                return Err(Error::invalid_argument("this transport cannot settle"));
            }
            self.settled.lock().unwrap().push(o.expect("a visit of this process").status());
            Ok(())
        }
        fn decline(&self, _: Work, _: &Error) -> Result<()> {
            Ok(())
        }
        fn reject(&self, _: Work, e: &Error) -> Result<()> {
            panic!("rejected: {e}")
        }
        fn abandon(&self, w: Work) {
            self.abandoned.lock().unwrap().push(w);
        }
    }

    /// A node whose handler takes 50 ms; returns it and the most visits seen at once.
    fn slow_node() -> (Node, Arc<AtomicUsize>) {
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let seen = most.clone();
        let node = Node::new("n", "d").with_trust(peo_core::Trust::any()).handler("t", move |c: &crate::Invocation| {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(n, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            now.fetch_sub(1, Ordering::SeqCst);
            Ok((*c.input).clone())
        });
        (node, seen)
    }

    #[test]
    fn a_window_visits_deliveries_concurrently() {
        let idle = Some(Duration::from_millis(300));
        for (window, expected) in [(1, 1), (4, 4)] {
            let (node, most) = slow_node();
            let t = Queue::with(12);
            serve(&node, &t, &ServeOptions { idle_timeout: idle, window, ..Default::default() }).unwrap();
            let settled = t.settled.lock().unwrap();
            assert_eq!(settled.len(), 12, "window {window}: every delivery settled");
            assert!(settled.iter().all(|s| *s == Status::Succeeded), "{settled:?}");
            assert_eq!(most.load(Ordering::SeqCst), expected, "window {window}: visits at once");
        }
    }

    #[test]
    fn a_window_takes_no_more_than_max_deliveries() {
        let (node, _) = slow_node();
        let t = Queue::with(12);
        serve(&node, &t, &ServeOptions { max_deliveries: Some(5), window: 4, ..Default::default() }).unwrap();
        assert_eq!(t.settled.lock().unwrap().len(), 5);
        assert_eq!(t.work.lock().unwrap().len(), 7, "the rest are left for other nodes");
    }

    #[test]
    fn a_window_past_the_bound_is_refused_before_serving() {
        let (node, _) = slow_node();
        let t = Queue::with(1);
        let e = serve(&node, &t, &ServeOptions { window: MAX_WINDOW + 1, ..Default::default() }).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            e.message(),
            "window must be a whole number of deliveries in flight at once, from 1 to 1024, not 1025"
        );
        assert_eq!(t.work.lock().unwrap().len(), 1, "nothing taken");
    }

    #[test]
    fn a_failure_to_settle_ends_a_windowed_loop() {
        let (node, _) = slow_node();
        let t = Queue { broken: true, ..Queue::with(6) };
        let e = serve(&node, &t, &ServeOptions { window: 3, ..Default::default() }).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.message(), "this transport cannot settle");
    }

    #[test]
    fn a_delivery_that_comes_after_a_stop_is_given_back_not_visited() {
        let (node, most) = slow_node();
        let stop = Arc::new(AtomicBool::new(false));
        let t = Queue { stop_on_next: Some(stop.clone()), ..Queue::with(3) };
        serve(&node, &t, &ServeOptions { stop: Some(stop), ..Default::default() }).unwrap();
        assert_eq!(most.load(Ordering::SeqCst), 0, "not visited");
        assert!(t.settled.lock().unwrap().is_empty());
        assert_eq!(t.abandoned.lock().unwrap().len(), 1, "given back");
        assert_eq!(t.work.lock().unwrap().len(), 2, "the rest never taken");
    }

    #[test]
    fn a_host_may_poll_and_finish_from_several_threads() {
        let (node, _) = slow_node();
        let t = Queue::with(9);
        let idle = ServeOptions { idle_timeout: Some(Duration::from_millis(300)), ..Default::default() };
        let serving = Serving::start(&t, "n", &[], idle).unwrap();
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    while let Some(d) = serving.next(&t).unwrap() {
                        let visit = node.handle(&d);
                        serving.finish(&t, d, visit.as_ref().map(Outcome::Visit).map_err(Clone::clone)).unwrap();
                    }
                });
            }
        });
        assert_eq!(serving.handled(), 9);
        assert_eq!(t.settled.lock().unwrap().len(), 9);
    }
}
