//! How much drawing a PDF page asks for, counted before it is rendered.
//!
//! The renderer has no way to stop part-way, so a page is refused when its content would run
//! more than [`MAX_PAGE_OPERATIONS`] operators: each content-stream operator counts once, and a
//! form XObject counts its own operators (transitively) every time it is drawn. A 4 KB file whose
//! form XObjects draw each other ten times over eight levels asks for 10^8 draws — minutes of
//! CPU that would go on after its request timed out. Each distinct form is parsed once per page
//! (memoised); a form that draws itself (a cycle) counts as unbounded. Patterns and Type3 glyph
//! procedures are not counted.

use std::collections::HashMap;

use hayro::hayro_syntax::content::UntypedIter;
use hayro::hayro_syntax::object::dict::keys;
use hayro::hayro_syntax::object::{Dict, Name, Object, ObjectIdentifier, Stream};
use hayro::hayro_syntax::page::{Page, Resources};

/// Most content-stream operators one page may execute, form XObjects counted each time drawn.
/// A dense real page (a map, a CAD drawing) runs a few million; the renderer executes roughly
/// 10-50 million trivial operators a second.
pub(super) const MAX_PAGE_OPERATIONS: u64 = 20_000_000;

/// Forms nested deeper than this count as unbounded (the renderer gives up on them anyway).
const MAX_DEPTH: usize = 64;

/// Operators `page` would execute, forms counted each time drawn; `u64::MAX` for a cycle.
/// Stops counting once [`MAX_PAGE_OPERATIONS`] is passed.
pub(super) fn page_operations(page: &Page<'_>) -> u64 {
    let Some(content) = page.page_stream() else {
        return 0;
    };
    let mut walk = Walk {
        memo: HashMap::new(),
        open: Vec::new(),
    };
    walk.stream_ops(content, page.resources(), 0)
}

struct Walk {
    /// Operators of each form already counted.
    memo: HashMap<ObjectIdentifier, u64>,
    /// Forms being counted now (a form met again among them is a cycle).
    open: Vec<ObjectIdentifier>,
}

impl Walk {
    fn stream_ops(&mut self, data: &[u8], resources: &Resources<'_>, depth: usize) -> u64 {
        let mut total = 0u64;
        let mut ops = UntypedIter::new(data);
        while let Some(op) = ops.next() {
            total = total.saturating_add(1);
            if &**op.operator == b"Do"
                && let Some(Object::Name(name)) = op.operands().next()
                && let Some(x) = resources.get_x_object(name)
            {
                total = total.saturating_add(self.form_ops(&x, resources, depth + 1));
            }
            if total > MAX_PAGE_OPERATIONS {
                break;
            }
        }
        total
    }

    /// Operators of one drawing of XObject `x` (0 for an image), with `parent`'s resources
    /// where it has none of its own.
    fn form_ops(&mut self, x: &Stream<'_>, parent: &Resources<'_>, depth: usize) -> u64 {
        let dict = x.dict();
        if dict.get::<Name>(keys::SUBTYPE).as_deref() != Some(b"Form".as_slice()) {
            return 0;
        }
        let id = x.obj_id();
        if let Some(&n) = self.memo.get(&id) {
            return n;
        }
        if depth > MAX_DEPTH || self.open.contains(&id) {
            return u64::MAX;
        }
        let Ok(data) = x.decoded() else {
            return 0;
        };
        self.open.push(id);
        let own = dict.get::<Dict>(keys::RESOURCES).map(Resources::new);
        let n = self.stream_ops(&data, own.as_ref().unwrap_or(parent), depth);
        self.open.pop();
        self.memo.insert(id, n);
        n
    }
}
