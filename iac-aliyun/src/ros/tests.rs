use super::*;
use crate::client::ClientConfig;
use crate::sign::AccessKey;

fn client() -> Client {
    Client::new(
        ClientConfig::new("cn-hangzhou", AccessKey::new("id", "secret"))
            .with_endpoint("http://127.0.0.1:9"),
    )
    .unwrap()
}

#[test]
fn text_is_read_as_json_or_yaml() {
    let json = load_text(r#"  {"Resources": {"A": {"Type": "T"}}}"#).unwrap();
    let yaml = load_text("Resources:\n  A: {Type: T}\n").unwrap();
    assert_eq!(json, yaml);
    assert!(load_text("{\"Resources\": ").is_err());
}

#[test]
fn check_reports_every_problem_together() {
    let t = load_text(
        r#"{
      "ROSTemplateFormatVersion": "2015-09-01",
      "Parameters": {"Zone": {"Type": "String", "AllowedValues": ["cn-hangzhou-h"]},
                     "N": {"Type": "Number"}},
      "Resources": {
        "Vpc": {"Type": "ALIYUN::ECS::VPC", "Properties": {"CidrBlock": "10.0.0.0/8"}},
        "Vsw": {"Type": "ALIYUN::ECS::VSwitch", "Count": {"Ref": "N"},
                "Properties": {"VpcId": {"Ref": "Vpc"}, "ZoneId": {"Ref": "Zone"}}},
        "Eip": {"Type": "ALIYUN::VPC::EIP"},
        "Eip2": {"Type": "ALIYUN::VPC::EIP"},
        "Run": {"Type": "ALIYUN::ECS::RunCommand"}
      },
      "Outputs": {"Id": {"Value": {"Fn::GetAtt": ["Gone", "X"]}},
                  "Ix": {"Value": {"Ref": "ALIYUN::Index"}}}
    }"#,
    )
    .unwrap();
    let registry = crate::resources::registry(&client());
    let pseudo = pseudo_parameters("cn-hangzhou", "1");
    let given = IndexMap::from([("Zone".to_owned(), Value::from("cn-hangzhou-x"))]);
    let errors = check(&t, &given, &registry, &pseudo).unwrap_err();
    let found: Vec<(String, ProblemKind)> = errors
        .errors()
        .iter()
        .map(|e| (e.path.clone(), e.kind))
        .collect();
    assert_eq!(
        found,
        [
            ("Outputs.Id.Value".to_owned(), ProblemKind::UnknownReference),
            ("Outputs.Ix.Value".to_owned(), ProblemKind::UnknownReference),
            ("Parameters.N".to_owned(), ProblemKind::Parameter),
            ("Parameters.Zone".to_owned(), ProblemKind::Parameter),
            (
                "Resources.Eip.Type".to_owned(),
                ProblemKind::UnknownResourceType
            ),
            (
                "Resources.Eip2.Type".to_owned(),
                ProblemKind::UnknownResourceType
            ),
            (
                "Resources.Run.Type".to_owned(),
                ProblemKind::UnknownResourceType
            ),
            (
                "Resources.Vsw.Properties".to_owned(),
                ProblemKind::MissingProperty
            ),
        ]
    );
    assert_eq!(
        errors.errors()[7].message,
        "property 'CidrBlock' is required by ALIYUN::ECS::VSwitch"
    );
    let unknown = unknown_types(&t, &registry);
    assert_eq!(
        unknown.into_iter().collect::<Vec<_>>(),
        [
            ("ALIYUN::ECS::RunCommand".to_owned(), vec!["Run".to_owned()]),
            (
                "ALIYUN::VPC::EIP".to_owned(),
                vec!["Eip".to_owned(), "Eip2".to_owned()]
            ),
        ]
    );
}

#[tokio::test]
async fn locations_are_files_urls_and_oss() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("template");
    std::fs::write(&file, "Resources:\n  A: {Type: T}\n").unwrap();
    let t = load(file.to_str().unwrap(), None).await.unwrap();
    assert_eq!(t.resources["A"].type_name, "T");

    let err = load("oss://bucket-only", Some(&client()))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read template oss://bucket-only: an OSS URL is oss://bucket/key"
    );
    let err = load("oss://b/k.yml", None).await.unwrap_err();
    assert!(
        err.to_string().ends_with("reading from OSS needs a client"),
        "{err}"
    );
    let missing = dir.path().join("missing.json");
    let err = load(missing.to_str().unwrap(), None).await.unwrap_err();
    assert!(matches!(err, RosError::Load { .. }), "{err}");
}

#[tokio::test]
async fn http_urls_are_fetched_and_errors_name_the_url() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/t.yaml"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "ROSTemplateFormatVersion: '2015-09-01'\nResources:\n  V: {Type: ALIYUN::ECS::VPC}\nOutputs:\n  Id: {Value: !Ref V}\n",
        ))
        .mount(&server)
        .await;
    let url = format!("{}/t.yaml", server.uri());
    let t = load(&url, None).await.unwrap();
    assert_eq!(t.outputs["Id"].value, iac_core::Expr::reference("V"));
    let missing = format!("{}/nope.json", server.uri());
    let err = load(&missing, None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot fetch template {missing}: HTTP 404 Not Found")
    );
}
