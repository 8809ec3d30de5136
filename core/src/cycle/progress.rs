//! What the memory leaves to the next cycle: the pending step, attempts and retries of
//! the current state entry, and the `$$` counters Step Functions would show.

use super::*;

/// What the last records leave to the next cycle.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pending {
    /// Evaluate the current state.
    Evaluate,
    /// The current state raised this error: retry, catch or fail.
    Error(TaskError),
    /// Dormant until this holds.
    Dormant(Wake),
    /// The plan reached its end: terminate.
    Ended,
    /// A `.waitForTaskToken` Task's handler has run: wait for the token's event.
    AwaitToken(String),
    /// Terminated.
    Done,
}

/// Facts about the current state entry, derived from memory (cached on the object).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Progress {
    pub visit: u32,
    pub pending: Pending,
    /// Execute records since the current state was entered.
    pub attempts: u32,
    /// Errors counted against each retrier of the current state (including a pending one).
    pub retries: Vec<u32>,
    /// The first record of the current state entry.
    pub entered_seq: u32,
    pub entered_ms: i64,
    /// The genesis record's time (the execution's start).
    pub start_ms: i64,
}

pub(super) fn retrier_index(state: Option<&State>, error: &str) -> Option<usize> {
    let retry = match &state?.kind {
        StateKind::Task(t) => &t.retry,
        StateKind::Parallel(p) => &p.retry,
        StateKind::Map(m) => &m.retry,
        _ => return None,
    };
    if !asl::retriable(error) {
        return None;
    }
    retry.iter().position(|r| asl::error_matches(&r.error_equals, error))
}

pub(super) fn retrier_count(state: Option<&State>) -> usize {
    match state.map(|s| &s.kind) {
        Some(StateKind::Task(t)) => t.retry.len(),
        Some(StateKind::Parallel(p)) => p.retry.len(),
        Some(StateKind::Map(m)) => m.retry.len(),
        _ => 0,
    }
}

pub(super) fn pending_of(r: &Record) -> Pending {
    match &r.body {
        _ if r.status.is_terminal() => Pending::Done,
        Body::Execute { error: Some(e), .. } => Pending::Error(e.clone()),
        Body::Delegate { reason: DelegateReason::FanOut, .. } | Body::Reentry { cause: ReentryCause::Children, .. }
            if r.status == Status::Dormant =>
        {
            Pending::Dormant(Wake { reason: DormantReason::Join, at_ms: None, event: None, timeout_at_ms: None })
        }
        Body::Reentry { .. } if fanout::children_error(r).is_some() => {
            Pending::Error(fanout::children_error(r).expect("checked"))
        }
        Body::Reentry { .. } if awaits::reentry_error(r).is_some() => {
            Pending::Error(awaits::reentry_error(r).expect("checked"))
        }
        Body::Dormant { reason, wake_at_ms, event, timeout_at_ms } => Pending::Dormant(Wake {
            reason: *reason,
            at_ms: *wake_at_ms,
            event: event.clone(),
            timeout_at_ms: *timeout_at_ms,
        }),
        Body::Execute { error: None, idempotency_key: Some(k), capability, .. }
            if r.state == r.next_state && capability.ends_with(WAIT_FOR_TASK_TOKEN) =>
        {
            Pending::AwaitToken(k.clone())
        }
        _ if r.next_state.is_empty() => Pending::Ended,
        _ => Pending::Evaluate,
    }
}

/// `<object id>/<state>/<entry>/<attempt>`: names one attempt of one entry into a
/// state, the same on every node (all four parts come from the memory). `<entry>` is the
/// position of the record that entered the state, so a loop that comes back to a state
/// gets new keys: a handler can tell a second pass from a redelivery. It is also a
/// `.waitForTaskToken` Task's token.
pub(super) fn attempt_key(obj: &Object, state: &str, p: &Progress) -> String {
    // Written into one allocation, numbers by itoa: this runs once a Task cycle (`format!`
    // with the id's `to_hex` was 6% of a transition, `write!` of the numbers 3%).
    let mut hex = [0u8; 32];
    hex::encode_to_slice(obj.id.0, &mut hex).expect("32 hex digits for 16 bytes");
    let mut numbers = itoa::Buffer::new();
    let mut key = String::with_capacity(hex.len() + state.len() + 24);
    key.push_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"));
    key.push('/');
    key.push_str(state);
    key.push('/');
    key.push_str(numbers.format(obj.ordinal(p.entered_seq)));
    key.push('/');
    key.push_str(numbers.format(p.attempts));
    key
}

/// The suffix of a Task resource that waits for its task token to be answered.
pub const WAIT_FOR_TASK_TOKEN: &str = ".waitForTaskToken";

/// The error of a task whose handler returned a refinement that is not valid.
pub const INVALID_REFINEMENT: &str = "peo.InvalidRefinement";

/// The error a record raised at its state: a failed execution, or a failed or timed-out
/// wait for an awaited event.
pub(crate) fn failed(r: &Record) -> Option<TaskError> {
    match &r.body {
        Body::Execute { error: Some(e), .. } => Some(e.clone()),
        _ => awaits::reentry_error(r).or_else(|| fanout::children_error(r)),
    }
}

