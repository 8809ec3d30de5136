//! The parsed intent: the ASL state model plus peo's extensions.

use std::collections::BTreeMap;

use serde_json::Value;

/// A parsed ASL document with peo's top-level extensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The top-level state machine (`StartAt`, `States`).
    pub machine: StateMachine,
    pub comment: Option<String>,
    pub version: Option<String>,
    /// The execution-level `TimeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// peo: what the object is for.
    pub objective: Option<String>,
    /// peo: the object's class.
    pub class: Option<String>,
    /// peo: bounds on the whole execution.
    pub constraints: Constraints,
    /// peo: rules by which the intent refines itself.
    pub adapt: Vec<AdaptRule>,
    /// peo: states that wait for a named external event, by state name.
    pub awaits: BTreeMap<String, AwaitSpec>,
    /// peo: when the memory is folded into a checkpoint (docs/long-lived.md).
    pub compaction: Option<Compaction>,
}

/// `"Compaction": {"After": n, "Keep": k}`: when the memory holds more than `After`
/// records, the cycle folds all but the newest `Keep` into a checkpoint record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    pub after: u32,
    pub keep: u32,
}

impl Compaction {
    /// Checked: `0 <= keep < after` (an `InvalidIntent` error naming `Compaction`).
    pub fn new(after: u32, keep: u32) -> crate::Result<Compaction> {
        super::parse_compaction(&serde_json::json!({"After": after, "Keep": keep}))
    }
}

/// `StartAt` and `States`: the top level, a `Parallel` branch, or a `Map` processor.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachine {
    pub start_at: String,
    /// States in the order the document lists them (canonically: sorted by name).
    pub states: Vec<State>,
    index: foldhash::HashMap<String, usize>,
}

impl StateMachine {
    pub(crate) fn new(start_at: String, states: Vec<State>) -> Self {
        let index = states.iter().enumerate().map(|(i, s)| (s.name.clone(), i)).collect();
        StateMachine { start_at, states, index }
    }

    /// The state called `name`, if this machine has one.
    pub fn get(&self, name: &str) -> Option<&State> {
        self.index.get(name).map(|&i| &self.states[i])
    }

    /// The number of states here and in every nested machine.
    pub fn count_states(&self) -> usize {
        self.states
            .iter()
            .map(|s| {
                1 + match &s.kind {
                    StateKind::Parallel(p) => p.branches.iter().map(StateMachine::count_states).sum(),
                    StateKind::Map(m) => m.processor.count_states(),
                    _ => 0,
                }
            })
            .sum()
    }
}

/// One named state.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    pub comment: Option<String>,
    pub kind: StateKind,
    /// Where the state goes when it completes normally.
    pub transition: Transition,
    pub input_path: PathSpec,
    pub output_path: PathSpec,
    /// `Assign`: the workflow variables the state sets when it completes (a payload
    /// template whose top-level keys are the variables' names). On a Choice state, the
    /// assignment made when no rule matches.
    pub assign: Option<Value>,
    /// The query language the state's fields are written in.
    pub query_language: QueryLanguage,
    /// JSONata `Output`: the state's output (a template). On a Choice state, the output
    /// when no rule matches.
    pub output: Option<Value>,
}

/// `QueryLanguage`: how a state's fields read and shape data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    /// Paths (`InputPath`, `Parameters`, `ResultSelector`, `ResultPath`, `OutputPath`).
    #[default]
    JsonPath,
    /// `{% ... %}` expressions (`Arguments`, `Output`, `Assign`, `Condition`, `Items`).
    Jsonata,
}

impl State {
    /// The ASL `Type` of the state.
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// `Next`.
    Next(String),
    /// `End: true`.
    End,
    /// `Choice`, `Succeed` and `Fail` states: no `Next`/`End` of their own.
    None,
}

