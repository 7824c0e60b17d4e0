//! The client on the wire: one mock server per test, asserting the exact parameters, that
//! the signature verifies, and how failures are retried.

use std::time::Duration;

use futures::TryStreamExt;
use iac_aliyun::api::DescribeInstancesResponse;
use iac_aliyun::client::{Client, ClientConfig, Paging, Params, RetryPolicy, SignatureStyle};
use iac_aliyun::endpoints::Product;
use iac_aliyun::sign::{AccessKey, acs3, oss, rpc};
use iac_core::provider::ErrorKind;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn key() -> AccessKey {
    AccessKey::new("LTAI-test", "test-secret")
}

fn client(server: &MockServer) -> Client {
    let retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    Client::new(
        ClientConfig::new("cn-hangzhou", key())
            .with_endpoint(server.uri())
            .with_retry(retry),
    )
    .unwrap()
}

fn form(request: &Request) -> Vec<(String, String)> {
    rpc::decode_form(std::str::from_utf8(&request.body).unwrap()).expect("a form body")
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Checks the V1 signature of a request the way the cloud does.
fn assert_signed(params: &[(String, String)]) {
    let given = param(params, "Signature").expect("a Signature");
    assert_eq!(
        rpc::sign("POST", params, &key().secret),
        given,
        "the signature verifies"
    );
}

#[tokio::test]
async fn an_rpc_call_sends_the_common_parameters_and_a_valid_signature() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"RequestId": "r-1", "VpcId": "vpc-1"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let answer = client(&server)
        .rpc(
            Product::Vpc,
            "CreateVpc",
            Params::new()
                .with("CidrBlock", "192.168.0.0/16")
                .with("VpcName", "demo vpc*~"),
        )
        .await
        .unwrap();
    assert_eq!(answer["VpcId"], "vpc-1");
    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    let params = form(request);
    for (name, value) in [
        ("Action", "CreateVpc"),
        ("Version", "2016-04-28"),
        ("Format", "JSON"),
        ("AccessKeyId", "LTAI-test"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("RegionId", "cn-hangzhou"),
        ("CidrBlock", "192.168.0.0/16"),
        ("VpcName", "demo vpc*~"),
    ] {
        assert_eq!(param(&params, name), Some(value), "{name}");
    }
    let timestamp = param(&params, "Timestamp").unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "{timestamp}"
    );
    assert!(param(&params, "SignatureNonce").is_some_and(|n| n.len() == 32));
    assert_signed(&params);
}

/// Answers with a sequence of responses, one per request, repeating the last.
struct Sequence(Vec<ResponseTemplate>, std::sync::atomic::AtomicUsize);

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let i = self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0[i.min(self.0.len() - 1)].clone()
    }
}

fn error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"RequestId": "r-err", "HostId": "ecs", "Code": code, "Message": "m"}))
}

#[tokio::test]
async fn a_retried_call_keeps_its_client_token_and_gets_a_new_nonce_and_timestamp_signature() {
    let server = MockServer::start().await;
    let responses = vec![
        error(503, "ServiceUnavailable"),
        error(400, "Throttling.User"),
        ResponseTemplate::new(200)
            .set_body_json(json!({"RequestId": "r", "InstanceIdSets": {"InstanceIdSet": ["i-1"]}})),
    ];
    Mock::given(method("POST"))
        .respond_with(Sequence(responses, 0.into()))
        .expect(3)
        .mount(&server)
        .await;
    let params = Params::new()
        .with("ImageId", "img")
        .with("InstanceType", "ecs.g7.large")
        .with("ClientToken", "iac-token-1");
    let answer = client(&server)
        .rpc(Product::Ecs, "RunInstances", params)
        .await
        .unwrap();
    assert_eq!(answer["InstanceIdSets"]["InstanceIdSet"][0], "i-1");
    let requests = server.received_requests().await.unwrap();
    let sent: Vec<Vec<(String, String)>> = requests.iter().map(form).collect();
    let nonces: std::collections::HashSet<&str> = sent
        .iter()
        .map(|p| param(p, "SignatureNonce").unwrap())
        .collect();
    assert_eq!(nonces.len(), 3, "every attempt has its own nonce");
    for params in &sent {
        assert_eq!(param(params, "ClientToken"), Some("iac-token-1"));
        assert_signed(params);
    }
}