/// Whether `r` continues the entry of its state (a failed attempt, a retry back-off).
pub(crate) fn continues_entry(r: &Record) -> bool {
    r.state == r.next_state
        && match &r.body {
            Body::Checkpoint { .. } => true,
            Body::Execute { error: Some(_), .. } | Body::Dormant { .. } | Body::Reentry { .. } => true,
            Body::Delegate { reason: DelegateReason::FanOut, .. } => true,
            Body::Execute { capability, .. } => capability.ends_with(WAIT_FOR_TASK_TOKEN),
            _ => false,
        }
}

impl Progress {
    /// Reads the progress from the memory: the last record, and the records of the
    /// current state entry before it.
    pub(crate) fn from_memory(obj: &Object) -> Result<Progress> {
        let n = obj.memory.len();
        let first = obj.pruned() as usize;
        let base = obj.base.as_ref().map(|b| &b.summary);
        let last = obj.memory.last().ok_or_else(|| Error::internal("an object without records"))?.decode()?;
        let state = crate::intent::find_state(&obj.intent.plan().machine, &last.next_state);
        // Positions come from the memory itself, not from the records' own `seq` fields
        // (an object that has not been verified may carry any values there).
        let mut p = Progress {
            visit: last.visit,
            pending: pending_of(&last),
            attempts: 0,
            retries: vec![0; retrier_count(state)],
            entered_seq: (first + n) as u32,
            entered_ms: last.time_ms,
            start_ms: match base {
                Some(s) => s.start_ms,
                None if n == 1 => last.time_ms,
                None => obj.memory[0].decode()?.time_ms,
            },
        };
        let mut at = n - 1;
        let mut rec = last;
        loop {
            if !continues_entry(&rec) {
                break;
            }
            if let Some(e) = failed(&rec) {
                p.attempts += 1;
                if let Some(i) = retrier_index(state, &e.error)
                    && let Some(c) = p.retries.get_mut(i)
                {
                    *c += 1;
                }
            }
            p.entered_seq = (first + at) as u32;
            p.entered_ms = rec.time_ms;
            if at == 0 {
                // The entry may go on among the pruned records: the checkpoint's summary
                // says how it stood after the last of them.
                if let Some(s) = base
                    && s.entry.state == rec.state
                {
                    if !s.entry.continues {
                        p.entered_ms = s.entry.ms;
                        break;
                    }
                    for (error, count) in &s.entry.errors {
                        p.attempts += count;
                        if let Some(i) = retrier_index(state, error)
                            && let Some(c) = p.retries.get_mut(i)
                        {
                            *c += count;
                        }
                    }
                    p.entered_seq = s.entry.seq;
                    p.entered_ms = s.entry.ms;
                }
                break;
            }
            let prev = obj.memory[at - 1].decode()?;
            if prev.next_state != rec.state {
                break;
            }
            if !continues_entry(&prev) {
                p.entered_ms = prev.time_ms;
                break;
            }
            rec = prev;
            at -= 1;
        }
        Ok(p)
    }

    /// The progress after appending `r` (without re-reading memory).
    pub(super) fn after(&self, r: &Record, obj: &Object) -> Progress {
        if !continues_entry(r) {
            return Progress {
                visit: r.visit,
                pending: pending_of(r),
                attempts: 0,
                retries: Vec::new(),
                entered_seq: r.seq + 1,
                entered_ms: r.time_ms,
                start_ms: self.start_ms,
            };
        }
        let mut p = self.clone();
        p.visit = r.visit;
        p.pending = pending_of(r);
        if let Some(e) = failed(r) {
            p.attempts += 1;
            let state = crate::intent::find_state(&obj.intent.plan().machine, &r.next_state);
            if let Some(i) = retrier_index(state, &e.error) {
                if p.retries.len() <= i {
                    p.retries.resize(i + 1, 0);
                }
                p.retries[i] += 1;
            }
        }
        p
    }
}

/// How many Step Functions history events a record stands for (to quote "entered at
/// the event id #N" in runtime errors as Step Functions does).
/// `after_wait`: the record before `r` is a Wait state's `dormant` (so a `reentry`
/// ends a Wait state).
pub(crate) fn aws_events(r: &Record, after_wait: bool, plan_state: Option<&State>) -> u32 {
    match &r.body {
        Body::Genesis { .. } => 1,
        Body::Mutate { kind: MutateKind::Data | MutateKind::Route, change, .. } => {
            if change.as_deref().is_some_and(|c| c.contains("\"catch\"")) { 1 } else { 2 }
        }
        Body::Mutate { .. } => 0,
        Body::Execute { attempt, error, .. } => (*attempt == 0) as u32 + 3 + error.is_none() as u32,
        Body::Dormant { reason: DormantReason::Wait, .. } => 1,
        Body::Reentry { .. } if after_wait => 1,
        Body::Terminate { .. } => match plan_state.map(|s| &s.kind) {
            Some(StateKind::Succeed) => 2,
            Some(StateKind::Fail(_)) => 1,
            _ => 0,
        },
        _ => 0,
    }
}

pub(super) fn entered_event_id(obj: &Object, entered_seq: u32) -> u32 {
    let machine = &obj.intent.plan().machine;
    let (mut n, mut after_wait) =
        obj.base.as_ref().map_or((0, false), |b| (b.summary.aws_events, b.summary.after_wait));
    for r in obj.memory.iter().take_while(|r| r.meta.seq < entered_seq) {
        if let Ok(rec) = r.decode() {
            n += aws_events(&rec, after_wait, crate::intent::find_state(machine, &rec.state));
            after_wait = matches!(rec.body, Body::Dormant { reason: DormantReason::Wait, .. });
        }
    }
    n + 1
}
