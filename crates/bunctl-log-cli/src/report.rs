//! What `pipe` and `run` say on stderr at the end: counts with their nouns, and the warning
//! that every line was written though closing the files failed.

/// What a failed close means for the exit status: with every line written it is a warning on
/// stderr naming what was left undone (`Ok`: the status says whether lines were lost, and none
/// was); with a line missing it is the error.
pub(crate) fn after_close<E>(closed: Result<(), E>, every_line_written: bool) -> Result<(), E>
where
    E: std::fmt::Display,
{
    match closed {
        Err(e) if every_line_written => {
            eprintln!("{}", left_undone(&e));
            Ok(())
        }
        closed => closed,
    }
}

/// The warning [`after_close`] prints.
fn left_undone(e: &dyn std::fmt::Display) -> String {
    format!(
        "bunctl-log: warning: every line is in the files, but closing them failed: {e} \
         (left undone: what came after the last write, such as compressing a rotated file)"
    )
}

/// `1 line`, `2 lines`, `0 lines`: a count and its noun, plural unless it is one.
pub(crate) fn counted(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_close_is_a_warning_only_when_every_line_was_written() {
        let e = || Err::<(), _>("cannot close log file /d/a.log: Too many open files");
        assert_eq!(after_close(e(), true), Ok(()));
        assert_eq!(after_close(e(), false), e());
        assert_eq!(after_close(Ok::<(), &str>(()), false), Ok(()));
        let said = left_undone(&"cannot close log file /d/a.log: Too many open files");
        assert!(said.starts_with("bunctl-log: warning: every line is in the files"));
        assert!(said.contains("/d/a.log: Too many open files (left undone: "));
    }
}