#[tokio::test]
async fn a_write_without_client_token_is_not_repeated_after_a_lost_answer_but_is_after_throttling()
{
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(error(503, "ServiceUnavailable"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .rpc(
            Product::Nas,
            "CreateMountTarget",
            Params::new().with("FileSystemId", "f-1"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "ServiceUnavailable");
    assert_eq!(
        err.kind(),
        ErrorKind::Transient,
        "the engine decides what to do next"
    );
    server.verify().await;

    let server = MockServer::start().await;
    let responses = vec![
        error(400, "Throttling.User"),
        ResponseTemplate::new(200).set_body_json(json!({"MountTargetDomain": "x"})),
    ];
    Mock::given(method("POST"))
        .respond_with(Sequence(responses, 0.into()))
        .expect(2)
        .mount(&server)
        .await;
    client(&server)
        .rpc(
            Product::Nas,
            "CreateMountTarget",
            Params::new().with("FileSystemId", "f-1"),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn errors_that_must_never_be_retried_are_sent_once_and_decoded() {
    for (status, code, kind) in [
        (400, "IdempotentParameterMismatch", ErrorKind::Invalid),
        (400, "InvalidParameter", ErrorKind::Invalid),
        (400, "SignatureDoesNotMatch", ErrorKind::Auth),
        (404, "InvalidVpcId.NotFound", ErrorKind::NotFound),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(error(status, code))
            .expect(1)
            .mount(&server)
            .await;
        let params = Params::new().with("ClientToken", "t");
        let err = client(&server)
            .rpc(Product::Vpc, "CreateVpc", params)
            .await
            .unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.http_status, err.kind()),
            (code, status, kind)
        );
        assert_eq!(err.request_id.as_deref(), Some("r-err"));
        assert!(
            err.to_string().contains("CreateVpc") && err.to_string().contains(code),
            "{err}"
        );
        server.verify().await;
    }
}

#[tokio::test]
async fn a_dead_endpoint_is_a_transient_transport_error_after_the_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let config = ClientConfig::new("cn-hangzhou", key())
        .with_endpoint(format!("http://{address}"))
        .with_retry(RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        });
    let err = Client::new(config)
        .unwrap()
        .rpc(Product::Ecs, "DescribeInstances", Params::new())
        .await
        .unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.kind()),
        ("Transport", ErrorKind::Transient)
    );
}

