//! The typed Rust front-end against the same stack written as a ROS template.

use iac_core::expr::{Expr, ExprMap};
use iac_core::model::{DeletionPolicy, ROS_FORMAT_VERSION, Template, Text};
use iac_core::stack::{
    Cond, Mapping, OutputOptions, Param, ParamError, Prop, PropError, Resource, ResourceOptions,
    ResourceRef, Section, Stack, StackProblem,
};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::json;

// Test-only resource types, written the way a cloud crate writes them.

/// `ALIYUN::ECS::VPC`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Vpc {
    #[serde(skip_serializing_if = "Prop::is_unset")]
    cidr_block: Prop<String>,
    #[serde(skip_serializing_if = "Prop::is_unset")]
    vpc_name: Prop<String>,
    #[serde(skip_serializing_if = "Prop::is_unset")]
    description: Prop<String>,
    #[serde(skip_serializing_if = "Prop::is_unset")]
    enable_ipv6: Prop<bool>,
}

#[derive(Debug, Clone)]
struct VpcAttrs(ResourceRef);

impl From<ResourceRef> for VpcAttrs {
    fn from(r: ResourceRef) -> Self {
        VpcAttrs(r)
    }
}

impl VpcAttrs {
    fn vpc_id(&self) -> Prop<String> {
        self.0.attr("VpcId")
    }
}

impl Resource for Vpc {
    const TYPE_NAME: &'static str = "ALIYUN::ECS::VPC";
    type Attrs = VpcAttrs;
}

/// `ALIYUN::ECS::VSwitch`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct VSwitch {
    vpc_id: Prop<String>,
    zone_id: Prop<String>,
    cidr_block: Prop<String>,
    #[serde(rename = "VSwitchName", skip_serializing_if = "Prop::is_unset")]
    vswitch_name: Prop<String>,
}

#[derive(Debug, Clone)]
struct VSwitchAttrs(ResourceRef);

impl From<ResourceRef> for VSwitchAttrs {
    fn from(r: ResourceRef) -> Self {
        VSwitchAttrs(r)
    }
}

impl VSwitchAttrs {
    fn vswitch_id(&self) -> Prop<String> {
        self.0.attr("VSwitchId")
    }
}

impl Resource for VSwitch {
    const TYPE_NAME: &'static str = "ALIYUN::ECS::VSwitch";
    type Attrs = VSwitchAttrs;
}

/// `ALIYUN::ECS::Instance`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Instance {
    instance_type: Prop<String>,
    #[serde(skip_serializing_if = "Prop::is_unset")]
    image_id: Prop<String>,
    #[serde(rename = "VSwitchId", skip_serializing_if = "Prop::is_unset")]
    vswitch_id: Prop<String>,
    #[serde(skip_serializing_if = "Prop::is_unset")]
    security_group_id: Prop<String>,
    #[serde(skip_serializing_if = "Prop::is_unset")]
    password: Prop<String>,
    #[serde(skip_serializing_if = "Prop::is_unset")]
    system_disk_size: Prop<i64>,
    #[serde(skip_serializing_if = "Prop::is_unset")]
    internet_max_bandwidth_out: Prop<i64>,
    #[serde(skip_serializing_if = "Prop::is_unset")]
    user_data: Prop<String>,
    #[serde(skip_serializing_if = "Prop::is_unset")]
    tags: Prop<Vec<Tag>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: Prop<String>,
    value: Prop<String>,
}

#[derive(Debug, Clone)]
struct InstanceAttrs(ResourceRef);

impl From<ResourceRef> for InstanceAttrs {
    fn from(r: ResourceRef) -> Self {
        InstanceAttrs(r)
    }
}

impl InstanceAttrs {
    fn private_ip(&self) -> Prop<String> {
        self.0.attr("PrivateIp")
    }
}

impl Resource for Instance {
    const TYPE_NAME: &'static str = "ALIYUN::ECS::Instance";
    type Attrs = InstanceAttrs;
}

