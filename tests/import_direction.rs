//! The top-level modules of `src/` import one another one way only: no cycle between them in
//! non-test code (docs/ARCHITECTURE.md, "Rooms and the direction of imports").
//!
//! Read from the source itself: every `crate::NAME` path (also inside `use crate::{...}` groups)
//! in a module's files outside comments and test code is an edge from that module to `NAME`.
//! A cycle fails the test with the files that make each of its edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Edges of the module graph: from -> to -> files that import.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules: `src/NAME.rs` and `src/NAME/` (not `lib` or `main`).
fn top_modules() -> BTreeSet<String> {
    std::fs::read_dir(src_dir())
        .expect("src/ lists")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|n| n != "lib" && n != "main")
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("directory lists") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            // `src/**/tests/` directories hold test modules only.
            if p.file_name().is_some_and(|n| n != "tests") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Whether a file is a test module by its name (`tests.rs`, `*_tests.rs`, `testutil.rs`).
fn is_test_file(p: &Path) -> bool {
    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem == "tests" || stem.ends_with("_tests") || stem == "testutil"
}

/// The code of a file without comments and without its inline `#[cfg(test)] mod NAME { .. }`
/// (which closes the file by convention). `//` inside a string literal is kept.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            let next = lines.peek().map(|l| l.trim_start()).unwrap_or("");
            let inline_module = |l: &str| {
                (l.starts_with("mod ") || l.starts_with("pub mod ")) && l.trim_end().ends_with('{')
            };
            if inline_module(trimmed.trim_start_matches("#[cfg(test)]").trim())
                || inline_module(next)
            {
                break;
            }
        }
        out.push_str(strip_comment(line));
        out.push('\n');
    }
    out
}

/// A line without its `//` comment, if it has one outside a string literal.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

/// The top-level module names a piece of code refers to through `crate::`.
fn referenced(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        // `ferrocr_crate::` or `$crate::` are not this crate's paths.
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the names at the group's top level.
            let mut depth = 0usize;
            let mut expecting_name = true;
            let mut chars = group.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => expecting_name = true,
                    c if c.is_whitespace() => {}
                    _ if depth == 0 && expecting_name => {
                        let name = ident(&group[i..]);
                        if modules.contains(&name) {
                            out.insert(name.clone());
                        }
                        expecting_name = false;
                        for _ in 1..name.chars().count() {
                            chars.next();
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest);
            if modules.contains(&name) {
                out.insert(name);
            }
        }
    }
    out
}

fn import_graph() -> Graph {
    let modules = top_modules();
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src/");
        let first = rel.components().next().expect("a component");
        let first = first.as_os_str().to_string_lossy();
        let from = first.trim_end_matches(".rs").to_string();
        if !modules.contains(&from) || is_test_file(&file) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source reads");
        for to in referenced(&code_of(&text), &modules) {
            if to != from {
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .insert(rel.display().to_string());
            }
        }
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        let i = w.index.len();
        w.index.insert(v, i);
        w.low.insert(v, i);
        w.stack.push(v);
        if let Some(next) = w.graph.get(v) {
            for u in next.keys() {
                let u = u.as_str();
                if !w.index.contains_key(u) {
                    visit(w, u);
                    let l = w.low[u].min(w.low[v]);
                    w.low.insert(v, l);
                } else if w.stack.contains(&u) {
                    let l = w.index[u].min(w.low[v]);
                    w.low.insert(v, l);
                }
            }
        }
        if w.low[v] == w.index[v] {
            let mut component = Vec::new();
            while let Some(u) = w.stack.pop() {
                component.push(u.to_string());
                if u == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                w.found.push(component);
            }
        }
    }
    let mut w = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !w.index.contains_key(v.as_str()) {
            visit(&mut w, v);
        }
    }
    w.found
}

#[test]
fn top_level_modules_import_one_way() {
    let graph = import_graph();
    // The graph is read from real files: a broken reader must not pass by seeing nothing.
    assert!(
        graph
            .get("server")
            .is_some_and(|e| e.contains_key("batcher")),
        "the import reader found no server -> batcher edge: {graph:?}"
    );
    let found = cycles(&graph);
    let mut report = String::new();
    for component in &found {
        report.push_str(&format!("cycle among {component:?}:\n"));
        for from in component {
            for (to, files) in &graph[from] {
                if component.contains(to) {
                    report.push_str(&format!("  {from} -> {to}: {files:?}\n"));
                }
            }
        }
    }
    assert!(found.is_empty(), "{report}");
}

#[test]
fn the_reader_sees_groups_and_skips_comments_and_tests() {
    let modules: BTreeSet<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
    let code = code_of(
        "use crate::{a::X, b, c::{Y, Z}};\n\
         // use crate::d;\n\
         let s = \"crate::d // not a comment\"; // crate::e\n\
         #[cfg(test)]\n\
         mod tests {\n\
             use crate::e;\n\
         }\n",
    );
    let found = referenced(&code, &modules);
    let names: Vec<&str> = found.iter().map(String::as_str).collect();
    // `crate::d` inside a string counts (a string is code); the comment's `crate::e` and the
    // test module's do not.
    assert_eq!(names, ["a", "b", "c", "d"]);

    let mut graph = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        graph
            .entry(from.into())
            .or_default()
            .entry(to.into())
            .or_default();
    }
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
}
