//! Writing to stdout: a closed pipe (`keyproof … | head`) ends the program quietly.

use std::io::{self, Write};

/// Writes text to stdout. A broken pipe is not an error.
pub fn emit(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Whether to draw with colour: only on a terminal, and never with NO_COLOR set.
pub fn colour() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none() && io::stdout().is_terminal()
}