#[tokio::test]
async fn lists_page_lazily_with_next_token_and_with_page_numbers() {
    let server = MockServer::start().await;
    struct Pages;
    impl Respond for Pages {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let params = form(request);
            let (ids, next) = match param(&params, "NextToken") {
                None => (vec!["i-1", "i-2"], "p2"),
                Some("p2") => (vec!["i-3", "i-4"], "p3"),
                Some(_) => (vec!["i-5"], ""),
            };
            assert_eq!(param(&params, "MaxResults"), Some("2"));
            let instances: Vec<_> = ids
                .iter()
                .map(|id| json!({"InstanceId": id, "Status": "Running"}))
                .collect();
            ResponseTemplate::new(200)
                .set_body_json(json!({"Instances": {"Instance": instances}, "NextToken": next}))
        }
    }
    Mock::given(method("POST"))
        .respond_with(Pages)
        .mount(&server)
        .await;
    let client = client(&server);
    let mut stream = client.list(
        Product::Ecs,
        "DescribeInstances",
        Params::new(),
        Paging::NextToken { max_results: 2 },
        &["Instances", "Instance"],
    );
    let first = stream.try_next().await.unwrap().unwrap();
    assert_eq!(first["InstanceId"], "i-1");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "one page fetched for the first item"
    );
    let rest: Vec<_> = stream.try_collect().await.unwrap();
    assert_eq!(rest.len(), 4);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    let server = MockServer::start().await;
    struct Numbered;
    impl Respond for Numbered {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let params = form(request);
            let page: usize = param(&params, "PageNumber").unwrap().parse().unwrap();
            let vpcs: Vec<_> = (0..if page < 3 { 2 } else { 1 })
                .map(|i| json!({"VpcId": format!("vpc-{page}-{i}"), "Status": "Available"}))
                .collect();
            ResponseTemplate::new(200).set_body_json(
                json!({"Vpcs": {"Vpc": vpcs}, "TotalCount": 5, "PageNumber": page, "PageSize": 2}),
            )
        }
    }
    Mock::given(method("POST"))
        .respond_with(Numbered)
        .mount(&server)
        .await;
    let all = self::client(&server)
        .list_all(
            Product::Vpc,
            "DescribeVpcs",
            Params::new(),
            Paging::PageNumber { page_size: 2 },
            &["Vpcs", "Vpc"],
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn typed_answers_decode_the_wrapped_lists() {
    let server = MockServer::start().await;
    let body = json!({"RequestId": "r", "NextToken": "", "Instances": {"Instance": [
        {"InstanceId": "i-1", "Status": "Pending", "HostName": "node-001",
         "VpcAttributes": {"VpcId": "vpc-1", "PrivateIpAddress": {"IpAddress": ["192.168.1.10"]}},
         "PublicIpAddress": {"IpAddress": ["47.1.2.3"]}}]}});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let answer: DescribeInstancesResponse = client(&server)
        .call(
            Product::Ecs,
            "DescribeInstances",
            Params::new().with("InstanceIds", r#"["i-1"]"#),
        )
        .await
        .unwrap();
    let instance = &answer.instances.0[0];
    assert_eq!(
        (
            instance.status.as_str(),
            instance.private_ip(),
            instance.public_ip()
        ),
        ("Pending", Some("192.168.1.10"), Some("47.1.2.3"))
    );
}

#[tokio::test]
async fn acs3_calls_carry_the_headers_and_a_signature_that_verifies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"RequestId": "r"})))
        .mount(&server)
        .await;
    let config = ClientConfig::new("cn-hangzhou", key())
        .with_endpoint(server.uri())
        .with_signature(SignatureStyle::Acs3);
    Client::new(config)
        .unwrap()
        .rpc(
            Product::Ecs,
            "DescribeRegions",
            Params::new().with("AcceptLanguage", "en-US"),
        )
        .await
        .unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(header("x-acs-action").as_deref(), Some("DescribeRegions"));
    assert_eq!(header("x-acs-version").as_deref(), Some("2014-05-26"));
    assert_eq!(
        header("x-acs-content-sha256"),
        Some(acs3::hashed_payload(&request.body))
    );
    let signed: Vec<(String, String)> = [
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
        "content-type",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), header(n).unwrap()))
    .collect();
    let expected = acs3::sign(
        "POST",
        "/",
        &[],
        &signed,
        &header("x-acs-content-sha256").unwrap(),
        &key(),
    );
    assert_eq!(header("authorization"), Some(expected.authorization));
    let params = form(request);
    assert_eq!(param(&params, "AcceptLanguage"), Some("en-US"));
    assert_eq!(param(&params, "RegionId"), Some("cn-hangzhou"));
}

#[tokio::test]
async fn oss_calls_are_signed_path_style_and_their_xml_errors_decode() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/iac-bucket/dir/a%20b.txt"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE")).and(path("/gone-bucket")).respond_with(
        ResponseTemplate::new(404).set_body_string("<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>no</Message><RequestId>x</RequestId></Error>"),
    ).mount(&server).await;
    Mock::given(method("GET")).and(path("/iac-bucket")).respond_with(
        ResponseTemplate::new(403).set_body_string("<Error><Code>AccessDenied</Code><Message>denied</Message><RequestId>y</RequestId></Error>"),
    ).mount(&server).await;
    let oss_client = client(&server).oss();
    oss_client
        .put_object("iac-bucket", "dir/a b.txt", b"hello".to_vec(), "text/plain")
        .await
        .unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header("content-md5"), "XUFAKrxLKna5cZ2REBfFkg==");
    let headers: Vec<(String, String)> = ["Content-MD5", "Content-Type", "Date"]
        .iter()
        .map(|n| ((*n).to_owned(), header(n)))
        .collect();
    let expected = oss::sign("PUT", "iac-bucket", "dir/a b.txt", &headers, &[], &key());
    assert_eq!(header("authorization"), expected.authorization);

    oss_client
        .delete_bucket("gone-bucket")
        .await
        .expect("a bucket that is gone is deleted");
    let err = oss_client.list_objects("iac-bucket").await.unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.http_status, err.kind()),
        ("AccessDenied", 403, ErrorKind::Auth)
    );
}

#[test]
fn the_client_never_prints_its_secret() {
    let mut key = key();
    key.security_token = Some(iac_core::Secret::new("sts-token-value"));
    let client = Client::new(ClientConfig::new("cn-hangzhou", key)).unwrap();
    let shown = format!("{client:?}");
    assert!(
        shown.contains("LTAI-test")
            && !shown.contains("test-secret")
            && !shown.contains("sts-token-value"),
        "{shown}"
    );
}
