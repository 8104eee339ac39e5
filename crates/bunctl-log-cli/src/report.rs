//! What `pipe` and `run` say on stderr at the end: counts with their nouns, and the warning
//! that every line was written though closing the files failed.

/// Says on stderr that every line is in the files but closing them failed (exit 0: the
/// status says whether lines were lost, and none was).
pub(crate) fn warn_left_undone(e: &dyn std::fmt::Display) {
    eprintln!(
        "bunctl-log: warning: every line is in the files, but closing them failed: {e} \
         (left undone: what came after the last write, such as compressing a rotated file)"
    );
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
