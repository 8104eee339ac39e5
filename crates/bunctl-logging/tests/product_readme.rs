//! The product README's code blocks and test commands, kept in step with what compiles them.
//!
//! `docs/PRODUCT-README.md` is a copy of the README written by the product's user. Its Rust
//! blocks are doctests in `src/product_readme.md` (the module `bunctl_logging::product_readme`),
//! with hidden lines around them; these tests check that what a reader of the doctests sees is
//! the README's blocks exactly, and that the README's test commands name test modules that
//! exist.

use std::path::{Path, PathBuf};

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fenced code block: its info string (after the opening ```) and its lines.
#[derive(Debug)]
struct Block {
    info: String,
    lines: Vec<String>,
}

/// The fenced code blocks of a markdown text, in order (fences at the start of a line).
fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for line in markdown.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_owned(),
                    lines: Vec::new(),
                })
            }
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some(block), None) => block.lines.push(line.to_owned()),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a code block is not closed");
    out
}

/// Whether rustdoc hides `line` of a Rust doctest: `# ` or a lone `#`, after leading
/// whitespace (`##` shows as `#`, which no block here uses).
fn hidden(line: &str) -> bool {
    let t = line.trim();
    t == "#" || t.starts_with("# ")
}

#[test]
fn each_rust_block_of_the_product_readme_is_a_doctest_showing_exactly_its_lines() {
    let readme = read(&repo_file("docs/PRODUCT-README.md"));
    let doctests = read(&repo_file("crates/bunctl-logging/src/product_readme.md"));
    let wanted: Vec<Vec<String>> = blocks(&readme)
        .into_iter()
        .filter(|b| b.info == "rust")
        .map(|b| b.lines)
        .collect();
    assert_eq!(wanted.len(), 5, "the product README has five Rust blocks");
    let tests = blocks(&doctests);
    assert_eq!(
        tests.len(),
        wanted.len(),
        "one doctest per Rust block of the README"
    );
    for (i, (test, want)) in tests.iter().zip(&wanted).enumerate() {
        // Compiled, and run unless it cannot be (no `ignore`, no `compile_fail`).
        assert!(
            test.info == "rust" || test.info == "rust,no_run",
            "doctest {i} is `{}`",
            test.info
        );
        let shown: Vec<&String> = test.lines.iter().filter(|l| !hidden(l)).collect();
        let want: Vec<&String> = want.iter().collect();
        assert_eq!(
            shown, want,
            "doctest {i} does not show the README's block {i} as written"
        );
    }
}

#[test]
fn the_product_readme_test_commands_name_test_modules_that_exist() {
    let readme = read(&repo_file("docs/PRODUCT-README.md"));
    let modules = read(&repo_file("crates/bunctl-logging/tests/product/main.rs"));
    let mut filters = Vec::new();
    for block in blocks(&readme).iter().filter(|b| b.info == "bash") {
        for line in &block.lines {
            let Some((_, args)) = line.split_once("cargo test -p bunctl-logging") else {
                continue;
            };
            // The first argument that is not a flag, before any `--`, is cargo's test filter.
            let filter = args
                .split_whitespace()
                .take_while(|a| *a != "--")
                .find(|a| !a.starts_with('-'));
            filters.extend(filter.map(str::to_owned));
        }
    }
    assert_eq!(
        filters,
        [
            "stress",
            "buffer_tests",
            "rotation_tests",
            "stress_tests",
            "edge_cases"
        ]
    );
    for filter in &filters {
        assert!(
            modules
                .lines()
                .any(|l| l.starts_with("mod ") && l.contains(filter.as_str())),
            "no module of tests/product/ matches `{filter}`"
        );
    }
}