/// An `InputPath`, `OutputPath`, `ResultPath` or `ItemsPath` value.
#[derive(Debug, Clone, PartialEq)]
pub enum PathSpec {
    /// The field is absent: `$`.
    Default,
    /// The field is `null`.
    Null,
    /// A JSONPath (reference path for `ResultPath`).
    Path(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    Task(Task),
    Pass(Pass),
    Choice(Choice),
    Wait(Wait),
    Succeed,
    Fail(Fail),
    Parallel(Parallel),
    Map(Map),
}

impl StateKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Task(_) => "Task",
            StateKind::Pass(_) => "Pass",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

/// A number given directly or read from the input by a path (`TimeoutSeconds` /
/// `TimeoutSecondsPath`, `MaxConcurrency` / `MaxConcurrencyPath`, ...).
#[derive(Debug, Clone, PartialEq)]
pub enum NumberSpec {
    Value(f64),
    Path(String),
    /// A JSONata expression (the text inside `{% ... %}`).
    Expr(String),
}

/// A string given directly or read from the input by a path (`Error` / `ErrorPath`).
#[derive(Debug, Clone, PartialEq)]
pub enum StringSpec {
    Value(String),
    Path(String),
    /// A JSONata expression (the text inside `{% ... %}`).
    Expr(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The capability (a name such as `inventory.reserve`, or an ARN).
    pub resource: String,
    pub parameters: Option<Value>,
    /// JSONata `Arguments`: the handler's input (a template).
    pub arguments: Option<Value>,
    pub result_selector: Option<Value>,
    pub result_path: PathSpec,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub timeout_seconds: Option<NumberSpec>,
    pub heartbeat_seconds: Option<NumberSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    pub result: Option<Value>,
    pub parameters: Option<Value>,
    pub result_path: PathSpec,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub choices: Vec<ChoiceBranch>,
    pub default: Option<String>,
}

/// A top-level Choice rule and the state it leads to.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceBranch {
    pub rule: Rule,
    pub next: String,
    /// `Assign` made when this rule matches.
    pub assign: Option<Value>,
    /// JSONata `Output` when this rule matches.
    pub output: Option<Value>,
}

/// A Choice rule (also the `When` of an `Adapt` rule).
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test {
        variable: String,
        op: Comparison,
        operand: Operand,
    },
    /// JSONata `Condition`: an expression (the text inside `{% ... %}`) that must give a
    /// boolean.
    Condition(String),
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A literal (`StringEquals: "x"`).
    Value(Value),
    /// A path into the input (`StringEqualsPath: "$.x"`).
    Path(String),
}

/// The Choice-rule comparison operators, without their `Path` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

/// What a comparison's literal operand must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperandType {
    String,
    Number,
    Boolean,
    Timestamp,
}

