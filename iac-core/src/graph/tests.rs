use super::*;
use crate::expr::Expr;
use crate::model::{OutputSpec, ResourceSpec};
use proptest::prelude::*;
use serde_json::json;

/// A template from `(id, properties JSON, depends_on)` triples.
fn template(resources: &[(&str, serde_json::Value, &[&str])]) -> Template {
    let mut t = Template::default();
    for (id, props, depends_on) in resources {
        let mut spec = ResourceSpec::new("T");
        if let Expr::Map(map) = Expr::from_json(props.clone()) {
            spec.properties = map;
        }
        spec.depends_on = depends_on.iter().map(|s| s.to_string()).collect();
        t.resources.insert(id.to_string(), spec);
    }
    t
}

#[test]
fn edges_come_from_every_kind_of_reference() {
    let t = template(&[
        ("Vpc", json!({}), &[]),
        ("Sg", json!({}), &[]),
        ("Bucket", json!({}), &[]),
        (
            "Vsw",
            json!({"VpcId": {"Ref": "Vpc"}, "Zone": {"Ref": "ZoneParam"}}),
            &[],
        ),
        (
            "Vm",
            json!({
                "VSwitchId": {"Fn::GetAtt": ["Vsw", "VSwitchId"]},
                "UserData": {"Fn::Sub": "${Bucket.Name} ${Vpc} ${ALIYUN::Region}"},
                "Both": {"Fn::If": ["Cond", {"Ref": "Sg"}, {"Ref": "Vpc"}]},
            }),
            &["Sg"],
        ),
    ]);
    let g = DepGraph::from_template(&t).unwrap();
    assert_eq!(g.dependencies_of("Vsw"), vec!["Vpc"]);
    assert_eq!(g.dependencies_of("Vm"), vec!["Vpc", "Sg", "Bucket", "Vsw"]);
    assert_eq!(g.dependents_of("Vpc"), vec!["Vsw", "Vm"]);
    assert_eq!(g.dependents_of("Nope"), Vec::<&str>::new());
    assert_eq!(
        g.topological_order(),
        vec!["Vpc", "Sg", "Bucket", "Vsw", "Vm"]
    );
    assert_eq!(
        g.reverse_topological_order(),
        vec!["Vm", "Vsw", "Bucket", "Sg", "Vpc"]
    );
}

#[test]
fn topological_ties_follow_template_order() {
    // C is listed first but depends on B; A and B are free.
    let t = template(&[
        ("C", json!({"X": {"Ref": "B"}}), &[]),
        ("A", json!({}), &[]),
        ("B", json!({}), &[]),
        ("D", json!({}), &["A"]),
    ]);
    let g = DepGraph::from_template(&t).unwrap();
    assert_eq!(g.topological_order(), vec!["A", "B", "C", "D"]);
}

