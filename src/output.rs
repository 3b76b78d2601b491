//! Writing to stdout, and the terminal conventions every command follows: `--color`, `NO_COLOR`
//! and `--quiet`. A closed pipe (`keyproof … | head`) ends the program quietly.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// `--color`: when to draw with colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set to a non-empty value.
    #[default]
    Auto,
    Always,
    Never,
}

static COLOR: AtomicU8 = AtomicU8::new(0);
static QUIET: AtomicBool = AtomicBool::new(false);

/// Records the global flags (once, in `main`).
pub fn configure(color: ColorChoice, quiet: bool) {
    COLOR.store(color as u8, Ordering::Relaxed);
    QUIET.store(quiet, Ordering::Relaxed);
}

fn choice() -> ColorChoice {
    match COLOR.load(Ordering::Relaxed) {
        1 => ColorChoice::Always,
        2 => ColorChoice::Never,
        _ => ColorChoice::Auto,
    }
}

/// `NO_COLOR` counts only when it is set to a non-empty value (<https://no-color.org>).
fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// The decision for one stream: `--color always|never` decide; `auto` draws with colour only
/// when the stream is a terminal and `NO_COLOR` is not set to a non-empty value.
fn decide(is_terminal: bool) -> bool {
    match choice() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && !no_color_env(),
    }
}

/// Whether what goes to stdout is drawn with colour.
pub fn colour_stdout() -> bool {
    decide(io::stdout().is_terminal())
}

/// Whether what goes to stderr (diagnostics) is drawn with colour.
pub fn colour_stderr() -> bool {
    decide(io::stderr().is_terminal())
}

/// `--quiet`: no progress and no notes on stderr (answers and errors are still printed).
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A note or progress line on stderr, unless `--quiet`.
pub fn note(text: &str) {
    if !quiet() {
        eprint!("{text}");
    }
}

/// Writes text to stdout. A broken pipe is not an error.
pub fn emit(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