impl Comparison {
    /// Every operator with its ASL name, its operand type and whether a `Path`
    /// variant exists.
    pub(crate) const TABLE: &'static [(Comparison, &'static str, OperandType, bool)] = &[
        (Comparison::StringEquals, "StringEquals", OperandType::String, true),
        (Comparison::StringLessThan, "StringLessThan", OperandType::String, true),
        (Comparison::StringGreaterThan, "StringGreaterThan", OperandType::String, true),
        (Comparison::StringLessThanEquals, "StringLessThanEquals", OperandType::String, true),
        (Comparison::StringGreaterThanEquals, "StringGreaterThanEquals", OperandType::String, true),
        (Comparison::StringMatches, "StringMatches", OperandType::String, false),
        (Comparison::NumericEquals, "NumericEquals", OperandType::Number, true),
        (Comparison::NumericLessThan, "NumericLessThan", OperandType::Number, true),
        (Comparison::NumericGreaterThan, "NumericGreaterThan", OperandType::Number, true),
        (Comparison::NumericLessThanEquals, "NumericLessThanEquals", OperandType::Number, true),
        (Comparison::NumericGreaterThanEquals, "NumericGreaterThanEquals", OperandType::Number, true),
        (Comparison::BooleanEquals, "BooleanEquals", OperandType::Boolean, true),
        (Comparison::TimestampEquals, "TimestampEquals", OperandType::Timestamp, true),
        (Comparison::TimestampLessThan, "TimestampLessThan", OperandType::Timestamp, true),
        (Comparison::TimestampGreaterThan, "TimestampGreaterThan", OperandType::Timestamp, true),
        (Comparison::TimestampLessThanEquals, "TimestampLessThanEquals", OperandType::Timestamp, true),
        (Comparison::TimestampGreaterThanEquals, "TimestampGreaterThanEquals", OperandType::Timestamp, true),
        (Comparison::IsNull, "IsNull", OperandType::Boolean, false),
        (Comparison::IsPresent, "IsPresent", OperandType::Boolean, false),
        (Comparison::IsNumeric, "IsNumeric", OperandType::Boolean, false),
        (Comparison::IsString, "IsString", OperandType::Boolean, false),
        (Comparison::IsBoolean, "IsBoolean", OperandType::Boolean, false),
        (Comparison::IsTimestamp, "IsTimestamp", OperandType::Boolean, false),
    ];

    /// The ASL name (`"NumericEquals"`).
    pub fn name(self) -> &'static str {
        Self::TABLE.iter().find(|row| row.0 == self).map(|row| row.1).unwrap_or("?")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Seconds(u64),
    Timestamp(String),
    SecondsPath(String),
    TimestampPath(String),
    /// JSONata `Seconds` given as an expression.
    SecondsExpr(String),
    /// JSONata `Timestamp` given as an expression.
    TimestampExpr(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub wait_for: WaitFor,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fail {
    pub error: Option<StringSpec>,
    pub cause: Option<StringSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    pub branches: Vec<StateMachine>,
    pub parameters: Option<Value>,
    /// JSONata `Arguments`: the branches' input (a template).
    pub arguments: Option<Value>,
    pub result_selector: Option<Value>,
    pub result_path: PathSpec,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    pub items_path: PathSpec,
    /// JSONata `Items`: the items (an array, or a template giving one).
    pub items: Option<Value>,
    /// `ItemSelector` (or the older `Parameters`).
    pub item_selector: Option<Value>,
    /// `ItemProcessor` (or the older `Iterator`).
    pub processor: StateMachine,
    pub max_concurrency: Option<NumberSpec>,
    pub tolerated_failure_count: Option<NumberSpec>,
    pub tolerated_failure_percentage: Option<NumberSpec>,
    pub label: Option<String>,
    pub result_selector: Option<Value>,
    pub result_path: PathSpec,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    None,
    Full,
}

/// One `Retry` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

/// One `Catch` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    pub result_path: PathSpec,
    /// `Assign` made when this catcher catches (`$` is the error output).
    pub assign: Option<Value>,
    /// JSONata `Output`: the next state's input (default: the error output).
    pub output: Option<Value>,
}

/// `Constraints`: bounds on the whole execution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Constraints {
    /// Absolute time (ms since the Unix epoch) after which the object expires.
    pub deadline_ms: Option<i64>,
    pub max_hops: Option<u32>,
    pub max_records: Option<u32>,
    /// When present, the only domains that may act on the object.
    pub allowed_domains: Option<Vec<String>>,
}

/// One `Adapt` rule: when `when` holds, apply `then` (at most once per revision).
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptRule {
    pub name: Option<String>,
    pub when: Rule,
    pub then: Refinement,
}

/// What an `Adapt` rule changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refinement {
    pub objective: Option<String>,
    pub class: Option<String>,
    pub constraints: Option<Constraints>,
    /// States added to (or replacing states of) the top-level machine.
    pub states: Vec<State>,
    /// The state to continue at.
    pub goto: Option<String>,
}

/// An `Await` entry: the state waits, dormant, for a named external event.
#[derive(Debug, Clone, PartialEq)]
pub struct AwaitSpec {
    pub event: StringSpec,
    /// `Signers`: the keys whose signed events ([`crate::Event::signed`]) end the wait;
    /// empty: any event of the name.
    pub signers: Vec<crate::PublicKey>,
    pub timeout_seconds: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
}