#[test]
fn cycles_are_printed_from_their_first_resource() {
    let t = template(&[
        ("Free", json!({}), &[]),
        ("A", json!({"X": {"Ref": "B"}}), &[]),
        ("B", json!({"X": {"Fn::GetAtt": ["C", "Id"]}}), &[]),
        ("C", json!({}), &["A"]),
        ("Self", json!({"X": {"Fn::Sub": "${Self.Id}"}}), &[]),
    ]);
    let err = DepGraph::from_template(&t).unwrap_err();
    assert_eq!(
        err.cycles(),
        &[
            Cycle(vec!["A".into(), "B".into(), "C".into(), "A".into()]),
            Cycle(vec!["Self".into(), "Self".into()]),
        ]
    );
    assert_eq!(
        err.to_string(),
        "dependency cycle A -> B -> C -> A\ndependency cycle Self -> Self"
    );
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

#[test]
fn the_shortest_way_around_is_reported() {
    // A -> B -> C -> A and A -> C: the short cycle A -> C -> A is printed.
    let cycles = find_cycles(&[vec![1, 2], vec![2], vec![0]]);
    assert_eq!(cycles, vec![vec![0, 2, 0]]);
    assert!(find_cycles(&[vec![], vec![0], vec![0, 1]]).is_empty());
}

#[test]
fn missing_resources_are_named_with_their_path() {
    let t = template(&[
        (
            "Vm",
            json!({"Ids": [{"Fn::GetAtt": ["Gone", "Id"]}], "P": {"Ref": "Param"}}),
            &["Ghost"],
        ),
        ("Odd.Id", json!({"X": {"Fn::Sub": "${Nope.Attr}"}}), &[]),
    ]);
    let err = DepGraph::from_template(&t).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Resources.Vm.Properties.Ids[0]: Fn::GetAtt names unknown resource 'Gone'\n\
         Resources.Vm.DependsOn: DependsOn names unknown resource 'Ghost'\n\
         Resources[\"Odd.Id\"].Properties.X: Fn::Sub names unknown resource 'Nope'"
    );
    assert_eq!(err.missing()[0].from, "Vm");
}

#[test]
fn transitive_sets_and_critical_path() {
    // 0:A <- 1:B <- 3:D, 0:A <- 2:C, E alone
    let t = template(&[
        ("A", json!({}), &[]),
        ("B", json!({"X": {"Ref": "A"}}), &[]),
        ("C", json!({"X": {"Ref": "A"}}), &[]),
        ("D", json!({"X": {"Ref": "B"}}), &[]),
        ("E", json!({}), &[]),
    ]);
    let g = DepGraph::from_template(&t).unwrap();
    assert_eq!(g.transitive_dependents(0), vec![1, 2, 3]);
    assert_eq!(g.transitive_dependents(1), vec![3]);
    assert_eq!(g.transitive_dependencies(3), vec![0, 1]);
    let cost = |id: &str| match id {
        "A" => 10.0,
        "B" => 5.0,
        "C" => 30.0,
        "D" => 1.0,
        _ => 2.0,
    };
    assert_eq!(g.remaining_paths(cost), vec![40.0, 6.0, 30.0, 1.0, 2.0]);
    assert_eq!(g.critical_path(cost), 40.0);
    assert_eq!(g.longest_path_to_sink("B", cost), Some(6.0));
    assert_eq!(g.longest_path_to_sink("Z", cost), None);

    // With the remaining paths as priorities, C (30) starts before B (6).
    let mut q = g.queue_with_priorities(g.remaining_paths(cost)).unwrap();
    assert_eq!(q.pop_ready(), Some(0));
    assert_eq!(q.pop_ready(), Some(4));
    assert_eq!(q.finish(0).unwrap(), vec![1, 2]);
    assert_eq!(q.pop_ready(), Some(2));
    assert_eq!(q.pop_ready(), Some(1));
}

#[test]
fn the_reverse_queue_deletes_dependents_first() {
    let t = template(&[
        ("A", json!({}), &[]),
        ("B", json!({"X": {"Ref": "A"}}), &[]),
        ("C", json!({}), &["B"]),
    ]);
    let g = DepGraph::from_template(&t).unwrap();
    let mut q = g.reverse_queue();
    let mut order = Vec::new();
    while let Some(n) = q.pop_ready() {
        order.push(g.id(n));
        q.finish(n).unwrap();
    }
    assert_eq!(order, vec!["C", "B", "A"]);
}

#[test]
fn outputs_list_the_resources_they_read() {
    let mut t = template(&[("Vpc", json!({}), &[]), ("Vm", json!({}), &[])]);
    t.outputs.insert(
        "Ip".into(),
        OutputSpec::new(Expr::from_json(json!({"Fn::Join": [":", [
            {"Fn::GetAtt": ["Vm", "PublicIp"]},
            {"Fn::Sub": "${Vpc}-${Vm.Id}"},
            {"Ref": "ALIYUN::Region"}
        ]]}))),
    );
    t.outputs
        .insert("Const".into(), OutputSpec::new(Expr::from("x")));
    let deps = output_dependencies(&t);
    assert_eq!(deps["Ip"], vec!["Vpc".to_string(), "Vm".to_string()]);
    assert!(deps["Const"].is_empty());
}

#[test]
fn from_dependencies_checks_range_and_cycles() {
    let ids = vec!["web".to_string(), "db".to_string()];
    let g = DepGraph::from_dependencies(ids.clone(), &[vec![1, 1], vec![]]).unwrap();
    assert_eq!(g.topological_order(), vec!["db", "web"]);
    assert_eq!(g.dependencies(0), &[1]);
    let err = DepGraph::from_dependencies(ids.clone(), &[vec![1], vec![0]]).unwrap_err();
    assert_eq!(err.to_string(), "dependency cycle web -> db -> web");
    let err = DepGraph::from_dependencies(ids, &[vec![5], vec![]]).unwrap_err();
    assert_eq!(err.missing()[0].name, "#5");
}

#[test]
fn a_long_chain_and_a_wide_fan_do_not_overflow_or_crawl() {
    // 100,000 resources: a chain of 50,000 and a fan of 50,000 around one root.
    let n = 100_000;
    let mut t = Template::default();
    for i in 0..n {
        let mut spec = ResourceSpec::new("T");
        if i > 0 {
            let dep = if i < n / 2 { i - 1 } else { 0 };
            spec.properties
                .insert("X".into(), Expr::reference(format!("R{dep}")));
        }
        t.resources.insert(format!("R{i}"), spec);
    }
    let g = DepGraph::from_template(&t).unwrap();
    assert_eq!(g.topological_indices().len(), n);
    assert_eq!(g.critical_path(|_| 1.0), (n / 2) as f64);
    let mut q = g.queue();
    let mut done = 0;
    while let Some(node) = q.pop_ready() {
        q.finish(node).unwrap();
        done += 1;
    }
    assert_eq!(done, n);
    assert!(q.is_done());
}

/// Random DAG over `n` nodes: node `i` depends on some nodes below `i`.
fn dag(max_nodes: usize) -> impl Strategy<Value = Vec<Vec<usize>>> {
    (2..max_nodes).prop_flat_map(|n| {
        (0..n)
            .map(|i| {
                if i == 0 {
                    Just(Vec::new()).boxed()
                } else {
                    proptest::collection::vec(0..i, 0..4.min(i + 1)).boxed()
                }
            })
            .collect::<Vec<_>>()
    })
}

/// A template whose resource `i` references its dependencies in random styles.
fn template_of(deps: &[Vec<usize>], style: usize) -> Template {
    let mut t = Template::default();
    for (i, ds) in deps.iter().enumerate() {
        let mut spec = ResourceSpec::new("T");
        for (k, &d) in ds.iter().enumerate() {
            let name = format!("N{d}");
            match (style + k) % 4 {
                0 => {
                    spec.properties
                        .insert(format!("P{k}"), Expr::reference(name));
                }
                1 => {
                    spec.properties
                        .insert(format!("P{k}"), Expr::get_att(name, "Id"));
                }
                2 => {
                    spec.properties
                        .insert(format!("P{k}"), Expr::sub(format!("x-${{{name}.Id}}")));
                }
                _ => spec.depends_on.push(name),
            }
        }
        t.resources.insert(format!("N{i}"), spec);
    }
    t
}

proptest! {
    #[test]
    fn graphs_of_random_templates_order_every_node_after_its_dependencies(
        deps in dag(30),
        style in 0usize..4,
    ) {
        let g = DepGraph::from_template(&template_of(&deps, style)).unwrap();
        let order = g.topological_indices();
        prop_assert_eq!(order.len(), deps.len());
        let mut position = vec![0; deps.len()];
        for (at, &node) in order.iter().enumerate() {
            position[node] = at;
        }
        for (node, ds) in deps.iter().enumerate() {
            for &d in ds {
                prop_assert!(position[d] < position[node]);
            }
            let mut expected = ds.clone();
            expected.sort_unstable();
            expected.dedup();
            prop_assert_eq!(g.dependencies(node), expected.as_slice());
        }
    }

    #[test]
    fn a_back_edge_is_always_rejected_with_its_cycle(
        deps in dag(30),
        pick in any::<prop::sample::Index>(),
        style in 0usize..4,
    ) {
        // Add an edge from some node `low` to a node that reaches it (or to itself).
        let mut deps = deps;
        let high = pick.index(deps.len());
        let low = deps[high].first().copied().unwrap_or(high);
        deps[low].push(high);
        let err = DepGraph::from_template(&template_of(&deps, style)).unwrap_err();
        prop_assert!(err.missing().is_empty());
        prop_assert!(!err.cycles().is_empty());
        let text = err.to_string();
        prop_assert!(text.starts_with("dependency cycle N"), "{}", text);
        for cycle in err.cycles() {
            // Closed, starting at its smallest index, every step a real dependency.
            let ids = &cycle.0;
            prop_assert_eq!(ids.first(), ids.last());
            let index = |id: &str| id[1..].parse::<usize>().unwrap();
            let nodes: Vec<usize> = ids.iter().map(|id| index(id)).collect();
            prop_assert_eq!(nodes[0], *nodes.iter().min().unwrap());
            for step in nodes.windows(2) {
                prop_assert!(deps[step[0]].contains(&step[1]));
            }
        }
    }
}
