//! Performance harness of the iac SDK.
//!
//! The criterion benches live in `benches/benches/`; `cargo bench -p iac-benches` runs them.
//! This library holds the workloads they share, so that a bench and a test measure the same
//! thing.
//!
//! ```
//! let template = iac_benches::tree_template(100);
//! assert_eq!(template.resources.len(), 100);
//! ```

use iac_core::Expr;
use iac_core::expr::ExprMap;
use iac_core::model::{ResourceSpec, Template};

/// The resource type every bench workload uses.
pub const BENCH_TYPE: &str = "Bench::Thing";

/// A stack of `n` resources shaped as a binary tree: resource `i` references resource
/// `(i - 1) / 2` through `Ref`, so the graph has `n - 1` edges and depth `log2 n`.
pub fn tree_template(n: usize) -> Template {
    let mut template = Template::default();
    for i in 0..n {
        let mut spec = ResourceSpec::new(BENCH_TYPE);
        let mut props = ExprMap::new();
        props.insert("Index".into(), Expr::from(i as i64));
        props.insert("Name".into(), Expr::String(format!("thing-{i}")));
        if i > 0 {
            props.insert(
                "Parent".into(),
                Expr::reference(format!("R{}", (i - 1) / 2)),
            );
        }
        spec.properties = props;
        template.resources.insert(format!("R{i}"), spec);
    }
    template
}
