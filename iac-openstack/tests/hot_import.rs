//! The HOT import: versions, parameters, functions, conditions, problems with HOT paths,
//! and evaluation of imported templates by iac-core.

use iac_core::Expr;
use iac_core::eval::{EvalContext, Lookup, Mappings, ResourceLookup, evaluate, resolve_conditions};
use iac_core::loader::{load_json, to_json_string_pretty};
use iac_core::model::{DeletionPolicy, ParamType};
use iac_core::params::resolve_parameters;
use iac_openstack::hot::{self, HotTemplate};
use indexmap::IndexMap;
use serde_json::{Value, json};

fn load(text: &str) -> HotTemplate {
    hot::load_str(text).unwrap_or_else(|e| panic!("loads: {e}"))
}

fn problems(text: &str) -> String {
    match load(text).validate(&|_| true) {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn versions_are_kept_as_written_text() {
    for (written, date) in [
        ("2013-05-23", "2013-05-23"),
        ("'2016-10-14'", "2016-10-14"),
        ("pike", "2017-09-01"),
        ("rocky", "2018-08-31"),
        ("wallaby", "2021-04-16"),
    ] {
        let t = load(&format!(
            "heat_template_version: {written}\nresources: {{}}\n"
        ));
        assert_eq!(t.version().date(), date);
        assert_eq!(t.version().as_written(), written.trim_matches('\''));
    }
    // JSON too (Heat reads JSON when the text starts with `{`).
    let t = hot::load_str(r#"{"heat_template_version": "2015-04-30", "resources": {}}"#).unwrap();
    assert_eq!(t.version().date(), "2015-04-30");

    for (text, error) in [
        (
            "heat_template_version: stein\nresources: {}\n",
            "heat_template_version: unknown version 'stein' (known: 2013-05-23, 2014-10-16, \
             2015-04-30, 2015-10-15, 2016-04-08, 2016-10-14, newton, 2017-02-24, ocata, \
             2017-09-01, pike, 2018-03-02, queens, 2018-08-31, rocky, 2021-04-16, wallaby)",
        ),
        (
            "heat_template_version: 2013\nresources: {}\n",
            "heat_template_version: must be a date or a release name, found a number",
        ),
        (
            "resources: {}\n",
            "template: not a HOT template: 'heat_template_version' is missing",
        ),
        ("[1]\n", "template: a template must be a map, found a list"),
        (
            "heat_template_version: rocky\nresources: !Ref x\n",
            "resources: YAML tag !Ref is not part of HOT",
        ),
    ] {
        assert_eq!(hot::load_str(text).unwrap_err().to_string(), error);
    }
    let err = hot::load_str("heat_template_version: rocky\n  resources: [\n").unwrap_err();
    assert!(err.to_string().starts_with("line 2, column"), "{err}");
}

#[test]
fn parameters_keep_types_and_constraints() {
    let t = load(
        r#"
heat_template_version: 2017-02-24
parameters:
  name:
    type: string
    label: Name
    description: the name
    default: web
    constraints:
      - length: {min: 2, max: 8}
        description: 2 to 8 characters
      - allowed_pattern: "[a-z]+"
  count:
    type: number
    default: 2
    constraints:
      - range: {min: 1, max: 5}
      - modulo: {step: 2, offset: 0}
  zones: {type: comma_delimited_list, default: "a,b"}
  config: {type: json, default: {k: v}}
  flag: {type: boolean, default: true, immutable: true}
  flavor:
    type: string
    hidden: true
    constraints:
      - custom_constraint: nova.flavor
      - allowed_values: [m1.small, m1.large]
resources: {}
"#,
    );
    let p = &t.template().parameters;
    assert_eq!(p["name"].param_type, ParamType::String);
    assert_eq!(p["name"].min_length, Some(json!(2)));
    assert_eq!(p["name"].max_length, Some(json!(8)));
    assert_eq!(
        p["name"].allowed_patterns,
        vec![iac_core::model::AllowedPattern::new("[a-z]+")]
    );
    assert_eq!(
        p["name"].constraint_description.as_ref().unwrap().get("en"),
        "2 to 8 characters"
    );
    assert_eq!(p["count"].param_type, ParamType::Number);
    assert_eq!(
        (p["count"].min_value.clone(), p["count"].max_value.clone()),
        (Some(json!(1)), Some(json!(5)))
    );
    assert_eq!(
        p["count"].extra["Modulo"],
        json!([{"step": 2, "offset": 0}])
    );
    assert_eq!(p["zones"].param_type, ParamType::CommaDelimitedList);
    assert_eq!(p["config"].param_type, ParamType::Json);
    assert_eq!(p["flag"].param_type, ParamType::Boolean);
    assert!(p["flavor"].is_secret());
    // Recorded, not enforced.
    assert_eq!(
        p["flavor"].extra["CustomConstraints"],
        json!(["nova.flavor"])
    );
    assert_eq!(
        p["flavor"].allowed_values,
        Some(vec![json!("m1.small"), json!("m1.large")])
    );
    t.validate(&|_| true).unwrap();

    // iac-core checks the values.
    let given = IndexMap::from([
        ("name".to_owned(), json!("x")),
        ("flavor".to_owned(), json!("m1.tiny")),
    ]);
    let errors = resolve_parameters(p, &given).unwrap_err().to_string();
    assert!(errors.contains("parameter 'name'"), "{errors}");
    assert!(
        errors.contains("parameter 'flavor': the given value is not one of AllowedValues"),
        "{errors}"
    );
}

#[test]
fn parameter_problems_are_all_reported() {
    assert_eq!(
        problems(
            r#"
heat_template_version: 2016-10-14
parameter_groups:
  - label: g
    parameters: [a, ghost]
  - parameters: [a]
parameters:
  a: {type: string, default: toolong, constraints: [{length: {max: 3}}]}
  b: {type: integer}
  c: {default: 1}
  d: {type: number, constraints: [{length: {min: 1}}]}
  e: {type: string, constraints: [{range: {min: 1}}, {allowed_pattern: x, length: {}}, {unknown: 1}]}
  f: {type: string, secret: true}
  g: {type: number, default: many}
resources: {}
"#
        ),
        "parameter_groups[0].parameters[1]: 'ghost' is not a parameter\n\
         parameter_groups[1].parameters[0]: parameter 'a' is in more than one group\n\
         parameters.a.default: parameter 'a': value \"toolong\" has 7 characters, more than MaxLength 3\n\
         parameters.b.type: invalid parameter type 'integer' (expected string, number, comma_delimited_list, json or boolean)\n\
         parameters.c: missing parameter type\n\
         parameters.d.constraints[0].length: a length constraint does not apply to a parameter of type number\n\
         parameters.e.constraints[0].range: a range constraint does not apply to a parameter of type string\n\
         parameters.e.constraints[1]: a constraint must have exactly one constraint key besides 'description'\n\
         parameters.e.constraints[2].unknown: invalid constraint 'unknown'\n\
         parameters.f.secret: invalid key 'secret' for a parameter\n\
         parameters.g.default: parameter 'g': value \"many\" is not a valid Number"
    );
}

/// Heat lets a parameter have several constraints of one kind, all of which must hold:
/// bounds and value lists combine into one (the tighter bound, the common values), which
/// keeps the ROS shape; patterns stay several, each with its own description.
#[test]
fn several_constraints_of_one_kind() {
    let t = load(
        r#"
heat_template_version: 2013-05-23
parameters:
  admin_pass:
    type: string
    hidden: true
    constraints:
      - length: { min: 6, max: 8 }
        description: Password length must be between 6 and 8 characters
      - length: { min: 7 }
      - allowed_pattern: "[a-zA-Z0-9]+"
        description: Password must consist of characters and numbers only
      - allowed_pattern: "[A-Z]+[a-zA-Z0-9]*"
        description: Password must start with an uppercase character
  port:
    type: number
    constraints:
      - range: {min: 40000, max: 60000}
      - range: {max: 50000}
      - allowed_values: [40000, 45000, 55000]
      - allowed_values: ["45000", 55000, 1]
  bad:
    type: string
    constraints:
      - allowed_pattern: "(["
resources: {}
"#,
    );
    let p = &t.template().parameters;
    let pass = &p["admin_pass"];
    assert_eq!(
        (&pass.min_length, &pass.max_length),
        (&Some(json!(7)), &Some(json!(8)))
    );
    assert_eq!(
        pass.allowed_patterns,
        vec![
            iac_core::model::AllowedPattern::new("[a-zA-Z0-9]+")
                .with_description("Password must consist of characters and numbers only"),
            iac_core::model::AllowedPattern::new("[A-Z]+[a-zA-Z0-9]*")
                .with_description("Password must start with an uppercase character"),
        ]
    );
    assert_eq!(
        pass.constraint_description.as_ref().unwrap().get("en"),
        "Password length must be between 6 and 8 characters"
    );
    let port = &p["port"];
    assert_eq!(
        (&port.min_value, &port.max_value),
        (&Some(json!(40000)), &Some(json!(50000)))
    );
    assert_eq!(port.allowed_values, Some(vec![json!(45000), json!(55000)]));
    // A pattern that is not a regular expression is the template's error, as in Heat.
    let errors = t.validate(&|_| true).unwrap_err().to_string();
    assert!(
        errors.starts_with(
            "parameters.bad.constraints[0].allowed_pattern: invalid allowed_pattern \"([\": "
        ),
        "{errors}"
    );

    // The failing pattern is named, with its own description.
    let decls = &t.template().parameters;
    let given = |v: &str| {
        indexmap::IndexMap::from([
            ("admin_pass".to_owned(), json!(v)),
            ("port".to_owned(), json!(45000)),
            ("bad".to_owned(), json!("x")),
        ])
    };
    let e = iac_core::params::resolve_parameters(decls, &given("abcdefg")).unwrap_err();
    assert_eq!(
        e.errors[0].to_string(),
        "parameter 'admin_pass': the given value does not match AllowedPattern \
         \"[A-Z]+[a-zA-Z0-9]*\" (Password must start with an uppercase character)"
    );
}

#[test]
fn functions_map_onto_the_ir() {
    let t = load(
        r#"
heat_template_version: 2016-10-14
parameters:
  net: {type: string}
  cfg: {type: json}
resources:
  port:
    type: OS::Neutron::Port
    properties:
      network: {get_param: net}
      deep: {get_param: [cfg, a, 0]}
  server:
    type: OS::Nova::Server
    depends_on: port
    deletion_policy: retain
    metadata: {role: web}
    properties:
      port: {get_resource: port}
      ip: {get_attr: [port, fixed_ips, 0, ip_address]}
      mac: {get_attr: [port, mac_address]}
      user_data:
        str_replace:
          template: "host=$host"
          params: {$host: {get_param: OS::stack_name}}
      names: {list_join: [",", [a, b], [c]]}
      parts: {str_split: [",", "a,b", 0]}
      ports: {repeat: {for_each: {"%p%": [80, 443]}, template: {port: "%p%"}}}
      tags: {map_merge: [{a: 1}, {b: 2}]}
      notafunction: {equals: [1, 1]}
"#,
    );
    let tmpl = t.template();
    let server = &tmpl.resources["server"];
    assert_eq!(server.depends_on, vec!["port"]);
    assert_eq!(server.deletion_policy, DeletionPolicy::Retain);
    assert_eq!(server.metadata, Some(json!({"role": "web"})));
    let props = serde_json::to_value(&server.properties).unwrap();
    assert_eq!(
        props,
        json!({
            "port": {"Ref": "port"},
            "ip": {"Fn::GetAtt": ["port", "fixed_ips", 0, "ip_address"]},
            "mac": {"Fn::GetAtt": ["port", "mac_address"]},
            "user_data": {"Fn::StrReplace": {"template": "host=$host",
                                             "params": {"$host": {"Ref": "OS::stack_name"}}}},
            "names": {"Fn::ListJoin": [",", ["a", "b"], ["c"]]},
            "parts": {"Fn::StrSplit": [",", "a,b", 0]},
            "ports": {"Fn::Repeat": {"for_each": {"%p%": [80, 443]}, "template": {"port": "%p%"}}},
            "tags": {"Fn::MapMerge": [{"a": 1}, {"b": 2}]},
            // `equals` is a condition function only: in properties it is data.
            "notafunction": {"equals": [1, 1]},
        })
    );
    assert_eq!(
        tmpl.resources["port"].properties["deep"],
        Expr::from_json(json!({"Fn::GetPath": [{"Ref": "cfg"}, "a", 0]}))
    );
    t.validate(&|_| true).unwrap();
}

#[test]
fn functions_follow_the_version() {
    // `str_split` does not exist in 2014-10-16 (data there); Fn::Join was removed after
    // 2013-05-23; `if` needs 2016-10-14; repeat ignores `permutations` before 2017-09-01.
    let old = load(
        r#"
heat_template_version: 2014-10-16
resources:
  r:
    type: T
    properties:
      a: {str_split: [",", "a"]}
      b: {"Fn::Join": [",", [a]]}
      c: {list_join: [",", [a], [b]]}
"#,
    );
    assert_eq!(
        old.template().resources["r"].properties["a"],
        Expr::Map(IndexMap::from([(
            "str_split".to_owned(),
            Expr::from_json(json!([",", "a"]))
        )]))
    );
    assert_eq!(
        old.validate(&|_| true).unwrap_err().to_string(),
        "resources.r.properties.b.Fn::Join: function 'Fn::Join' is not supported in version 2014-10-16 of HOT\n\
         resources.r.properties.c.list_join: list_join takes [delimiter, list], got a list of 3"
    );
    let cfn = load(
        r#"
heat_template_version: 2013-05-23
parameters: {p: {type: string}}
resources:
  r:
    type: T
    properties:
      a: {"Fn::Join": [",", [{Ref: p}, {"Fn::Select": [0, [x]]}]]}
      b: {"Fn::Base64": text}
      c: {"Fn::GetAZs": ""}
"#,
    );
    assert_eq!(
        serde_json::to_value(&cfn.template().resources["r"].properties).unwrap(),
        json!({"a": {"Fn::Join": [",", [{"Ref": "p"}, {"Fn::Select": [0, ["x"]]}]]},
               "b": "text", "c": null})
    );
    assert_eq!(
        cfn.validate(&|_| true).unwrap_err().to_string(),
        "resources.r.properties.c.Fn::GetAZs: function 'Fn::GetAZs' is not supported by this SDK"
    );
    let repeat = load(
        r#"
heat_template_version: 2016-10-14
resources:
  r: {type: T, properties: {a: {repeat: {for_each: {x: [a]}, template: x, permutations: false}}}}
"#,
    );
    assert_eq!(
        serde_json::to_value(&repeat.template().resources["r"].properties["a"]).unwrap(),
        json!({"Fn::Repeat": {"for_each": {"x": ["a"]}, "template": "x"}})
    );
}

#[test]
fn conditions_and_inline_conditions() {
    let t = load(
        r#"
heat_template_version: wallaby
parameters:
  env: {type: string, default: prod}
  zone: {type: string, default: a}
conditions:
  prod: {equals: [{get_param: env}, prod]}
  not_prod: {not: prod}
  both: {and: [prod, {not: {equals: [{get_param: zone}, b]}}]}
  either: {or: [prod, not_prod, true]}
  alias: prod
resources:
  a: {type: T, condition: prod}
  b: {type: T, condition: {equals: [{get_param: zone}, a]}}
  c:
    type: T
    properties:
      name: {if: [both, x, y]}
      inline: {if: [{not: prod}, x, y]}
outputs:
  o: {value: 1, condition: false}
"#,
    );
    let tmpl = t.template();
    assert_eq!(tmpl.resources["a"].condition.as_deref(), Some("prod"));
    assert_eq!(
        tmpl.resources["b"].condition.as_deref(),
        Some("resources.b.condition")
    );
    assert_eq!(
        tmpl.resources["c"].properties["inline"],
        Expr::from_json(json!({"Fn::If": ["resources.c.properties.inline.if[0]", "x", "y"]}))
    );
    assert_eq!(
        tmpl.outputs["o"].condition.as_deref(),
        Some("outputs.o.condition")
    );
    t.validate(&|_| true).unwrap();

    let values = resolve_parameters(&tmpl.parameters, &IndexMap::new()).unwrap();
    let resolved = resolve_conditions(
        &tmpl.conditions,
        &values,
        &IndexMap::new(),
        &Mappings::new(),
    )
    .unwrap();
    let got: Vec<(&str, bool)> = resolved.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        got,
        vec![
            ("prod", true),
            ("not_prod", false),
            ("both", true),
            ("either", true),
            ("alias", true),
            ("resources.b.condition", true),
            ("resources.c.properties.inline.if[0]", false),
            ("outputs.o.condition", false),
        ]
    );

    assert_eq!(
        problems(
            r#"
heat_template_version: 2016-10-14
conditions:
  a: {equals: [{get_resource: r}, x]}
  b: {and: [a]}
  c: {not: nowhere}
  d: {equals: [{get_param: nope}, 1]}
  e: {contains: [1, [1]]}
  f: {filter: [[1], [1]]}
resources:
  r: {type: T, condition: {not: c}, external_id: {get_resource: s}, deletion_policy: Snapshot}
  s: {type: T, condition: ghost, update_policy: {}, colour: red}
  v: {type: OS::Neutron::Net, deletion_policy: Snapshot}
  w: {type: OS::Cinder::Volume, deletion_policy: Snapshot, external_id: {get_param: nope}}
"#
        ),
        "conditions.a.equals[0].get_resource: function 'get_resource' cannot be used in a condition\n\
         conditions.b.and: and takes a list of at least 2 conditions, got a list of 1\n\
         conditions.c.not: unknown condition 'nowhere'\n\
         conditions.d.equals[0].get_param: get_param names unknown parameter 'nope'\n\
         conditions.e: 'contains' is not a condition function in version 2016-10-14\n\
         conditions.f: 'filter' is not a condition function in version 2016-10-14\n\
         resources.r.external_id: Ref to resource 's' in an ExternalId (it can only use parameters: the object exists before the stack)\n\
         resources.s.colour: 'colour' is not a valid key of a resource in version 2016-10-14\n\
         resources.s.condition: unknown condition 'ghost'\n\
         resources.s.update_policy: key 'update_policy' is not supported on a resource\n\
         resources.v.deletion_policy: \"Snapshot\" deletion policy not supported: OS::Neutron::Net takes no snapshots in this SDK\n\
         resources.w.external_id.get_param: get_param names unknown parameter 'nope'"
    );
}

#[test]
fn every_problem_is_reported_with_its_hot_path() {
    assert_eq!(
        problems(
            r#"
heat_template_version: 2018-08-31
description: bad
parameters:
  net: {type: string}
resources:
  port:
    type: OS::Neutron::Port
    properties:
      network: {get_resource: net}
      fixed_ips:
        - subnet: {get_attr: [nosuch, id]}
          ip: {get_attr: [port]}
      name: {str_replace: {template: x}}
      other: {get_file: missing.sh}
      m: {yaql: {expression: $.data}}
  server:
    type: OS::Nova::Server
    depends_on: [ghost]
    properties:
      networks: [{port: {get_attr: [server, ip]}}]
      name: {get_param: [port, a]}
mappings: {}
"#
        ),
        "mappings: 'mappings' is not a valid template section in version 2018-08-31\n\
         resources.port.properties.fixed_ips[0].ip.get_attr: get_attr of all attributes of a resource (no attribute name) is not supported by this SDK\n\
         resources.port.properties.fixed_ips[0].subnet: get_attr to unknown resource 'nosuch'\n\
         resources.port.properties.m.yaql: function 'yaql' is not supported by this SDK\n\
         resources.port.properties.name: str_replace takes {\"template\": text, \"params\": {placeholder: value}}, got a map with keys [template]\n\
         resources.port.properties.network.get_resource: get_resource names 'net', which is a parameter, not a resource\n\
         resources.port.properties.other.get_file: get_file: no content for 'missing.sh' (give it in the files, or put it next to the template)\n\
         resources.server: dependency cycle server -> server\n\
         resources.server.depends_on: depends_on names unknown resource 'ghost'\n\
         resources.server.properties.name.get_param: get_param names 'port', which is a resource, not a parameter"
    );
    // Unknown types are reported by name, at the type.
    let t = load("heat_template_version: rocky\nresources:\n  q: {type: OS::Zaqar::Queue}\n");
    assert_eq!(
        t.validate(&|ty| hot::SUPPORTED_RESOURCE_TYPES.contains(&ty))
            .unwrap_err()
            .to_string(),
        "resources.q.type: unknown resource type 'OS::Zaqar::Queue'"
    );
}

#[test]
fn get_file_reads_given_files_and_files_next_to_the_template() {
    let text = "heat_template_version: rocky\nresources:\n  c: {type: T, properties: {config: {get_file: run.sh}}}\n";
    let files = |name: &str| (name == "run.sh").then(|| "#!/bin/sh\necho hi\n".to_owned());
    let t = hot::load_with_files(text, &files).unwrap();
    assert_eq!(
        t.template().resources["c"].properties["config"],
        Expr::from("#!/bin/sh\necho hi\n")
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("run.sh"), "echo from disk\n").unwrap();
    let path = dir.path().join("t.yaml");
    std::fs::write(&path, text).unwrap();
    let t = hot::load_path(&path).unwrap();
    assert_eq!(
        t.template().resources["c"].properties["config"],
        Expr::from("echo from disk\n")
    );
    t.validate(&|_| true).unwrap();

    let missing = dir.path().join("missing.yaml");
    let err = hot::load_path(&missing).unwrap_err();
    assert!(err.to_string().contains("missing.yaml"), "{err}");
    std::fs::write(&missing, "heat_template_version: [").unwrap();
    let err = hot::load_path(&missing).unwrap_err();
    assert!(
        err.to_string().starts_with(&missing.display().to_string()),
        "{err}"
    );
}

/// Attributes of resources as if they had been created.
struct Created;

impl ResourceLookup for Created {
    fn physical_id(&self, logical_id: &str) -> Lookup {
        match logical_id {
            "net" | "port" => Lookup::Known(json!(format!("{logical_id}-id"))),
            _ => Lookup::Missing,
        }
    }

    fn attribute(&self, logical_id: &str, attribute: &str) -> Lookup {
        match (logical_id, attribute) {
            ("port", "fixed_ips") => {
                Lookup::Known(json!([{"ip_address": "10.0.0.5", "subnet_id": "s-1"}]))
            }
            _ => Lookup::Missing,
        }
    }
}

/// HOT → IR → ROS JSON → IR → evaluation gives what Heat would compute.
#[test]
fn imported_templates_round_trip_and_evaluate() {
    let t = load(
        r#"
heat_template_version: 2017-09-01
parameters:
  prefix: {type: string, default: web}
  ports: {type: comma_delimited_list, default: "80,443"}
  settings: {type: json, default: {dns: [1.1.1.1, 8.8.8.8]}}
  debug: {type: boolean, default: false}
conditions:
  debugging: {equals: [{get_param: debug}, true]}
resources:
  net: {type: OS::Neutron::Net}
  port:
    type: OS::Neutron::Port
    properties:
      network: {get_resource: net}
      name:
        str_replace:
          template: $prefix-$prefix_long-port
          params: {$prefix: {get_param: prefix}, $prefix_long: long}
      rules:
        repeat:
          for_each: {"%port%": {get_param: ports}}
          template: {protocol: tcp, port_range_min: "%port%"}
      dns: {list_join: [" ", {get_param: [settings, dns]}, [x]]}
      first: {str_split: [",", "a,b,c", 1]}
      labels: {map_merge: [{a: "1"}, {get_param: settings}]}
      log: {if: [debugging, verbose, quiet]}
      all: {list_concat_unique: [[a, b], {get_param: ports}, [a]]}
      kept: {filter: [[b], [a, b, c]]}
      renamed: {map_replace: [{a: x, b: y}, {keys: {a: A}, values: {y: Y}}]}
      has_80: {if: [{contains: ["80", {get_param: ports}]}, yes, no]}
      hash: {digest: [sha256, {get_param: prefix}]}
outputs:
  ip: {value: {get_attr: [port, fixed_ips, 0, ip_address]}}
  nothing: {value: {get_attr: [port, fixed_ips, 3, ip_address]}}
"#,
    );
    t.validate(&|ty| hot::SUPPORTED_RESOURCE_TYPES.contains(&ty))
        .unwrap();
    // The IR is plain ROS-shaped JSON: it survives a trip through the ROS loader.
    let ros = to_json_string_pretty(t.template()).unwrap();
    let back = load_json(&ros).unwrap();
    assert_eq!(&back, t.template());

    let values = resolve_parameters(&back.parameters, &IndexMap::new()).unwrap();
    let pseudo = IndexMap::from([("OS::stack_name".to_owned(), json!("demo"))]);
    let mappings = Mappings::new();
    let conditions = resolve_conditions(&back.conditions, &values, &pseudo, &mappings).unwrap();
    let ctx = EvalContext::new(&values, &pseudo, &mappings, &conditions, &Created);
    let props = iac_core::eval::evaluate_properties(
        &back.resources["port"].properties,
        &ctx,
        "Resources.port.Properties",
    )
    .unwrap();
    assert_eq!(
        Value::Object(props),
        json!({
            "network": "net-id",
            "name": "web-long-port",
            "rules": [{"protocol": "tcp", "port_range_min": "80"},
                      {"protocol": "tcp", "port_range_min": "443"}],
            "dns": "1.1.1.1 8.8.8.8 x",
            "first": "b",
            "labels": {"a": "1", "dns": ["1.1.1.1", "8.8.8.8"]},
            "log": "quiet",
            "all": ["b", "80", "443", "a"],
            "kept": ["a", "c"],
            "renamed": {"A": "x", "b": "Y"},
            "has_80": "yes",
            "hash": "4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2",
        })
    );
    let output = |name: &str| evaluate(&back.outputs[name].value, &ctx, name).unwrap();
    assert_eq!(output("ip"), Some(json!("10.0.0.5")));
    assert_eq!(output("nothing"), Some(Value::Null));
}

#[test]
fn a_hidden_default_stays_out_of_problems() {
    let text = problems(
        r#"
heat_template_version: rocky
parameters:
  admin_pass:
    type: string
    hidden: true
    default: hunter2-secret
    constraints: [{length: {max: 3}}]
resources: {}
"#,
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.starts_with("parameters.admin_pass.default: parameter 'admin_pass': the given value"),
        "{text}"
    );
}

#[test]
fn a_parameter_and_a_resource_may_not_share_a_name() {
    // HOT tells them apart by get_param / get_resource; the IR has one Ref, so the import
    // says so instead of letting get_resource find the parameter.
    assert_eq!(
        problems(
            "heat_template_version: rocky\nparameters:\n  net: {type: string, default: x}\n\
             resources:\n  net: {type: T}\n  port: {type: T, properties: {n: {get_resource: net}}}\n"
        ),
        "resources.net: logical id 'net' is also the name of a parameter"
    );
}

#[test]
fn get_attr_may_compute_the_attribute_name() {
    let t = load(
        r#"
heat_template_version: rocky
parameters:
  which: {type: string, default: fixed_ips}
resources:
  port: {type: OS::Neutron::Port}
outputs:
  o: {value: {get_attr: [port, {get_param: which}, 0, ip_address]}}
"#,
    );
    t.validate(&|_| true).unwrap();
    let values = resolve_parameters(&t.template().parameters, &IndexMap::new()).unwrap();
    let (pseudo, mappings, conditions) = (IndexMap::new(), Mappings::new(), IndexMap::new());
    let ctx = EvalContext::new(&values, &pseudo, &mappings, &conditions, &Created);
    assert_eq!(
        evaluate(&t.template().outputs["o"].value, &ctx, "o").unwrap(),
        Some(json!("10.0.0.5"))
    );
}

/// An output with `get_param` of a parameter the template does not declare (Heat's
/// tempest test `test_stack_outputs`): Heat validates the template, creates the stack, and
/// shows that output with its error; so does the engine, the other outputs evaluated.
#[tokio::test]
async fn an_output_with_an_undeclared_parameter_carries_its_error() {
    use iac_core::engine::{Engine, RunOptions, StackInput, Status};
    use iac_core::memory::{MemoryCloud, MemoryConfig};
    use iac_core::provider::{Registry, Schema};

    let t = load(
        r#"
heat_template_version: 2015-10-15
resources:
  test_resource_a:
    type: OS::Heat::TestResource
    properties:
      value: 'a'
outputs:
  resource_output_a:
    description: 'Output of resource a'
    value: { get_attr: [test_resource_a, value] }
  resource_output_b:
    description: 'Output of resource b'
    value: { str_replace: {template: "x-%y%", params: {"%y%": { get_param: foo }}} }
"#,
    );
    t.validate(&|_| true).unwrap();
    let warnings: Vec<String> = t.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        [
            "outputs.resource_output_b.value.str_replace.params.%y%.get_param: get_param names \
          unknown parameter 'foo'; the template is valid for Heat, which reports this when the \
          output is shown: the output will carry this error"
        ]
    );

    let cloud = MemoryCloud::new(MemoryConfig::default());
    let mut registry = Registry::new();
    registry
        .register(cloud.handler_with_schema(
            Schema::new("OS::Heat::TestResource").with_attributes(&["value"]),
        ));
    let engine = Engine::builder().provider(registry).build();
    let report = engine
        .apply(
            &StackInput::new("outputs", t.into_template()),
            RunOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(report.status, Status::CreateComplete);
    assert!(report.is_success(), "{:?}", report.failures);
    assert_eq!(
        report.outputs,
        IndexMap::from([("resource_output_a".to_owned(), json!("a"))])
    );
    assert_eq!(
        report.output_errors,
        IndexMap::from([(
            "resource_output_b".to_owned(),
            "Outputs.resource_output_b.Value.Fn::StrReplace.params.%y%.Fn::Error: get_param \
             names unknown parameter 'foo'"
                .to_owned()
        )])
    );
    assert_eq!(cloud.len(), 1);
}

/// In resource properties (which Heat resolves when it validates) and in conditions, an
/// undeclared parameter stays an error of the template.
#[test]
fn an_undeclared_parameter_outside_outputs_is_still_an_error() {
    let t = load(
        r#"
heat_template_version: 2016-10-14
resources:
  r:
    type: OS::Heat::TestResource
    properties: {value: {get_param: foo}}
outputs:
  o:
    value: {if: [{equals: [{get_param: bar}, 1]}, 1, 2]}
"#,
    );
    assert!(t.warnings().is_empty());
    assert_eq!(
        t.validate(&|_| true).unwrap_err().to_string(),
        "outputs.o.value.if[0].equals[0].get_param: get_param names unknown parameter 'bar'\n\
         resources.r.properties.value.get_param: get_param names unknown parameter 'foo'"
    );
}
