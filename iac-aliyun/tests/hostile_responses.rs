//! Malformed answers from the cloud (truncated JSON, wrong types, missing fields, HTML
//! error pages, HTTP 200 with an error body, an answer that never comes): each is a clear
//! error naming the action, classified so that the engine retries only what may succeed,
//! never a panic or a hang.

use std::time::Duration;

use iac_aliyun::api::{CreateVpcResponse, DescribeInstancesResponse};
use iac_aliyun::client::{Client, ClientConfig, Params, RetryPolicy};
use iac_aliyun::endpoints::Product;
use iac_aliyun::error::ApiError;
use iac_aliyun::sign::AccessKey;
use iac_core::provider::{ErrorKind, HandlerError};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(server: &MockServer) -> Client {
    Client::new(
        ClientConfig::new("cn-hangzhou", AccessKey::new("LTAI-test", "test-secret"))
            .with_endpoint(server.uri())
            .with_retry(RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
            })
            .with_timeout(Duration::from_millis(500)),
    )
    .unwrap()
}

async fn answering(status: u16, content_type: &str, body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(status)
                .insert_header("content-type", content_type)
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    server
}

fn assert_clear(err: &ApiError, action: &str, needles: &[&str]) {
    let text = err.to_string();
    assert!(text.starts_with(&format!("{action}: ")), "{text}");
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    // What the engine sees names the action too.
    let handler: HandlerError = err.clone().into();
    assert!(handler.message.contains(action), "{}", handler.message);
}

/// An answer: status, content type, body, decoded as the typed answer (or raw), the kind
/// of error expected and words its message must hold.
type Case<'a> = (u16, &'a str, &'a str, bool, ErrorKind, &'a [&'a str]);

#[tokio::test]
async fn malformed_rpc_answers_are_clear_errors() {
    // (status, content type, body, the action's typed answer or raw, kind, words)
    let cases: &[Case] = &[
        (
            200,
            "application/json",
            r#"{"RequestId":"r1","VpcId":"vpc-1","VRouterId":"#,
            true,
            ErrorKind::Permanent,
            &["not JSON", "EOF"],
        ),
        (
            200,
            "application/json",
            r#"{"RequestId":"r1","VpcId":17,"VRouterId":"vrt-1","RouteTableId":"vtb-1"}"#,
            true,
            ErrorKind::Permanent,
            &["does not decode", "invalid type"],
        ),
        (
            200,
            "application/json",
            r#"{"RequestId":"r1"}"#,
            true,
            ErrorKind::Permanent,
            &["does not decode", "missing field"],
        ),
        (
            200,
            "application/json",
            r#"{"RequestId":"r9","Code":"InvalidVpcName.Malformed","Message":"The VPC name is malformed."}"#,
            true,
            ErrorKind::Invalid,
            &["InvalidVpcName.Malformed", "HTTP 200", "r9"],
        ),
        (
            200,
            "text/html",
            "<html><body><h1>Welcome to nginx</h1></body></html>",
            false,
            ErrorKind::Permanent,
            &["not JSON", "nginx"],
        ),
        (
            502,
            "text/html",
            "<html><head><title>502 Bad Gateway</title></head></html>",
            false,
            ErrorKind::Transient,
            &["Http502", "HTTP 502"],
        ),
        (
            403,
            "text/html",
            "<html>Forbidden</html>",
            false,
            ErrorKind::Auth,
            &["HTTP 403"],
        ),
        (
            200,
            "application/json",
            "",
            false,
            ErrorKind::Permanent,
            &["not JSON"],
        ),
        (
            400,
            "application/json",
            r#"{"Code": 42, "Message": ["not", "text"]}"#,
            false,
            ErrorKind::Invalid,
            &["HTTP 400"],
        ),
    ];
    for (status, content_type, body, typed, kind, needles) in cases {
        let server = answering(*status, content_type, body).await;
        let c = client(&server);
        let err = if *typed {
            c.call::<CreateVpcResponse>(Product::Vpc, "CreateVpc", Params::new())
                .await
                .map(|_| ())
                .expect_err(body)
        } else {
            c.rpc(Product::Vpc, "CreateVpc", Params::new())
                .await
                .map(|_| ())
                .expect_err(body)
        };
        assert_clear(&err, "CreateVpc", needles);
        assert_eq!(err.kind(), *kind, "{err}");
    }
}

#[tokio::test]
async fn a_list_with_wrong_types_inside_is_an_error_not_a_panic() {
    let server = answering(
        200,
        "application/json",
        r#"{"RequestId":"r","TotalCount":"many","Instances":{"Instance":"nope"}}"#,
    )
    .await;
    let err = client(&server)
        .call::<DescribeInstancesResponse>(Product::Ecs, "DescribeInstances", Params::new())
        .await
        .expect_err("wrong types");
    assert_clear(&err, "DescribeInstances", &["does not decode"]);
}

#[tokio::test]
async fn an_answer_that_never_comes_is_a_transient_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let err = client(&server)
        .rpc(Product::Ecs, "DescribeInstances", Params::new())
        .await
        .expect_err("times out");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert_clear(&err, "DescribeInstances", &["Transport"]);
    // A read is repeated (2 attempts), then given up: bounded, not a hang.
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn malformed_oss_answers_are_clear_errors() {
    let cases: &[(u16, &str, ErrorKind, &[&str])] = &[
        (
            403,
            "<html><body>Access denied by proxy</body></html>",
            ErrorKind::Auth,
            &["HTTP 403"],
        ),
        (
            404,
            "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>gone",
            ErrorKind::NotFound,
            &["NoSuchBucket"],
        ),
        (500, "", ErrorKind::Transient, &["HTTP 500"]),
    ];
    for (status, body, kind, needles) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(*status)
                    .insert_header("content-type", "application/xml")
                    .set_body_string(*body),
            )
            .mount(&server)
            .await;
        let err = client(&server)
            .oss()
            .bucket_info("b")
            .await
            .expect_err("refused");
        assert_clear(&err, "GetBucketInfo", needles);
        assert_eq!(err.kind(), *kind, "{err}");
    }
    // A 200 whose XML lacks every field still gives an answer naming the bucket asked for.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<Bucket><Na"))
        .mount(&server)
        .await;
    let info = client(&server).oss().bucket_info("b").await.unwrap();
    assert_eq!(info.name, "b");
}
