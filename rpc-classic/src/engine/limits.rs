//! A session's rhai engine with its limits, and script failures as remote errors.

use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, Position};
use rpc_core::{RemoteError, RemoteErrorKind};

use super::Shared;
use crate::ScriptLimits;

/// The type name of a script's error (syntax, run time, a failed call it made).
pub const SCRIPT_ERROR: &str = "rpc_classic::ScriptError";
/// The type name of a script stopped by one of its limits.
pub const SCRIPT_LIMIT: &str = "rpc_classic::ScriptLimit";

/// What `on_progress` terminates a script with when its wall time is up.
pub(crate) const WALL_TIME_TOKEN: &str = "rpc_classic: wall-time limit";
/// What a re-entrant evaluation nested too deep fails with.
pub(crate) const NESTING_TOKEN: &str = "rpc_classic: nesting limit";
/// How many operations pass between two looks at the clock.
const CLOCK_EVERY: u64 = 256;

/// A new engine with the session's limits and hooks.
pub(crate) fn engine(limits: &ScriptLimits, shared: &Arc<Shared>) -> Engine {
    let mut engine = Engine::new();
    // `import` would read script files from the server's disk: no modules at all.
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.set_max_modules(0);
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);

    let clock = shared.clone();
    engine.on_progress(move |ops| {
        (ops % CLOCK_EVERY == 0 && clock.past_deadline()).then(|| Dynamic::from(WALL_TIME_TOKEN))
    });
    let out = shared.clone();
    engine.on_print(move |line| out.output(line));
    let out = shared.clone();
    engine.on_debug(move |line, source, pos| {
        let line = match (source, pos.line()) {
            (Some(source), Some(l)) => format!("[{source}:{l}] {line}"),
            (None, Some(l)) => format!("[line {l}] {line}"),
            (_, None) => line.to_owned(),
        };
        out.output(&line);
    });
    super::objects::register(&mut engine, shared);
    engine
}

/// A script's failure as the remote error the client gets.
pub(crate) fn remote_error(err: &EvalAltResult, limits: &ScriptLimits) -> RemoteError {
    let inner = err.unwrap_inner();
    let limit = match inner {
        EvalAltResult::ErrorTerminated(token, _) => match token.clone().into_string().ok().as_deref() {
            Some(WALL_TIME_TOKEN) => Some(wall_time_message(limits)),
            Some(NESTING_TOKEN) => Some(format!(
                "re-entrant evaluations nested deeper than {} levels",
                super::MAX_NESTED
            )),
            _ => Some("the script was terminated".to_owned()),
        },
        EvalAltResult::ErrorTooManyOperations(_) => {
            Some(format!("too many operations (limit {})", limits.max_operations))
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            Some(format!("call depth over {} (the limit)", limits.max_call_levels))
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => Some(size_message(what, limits)),
        EvalAltResult::ErrorTooManyModules(_) => Some("modules cannot be imported".to_owned()),
        _ => None,
    };
    let pos = err.position();
    let at = position(pos);
    match limit {
        Some(message) => {
            let mut e = RemoteError::new(
                RemoteErrorKind::Application,
                SCRIPT_LIMIT,
                format!("{message}{at}"),
            );
            e.causes.push(err.to_string());
            e
        }
        None => {
            // rhai ends its text with ` (line N, position M)`: say column instead.
            let text = err.to_string();
            let suffix = format!(" ({pos})");
            let plain = text.strip_suffix(&suffix).unwrap_or(&text);
            RemoteError::new(RemoteErrorKind::Application, SCRIPT_ERROR, format!("{plain}{at}"))
        }
    }
}

/// The message of the wall-time limit.
pub(crate) fn wall_time_message(limits: &ScriptLimits) -> String {
    format!(
        "the script ran longer than its wall-time limit of {:?}",
        limits.wall_time
    )
}

fn size_message(what: &str, limits: &ScriptLimits) -> String {
    let lower = what.to_ascii_lowercase();
    if lower.contains("string") {
        format!("a string over the size limit of {} bytes", limits.max_string_size)
    } else if lower.contains("array") {
        format!(
            "an array over the size limit of {} elements",
            limits.max_array_size
        )
    } else if lower.contains("map") {
        format!("a map over the size limit of {} entries", limits.max_map_size)
    } else {
        format!("{what} over its size limit")
    }
}

/// ` (line N, column M)`, or nothing for no position.
fn position(pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(line), Some(column)) => format!(" (line {line}, column {column})"),
        (Some(line), None) => format!(" (line {line})"),
        _ => String::new(),
    }
}

/// A limit error raised outside rhai (a wait on a remote call past the deadline).
pub(crate) fn wall_time_error(pos: Position) -> Box<EvalAltResult> {
    EvalAltResult::ErrorTerminated(Dynamic::from(WALL_TIME_TOKEN), pos).into()
}

/// The error of a re-entrant evaluation nested too deep.
pub(crate) fn nesting_error() -> Box<EvalAltResult> {
    EvalAltResult::ErrorTerminated(Dynamic::from(NESTING_TOKEN), Position::NONE).into()
}

/// A plain script error, for failures outside rhai (a remote call, a conversion).
pub(crate) fn runtime_error(message: impl Into<String>, pos: Position) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(message.into()), pos).into()
}