/// A type whose properties are not an object: it must be reported, not panicked on.
#[derive(Serialize)]
struct NotAnObject(&'static str);

impl Resource for NotAnObject {
    const TYPE_NAME: &'static str = "TEST::Bad";
    type Attrs = ResourceRef;
}

const FIXTURE: &str = include_str!("fixtures/typed_stack.ros.json");

/// The stack of `fixtures/typed_stack.ros.json`, written in Rust.
fn typed_stack() -> Stack {
    let mut stack = Stack::new("web");
    stack.description("A VPC, a vSwitch and a web server");

    let env = stack.parameter(
        "Env",
        Param::string()
            .default("dev")
            .allowed_values(["dev", "prod"])
            .description("Deployment environment")
            .label("Environment"),
    );
    let zone = stack.parameter(
        "ZoneId",
        Param::string()
            .default("cn-hangzhou-h")
            .description(Text::Localized(IndexMap::from([
                ("en".to_owned(), "Zone".to_owned()),
                ("zh-cn".to_owned(), "可用区".to_owned()),
            ]))),
    );
    let password = stack.parameter(
        "InstancePassword",
        Param::string()
            .no_echo()
            .min_length(8)
            .max_length(30)
            .allowed_pattern("[A-Za-z0-9!@#]+")
            .constraint_description("8 to 30 letters, digits or !@#")
            .extra("AssociationProperty", "ALIYUN::ECS::Instance::Password"),
    );
    let disk_size = stack.parameter(
        "DiskSize",
        Param::integer().default(40).min_value(20).max_value(500),
    );
    let weight = stack.parameter(
        "Weight",
        Param::number().default(0.5).allowed_values([0.5, 1.0]),
    );
    let cidrs = stack.parameter(
        "Cidrs",
        Param::comma_delimited_list().default(["192.168.1.0/24", "192.168.2.0/24"]),
    );
    let ipv6 = stack.parameter("EnableIpv6", Param::boolean().default(false));
    let extra_tags = stack.parameter("ExtraTags", Param::json().default(json!({"team": "infra"})));

    let images = stack.mapping(
        "Images",
        Mapping::new()
            .entry(
                "cn-hangzhou",
                [("Ubuntu", "ubuntu_22_04_x64_20G_alibase_20240130.vhd")],
            )
            .entry(
                "cn-beijing",
                [("Ubuntu", "ubuntu_22_04_x64_20G_alibase_20240220.vhd")],
            ),
    );

    let prod = stack.condition("IsProd", Cond::equals(env.clone(), "prod".into()));
    stack.condition(
        "IsProdWithIpv6",
        Cond::and([
            Cond::from(&prod),
            Cond::not(Cond::equals(ipv6.clone(), false.into())),
        ]),
    );

    let vpc = stack.add_with(
        "Vpc",
        Vpc {
            cidr_block: "192.168.0.0/16".into(),
            vpc_name: Prop::join("-", [Prop::pseudo("ALIYUN::StackName"), "vpc".into()]),
            enable_ipv6: ipv6,
            ..Default::default()
        },
        ResourceOptions::new().retain(),
    );
    let vsw = stack.add(
        "VSwitch",
        VSwitch {
            vpc_id: vpc.vpc_id(),
            zone_id: zone,
            cidr_block: Prop::select(0, cidrs),
            vswitch_name: Prop::sub_with(
                "${Stack}-vsw",
                [("Stack", Prop::pseudo("ALIYUN::StackName"))],
            ),
        },
    );
    let web = stack.add_with(
        "Web",
        Instance {
            instance_type: Prop::if_(&prod, "ecs.g7.large", "ecs.t6-c1m1.large"),
            image_id: images.find(Prop::pseudo("ALIYUN::Region"), "Ubuntu"),
            vswitch_id: vsw.vswitch_id(),
            password,
            system_disk_size: disk_size,
            user_data: Prop::base64(Prop::sub(
                "#!/bin/sh\necho ${Env} in ${ALIYUN::Region} > /etc/motd\n",
            )),
            tags: Prop::Value(vec![
                Tag {
                    key: "team".into(),
                    value: Prop::get_json_value("team", extra_tags),
                },
                Tag {
                    key: "env".into(),
                    value: env,
                },
            ]),
            ..Default::default()
        },
        ResourceOptions::new()
            .depends_on(&vpc)
            .metadata(json!({"Role": "web"})),
    );
    let mut eip_properties = ExprMap::new();
    eip_properties.insert("Bandwidth".into(), Expr::from(5_i64));
    let eip = stack.add_untyped(
        "ProdEip",
        "ALIYUN::VPC::EIP",
        eip_properties,
        ResourceOptions::new().condition(&prod),
    );

    stack.output("VpcId", vpc.vpc_id());
    stack.output("VSwitch", vsw.id());
    stack.output_with(
        "WebPrivateIp",
        web.private_ip(),
        OutputOptions::new().description("Private IP of the web server"),
    );
    stack.output_with(
        "EipAddress",
        eip.attr::<String>("EipAddress"),
        OutputOptions::new()
            .description("Public address (production only)")
            .condition(&prod),
    );
    stack.output("Weight", weight);
    stack
}

#[test]
fn typed_stack_equals_the_ros_template() {
    let typed = typed_stack().template().expect("the typed stack is valid");
    let mut written: Template = serde_json::from_str(FIXTURE).expect("the fixture reads");
    // The only difference: a template built in Rust carries no format version (exporters
    // add it).
    assert_eq!(written.format_version.as_deref(), Some(ROS_FORMAT_VERSION));
    written.format_version = None;
    assert_eq!(typed, written);
    // Same order too, so that an export reads like the hand-written file.
    assert!(typed.resources.keys().eq(written.resources.keys()));
    assert!(typed.parameters.keys().eq(written.parameters.keys()));
    let vsw = &typed.resources["VSwitch"].properties;
    assert!(
        vsw.keys()
            .eq(written.resources["VSwitch"].properties.keys())
    );
}

#[test]
fn typed_stack_snapshot() {
    let template = typed_stack().template().expect("the typed stack is valid");
    insta::assert_json_snapshot!("typed_stack_template", template);
}

#[test]
fn unset_properties_are_omitted() {
    let mut stack = Stack::new("s");
    stack.add(
        "Vpc",
        Vpc {
            cidr_block: "10.0.0.0/8".into(),
            ..Default::default()
        },
    );
    let vm = stack.add(
        "Vm",
        Instance {
            instance_type: "ecs.t6".into(),
            ..Default::default()
        },
    );
    stack.add(
        "Other",
        Instance {
            instance_type: "ecs.t6".into(),
            vswitch_id: vm.attr("VSwitchId"),
            ..Default::default()
        },
    );
    let template = stack.template().unwrap();
    assert_eq!(
        serde_json::to_value(&template.resources["Vpc"]).unwrap(),
        json!({"Type": "ALIYUN::ECS::VPC", "Properties": {"CidrBlock": "10.0.0.0/8"}})
    );
    assert_eq!(
        serde_json::to_value(&template.resources["Other"].properties).unwrap(),
        json!({"InstanceType": "ecs.t6", "VSwitchId": {"Fn::GetAtt": ["Vm", "VSwitchId"]}})
    );
    // A property without `skip_serializing_if` is written as null when unset.
    let mut stack = Stack::new("s");
    stack.add("Vm", Instance::default());
    let template = stack.template().unwrap();
    assert_eq!(
        template.resources["Vm"].properties["InstanceType"],
        Expr::Null
    );
}

#[test]
fn duplicate_ids_and_other_mistakes_are_reported_not_panicked_on() {
    let mut stack = Stack::new("broken");
    let first = stack.add("Vpc", Vpc::default());
    let second = stack.add(
        "Vpc",
        Vpc {
            cidr_block: "10.0.0.0/8".into(),
            ..Default::default()
        },
    );
    // Both handles name the logical id; the first declaration is kept.
    assert_eq!(first.logical_id(), second.logical_id());
    stack.parameter("Env", Param::string());
    stack.parameter("Env", Param::string());
    stack.parameter("Vpc", Param::string());
    stack.parameter("Ratio", Param::number().default(f64::NAN));
    stack.parameter("Zones", Param::comma_delimited_list().default(["a", "b,c"]));
    stack.add("bad id", Vpc::default());
    stack.add(
        "Sub",
        Vpc {
            vpc_name: Prop::sub("net-${Env"),
            ..Default::default()
        },
    );
    stack.add("Scalar", NotAnObject("x"));
    let cond = stack.condition("C", Cond::equals(Prop::<String>::Unset, "x".into()));
    stack.output("Nothing", Prop::<String>::Unset);
    stack.output("Id", first.vpc_id());
    stack.output("Id", first.vpc_id());
    assert_eq!(cond.name(), "C");

    let err = stack.template().unwrap_err();
    assert_eq!(err.stack(), "broken");
    assert_eq!(err.kind(), iac_core::provider::ErrorKind::Invalid);
    assert_eq!(
        err.problems(),
        &[
            StackProblem::Duplicate {
                section: Section::Resources,
                name: "Vpc".into()
            },
            StackProblem::Duplicate {
                section: Section::Parameters,
                name: "Env".into()
            },
            StackProblem::RefClash { name: "Vpc".into() },
            StackProblem::Parameter {
                name: "Ratio".into(),
                source: ParamError::NotFinite { key: "Default" }
            },
            StackProblem::Parameter {
                name: "Zones".into(),
                source: ParamError::CommaInItem {
                    key: "Default",
                    index: 1
                }
            },
            StackProblem::InvalidName {
                section: Section::Resources,
                name: "bad id".into()
            },
            StackProblem::Properties {
                logical_id: "Sub".into(),
                type_name: "ALIYUN::ECS::VPC".into(),
                message: "Fn::Sub text \"net-${Env\" is malformed: unclosed '${' at offset 4"
                    .into()
            },
            StackProblem::NotAnObject {
                logical_id: "Scalar".into(),
                type_name: "TEST::Bad".into(),
                found: "a string"
            },
            StackProblem::Condition {
                name: "C".into(),
                source: PropError::UnsetArgument {
                    function: "Fn::Equals".into()
                }
            },
            StackProblem::Output {
                name: "Nothing".into(),
                source: PropError::UnsetArgument {
                    function: "the output".into()
                }
            },
            StackProblem::Duplicate {
                section: Section::Outputs,
                name: "Id".into()
            },
        ]
    );
    insta::assert_snapshot!("stack_error_message", err.to_string());
    assert_eq!(stack.problems(), err.problems());
}

#[test]
fn errors_never_print_no_echo_values() {
    let mut stack = Stack::new("s");
    stack.parameter(
        "Secrets",
        Param::comma_delimited_list()
            .no_echo()
            .default(["hunter2,x"]),
    );
    let err = stack.template().unwrap_err();
    let text = format!("{err} {err:?} {stack:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("Secrets"), "{text}");
}

#[test]
fn invalid_arguments_propagate_through_functions() {
    let joined = Prop::join("-", [Prop::sub("${"), "x".into()]);
    assert!(matches!(joined, Prop::Invalid(PropError::Sub { .. })));
    let chosen: Prop<String> = Prop::select(0, Prop::<Vec<String>>::Unset);
    assert_eq!(
        chosen,
        Prop::Invalid(PropError::UnsetArgument {
            function: "Fn::Select".into()
        })
    );
    assert!(serde_json::to_value(&chosen).is_err());
}

#[test]
fn helpers_write_the_vendor_shapes() {
    let r = ResourceRef::new("Wait");
    let script = Prop::replace(
        [("ros-notify", r.attr::<String>("CurlCli"))],
        "#!/bin/sh\nros-notify -d '{\"status\": \"SUCCESS\"}'\n",
    );
    assert_eq!(
        serde_json::to_value(&script).unwrap(),
        json!({"Fn::Replace": [
            {"ros-notify": {"Fn::GetAtt": ["Wait", "CurlCli"]}},
            "#!/bin/sh\nros-notify -d '{\"status\": \"SUCCESS\"}'\n"
        ]})
    );
    let parts = Prop::split(",", Prop::pseudo("Csv"));
    assert_eq!(
        serde_json::to_value(&parts).unwrap(),
        json!({"Fn::Split": [",", {"Ref": "Csv"}]})
    );
    let literal: Prop<Vec<String>> = Prop::list(["a".into(), "b".into()]);
    assert_eq!(literal, Prop::Value(vec!["a".to_owned(), "b".to_owned()]));
    let mixed: Prop<Vec<String>> = Prop::list([r.id(), "b".into()]);
    assert_eq!(
        serde_json::to_value(&mixed).unwrap(),
        json!([{"Ref": "Wait"}, "b"])
    );
    let size: Prop<i64> = Prop::<f64>::pseudo("Size").cast();
    assert_eq!(size, Prop::Expr(Expr::reference("Size")));
    let literal: Prop<String> = Prop::Value(3_i64).cast();
    assert_eq!(literal.to_expr(), Ok(Some(Expr::from(3_i64))));
    assert_eq!(Prop::<String>::Unset.to_expr(), Ok(None));
    let flag: Prop<bool> = Prop::pseudo("Flag");
    let negated = !Cond::equals(flag.clone(), true.into());
    assert_eq!(negated, Cond::not(Cond::equals(flag, true.into())));
    assert_eq!(
        serde_json::to_value(negated.to_expr().unwrap()).unwrap(),
        json!({"Fn::Not": {"Fn::Equals": [{"Ref": "Flag"}, true]}})
    );
    let from_vec: Prop<Vec<String>> = vec!["x", "y"].into();
    assert_eq!(from_vec, Prop::Value(vec!["x".to_owned(), "y".to_owned()]));
}

#[test]
fn typed_properties_read_back_from_a_template() {
    let written: Template = serde_json::from_str(FIXTURE).unwrap();
    let properties = serde_json::to_value(&written.resources["Vpc"].properties).unwrap();
    let vpc: Vpc = serde_json::from_value(properties).unwrap();
    assert_eq!(
        vpc,
        Vpc {
            cidr_block: "192.168.0.0/16".into(),
            vpc_name: Prop::join("-", [Prop::pseudo("ALIYUN::StackName"), "vpc".into()]),
            description: Prop::Unset,
            enable_ipv6: Prop::pseudo("EnableIpv6"),
        }
    );
    let wrong = serde_json::from_value::<Vpc>(json!({"CidrBlock": 3}));
    assert!(wrong.is_err());
}

#[test]
fn handles_clone_and_describe_their_resource() {
    let mut stack = Stack::new("demo");
    assert_eq!(stack.name(), "demo");
    let vpc = stack.add("Vpc", Vpc::default());
    let copy = vpc.clone();
    assert_eq!(copy.logical_id(), "Vpc");
    assert_eq!(copy.type_name(), "ALIYUN::ECS::VPC");
    assert_eq!(copy.vpc_id(), Prop::Expr(Expr::get_att("Vpc", "VpcId")));
    assert_eq!(copy.id(), Prop::Expr(Expr::reference("Vpc")));
    assert_eq!(
        format!("{copy:?}"),
        "Handle { type_name: \"ALIYUN::ECS::VPC\", logical_id: \"Vpc\" }"
    );
    let options = ResourceOptions::new()
        .depends_on(&vpc)
        .depends_on(vpc.reference())
        .deletion_policy(DeletionPolicy::Retain);
    stack.add_with("Vsw", VSwitch::default(), options);
    let template = Template::try_from(&stack).unwrap();
    assert_eq!(template.resources["Vsw"].depends_on, vec!["Vpc".to_owned()]);
    assert_eq!(
        template.resources["Vsw"].deletion_policy,
        DeletionPolicy::Retain
    );
}
