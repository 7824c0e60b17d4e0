//! The simulator on the wire: reqwest and the crate's signers against `iac_aliyun::sim`.
#![cfg(feature = "sim")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use iac_aliyun::sign::{AccessKey, acs3, oss, rpc};
use iac_aliyun::sim::{Delays, Faults, SimConfig, Simulator};
use md5::{Digest, Md5};
use serde_json::Value;

const ECS: &str = "2014-05-26";
const VPC: &str = "2016-04-28";
const SLB: &str = "2014-05-15";
const NAS: &str = "2017-06-26";

fn nonce() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "nonce-{}-{}",
        NEXT.fetch_add(1, Ordering::Relaxed),
        rand::random::<u64>()
    )
}

fn timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A plain HTTP client: no pooled connections, so no idle timers move paused time.
struct Client {
    http: reqwest::Client,
    endpoint: String,
    key: AccessKey,
}

impl Client {
    fn new(sim: &Simulator) -> Self {
        Client {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("a reqwest client builds"),
            endpoint: sim.endpoint(),
            key: sim.access_key(),
        }
    }

    fn signed(&self, action: &str, version: &str, params: &[(&str, &str)]) -> rpc::SignedRequest {
        self.signed_with(action, version, params, &nonce(), &timestamp())
    }

    fn signed_with(
        &self,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
        nonce: &str,
        timestamp: &str,
    ) -> rpc::SignedRequest {
        let call = rpc::RpcCall {
            method: "POST",
            action,
            version,
            region: Some("cn-hangzhou"),
            params: owned(params),
        };
        rpc::sign_call(&call, &self.key, nonce, timestamp)
    }

    async fn post(&self, form: String) -> reqwest::Result<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    async fn try_call(
        &self,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> reqwest::Result<(u16, Value)> {
        self.post(self.signed(action, version, params).encoded)
            .await
    }

    async fn call(&self, action: &str, version: &str, params: &[(&str, &str)]) -> (u16, Value) {
        self.try_call(action, version, params)
            .await
            .expect("the simulator answers")
    }

    /// Calls and expects success.
    async fn ok(&self, action: &str, version: &str, params: &[(&str, &str)]) -> Value {
        let (status, body) = self.call(action, version, params).await;
        assert_eq!(status, 200, "{action}: {body}");
        assert!(body["RequestId"].is_string(), "{body}");
        body
    }

    /// Calls and expects an error: the code and message.
    async fn err(
        &self,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> (u16, String, String) {
        let (status, body) = self.call(action, version, params).await;
        assert_ne!(status, 200, "{action} should fail: {body}");
        assert_eq!(body["HostId"], "127.0.0.1", "{body}");
        assert!(body["RequestId"].is_string(), "{body}");
        (
            status,
            body["Code"].as_str().unwrap_or_default().to_owned(),
            body["Message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

async fn quick_sim() -> Simulator {
    Simulator::start(SimConfig {
        delays: Delays::none(),
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts")
}

/// A VPC, a VSwitch (172.16.1.0/24 in cn-hangzhou-h) and a security group, with no delays.
async fn network(c: &Client) -> (String, String, String) {
    let vpc = s(&c
        .ok("CreateVpc", VPC, &[("CidrBlock", "172.16.0.0/16")])
        .await["VpcId"]);
    let vsw = s(&c
        .ok(
            "CreateVSwitch",
            VPC,
            &[
                ("VpcId", &vpc),
                ("ZoneId", "cn-hangzhou-h"),
                ("CidrBlock", "172.16.1.0/24"),
            ],
        )
        .await["VSwitchId"]);
    let sg = s(&c.ok("CreateSecurityGroup", ECS, &[("VpcId", &vpc)]).await["SecurityGroupId"]);
    (vpc, vsw, sg)
}

#[tokio::test]
async fn a_good_signature_works_and_a_bad_one_is_refused() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    let body = c.ok("DescribeVpcs", VPC, &[]).await;
    assert_eq!(body["Vpcs"]["Vpc"], serde_json::json!([]));
    assert_eq!(body["TotalCount"], 0);

    let signed = c.signed("DescribeVpcs", VPC, &[]);
    let tampered = signed
        .encoded
        .replace("Format=JSON", "Format=JSON&VpcName=x");
    let (status, body) = c.post(tampered).await.unwrap();
    assert_eq!(
        (status, s(&body["Code"]).as_str()),
        (400, "SignatureDoesNotMatch")
    );

    let stranger = Client {
        key: AccessKey::new("LTAI-nobody", "whatever"),
        ..Client::new(&sim)
    };
    let (status, code, _) = stranger.err("DescribeVpcs", VPC, &[]).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidAccessKeyId.NotFound")
    );

    // A signature without its nonce is incomplete.
    let bare = signed
        .encoded
        .split('&')
        .filter(|kv| !kv.starts_with("SignatureNonce="))
        .collect::<Vec<_>>()
        .join("&");
    let (status, body) = c.post(bare).await.unwrap();
    assert_eq!(
        (status, s(&body["Code"]).as_str()),
        (400, "IncompleteSignature")
    );
    assert_eq!(
        sim.calls("DescribeVpcs"),
        1,
        "refused requests never reach the action"
    );
}

#[tokio::test]
async fn a_reused_nonce_is_refused() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    let first = c.signed_with("DescribeVpcs", VPC, &[], "same-nonce", &timestamp());
    let (status, _) = c.post(first.encoded).await.unwrap();
    assert_eq!(status, 200);
    let again = c.signed_with(
        "DescribeVpcs",
        VPC,
        &[("PageSize", "5")],
        "same-nonce",
        &timestamp(),
    );
    let (status, body) = c.post(again.encoded).await.unwrap();
    assert_eq!(
        (status, s(&body["Code"]).as_str()),
        (400, "SignatureNonceUsed")
    );
}

#[tokio::test]
async fn old_and_malformed_timestamps_are_refused() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    let old = (chrono::Utc::now() - chrono::TimeDelta::minutes(20))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (status, body) = c
        .post(
            c.signed_with("DescribeVpcs", VPC, &[], &nonce(), &old)
                .encoded,
        )
        .await
        .unwrap();
    assert_eq!(
        (status, s(&body["Code"]).as_str()),
        (400, "InvalidTimeStamp.Expired")
    );
    let recent = (chrono::Utc::now() - chrono::TimeDelta::minutes(10))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (status, _) = c
        .post(
            c.signed_with("DescribeVpcs", VPC, &[], &nonce(), &recent)
                .encoded,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "ten minutes of skew are allowed");
    let (status, body) = c
        .post(
            c.signed_with("DescribeVpcs", VPC, &[], &nonce(), "yesterday")
                .encoded,
        )
        .await
        .unwrap();
    assert_eq!(
        (status, s(&body["Code"]).as_str()),
        (400, "InvalidTimeStamp.Format")
    );
}

async fn acs3_call(
    c: &Client,
    action: &str,
    version: &str,
    query: &[(&str, &str)],
    tamper: bool,
) -> (u16, Value) {
    let query = owned(query);
    let host = c.endpoint.trim_start_matches("http://").to_owned();
    let hashed = acs3::hashed_payload(b"");
    let headers = owned(&[
        ("host", &host),
        ("x-acs-action", action),
        ("x-acs-version", version),
        ("x-acs-date", &timestamp()),
        ("x-acs-signature-nonce", &nonce()),
        ("x-acs-content-sha256", &hashed),
    ]);
    let signed = acs3::sign("GET", "/", &query, &headers, &hashed, &c.key);
    let mut authorization = signed.authorization.clone();
    if tamper {
        authorization = authorization.replace("Signature=", "Signature=00");
    }
    let url = reqwest::Url::parse_with_params(&format!("{}/", c.endpoint), &query).unwrap();
    let mut request = c.http.get(url).header("authorization", authorization);
    for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
        request = request.header(k, v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn an_acs3_signed_call_works() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    let (status, body) = acs3_call(
        &c,
        "CreateVpc",
        VPC,
        &[("RegionId", "cn-hangzhou"), ("VpcName", "v3 vpc")],
        false,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(s(&body["VpcId"]).starts_with("vpc-"), "{body}");
    assert_eq!(sim.inventory().vpcs[0].name, "v3 vpc");
    let (status, body) = acs3_call(
        &c,
        "DescribeVpcs",
        VPC,
        &[("RegionId", "cn-hangzhou")],
        true,
    )
    .await;
    assert_eq!(
        (status, s(&body["Code"]).as_str()),
        (400, "SignatureDoesNotMatch")
    );
}

struct OssReply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn oss_call(
    c: &Client,
    method: &str,
    (bucket, key): (&str, &str),
    subs: &[(&str, &str)],
    extra: &[(&str, &str)],
    body: &[u8],
    secret: Option<&str>,
) -> OssReply {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let mut headers = owned(extra);
    headers.push(("Date".to_owned(), date));
    let signer = match secret {
        Some(secret) => AccessKey::new(c.key.id.clone(), secret),
        None => c.key.clone(),
    };
    let signed = oss::sign(method, bucket, key, &headers, &owned(subs), &signer);
    let mut url = format!("{}/{bucket}", c.endpoint);
    if !key.is_empty() {
        url.push('/');
        url.push_str(key);
    }
    if !subs.is_empty() {
        url.push('?');
        url.push_str(&subs.iter().map(|(k, _)| *k).collect::<Vec<_>>().join("&"));
    }
    let mut request = c
        .http
        .request(method.parse().unwrap(), url)
        .header("authorization", signed.authorization)
        .body(body.to_vec());
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let response = request.send().await.unwrap();
    OssReply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

#[tokio::test]
async fn an_oss_bucket_and_object_round_trip() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    let put = oss_call(
        &c,
        "PUT",
        ("my-bucket", ""),
        &[],
        &[("x-oss-acl", "public-read")],
        b"",
        None,
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);

    let data = b"hello, simulated oss";
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(data));
    let put = oss_call(
        &c,
        "PUT",
        ("my-bucket", "dir/hello.txt"),
        &[],
        &[("Content-MD5", &md5), ("Content-Type", "text/plain")],
        data,
        None,
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let etag = format!("\"{}\"", hex::encode_upper(Md5::digest(data)));
    assert_eq!(put.headers["etag"], etag.as_str());

    let get = oss_call(
        &c,
        "GET",
        ("my-bucket", "dir/hello.txt"),
        &[],
        &[],
        b"",
        None,
    )
    .await;
    assert_eq!((get.status, get.body.as_bytes()), (200, &data[..]));
    assert_eq!(get.headers["content-type"], "text/plain");
    let head = oss_call(
        &c,
        "HEAD",
        ("my-bucket", "dir/hello.txt"),
        &[],
        &[],
        b"",
        None,
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.headers["content-length"],
        data.len().to_string().as_str()
    );

    let list = oss_call(&c, "GET", ("my-bucket", ""), &[], &[], b"", None).await;
    assert!(
        list.body.contains("<Key>dir/hello.txt</Key>"),
        "{}",
        list.body
    );
    assert!(list.body.contains(&format!("<Size>{}</Size>", data.len())));
    let acl = oss_call(&c, "GET", ("my-bucket", ""), &[("acl", "")], &[], b"", None).await;
    assert!(
        acl.body.contains("<Grant>public-read</Grant>"),
        "{}",
        acl.body
    );
    let info = oss_call(
        &c,
        "GET",
        ("my-bucket", ""),
        &[("bucketInfo", "")],
        &[],
        b"",
        None,
    )
    .await;
    assert!(
        info.body.contains("<Location>oss-cn-hangzhou</Location>"),
        "{}",
        info.body
    );

    let bad_md5 = oss_call(
        &c,
        "PUT",
        ("my-bucket", "other"),
        &[],
        &[("Content-MD5", &md5)],
        b"different",
        None,
    )
    .await;
    assert_eq!(bad_md5.status, 400);
    assert!(bad_md5.body.contains("<Code>InvalidDigest</Code>"));

    let not_empty = oss_call(&c, "DELETE", ("my-bucket", ""), &[], &[], b"", None).await;
    assert_eq!(not_empty.status, 409);
    assert!(
        not_empty.body.contains("<Code>BucketNotEmpty</Code>"),
        "{}",
        not_empty.body
    );
    assert!(not_empty.body.contains("<HostId>127.0.0.1</HostId>"));

    let forged = oss_call(
        &c,
        "GET",
        ("my-bucket", "dir/hello.txt"),
        &[],
        &[],
        b"",
        Some("wrong"),
    )
    .await;
    assert_eq!(forged.status, 403);
    assert!(
        forged.body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        forged.body
    );

    let delete = oss_call(
        &c,
        "DELETE",
        ("my-bucket", "dir/hello.txt"),
        &[],
        &[],
        b"",
        None,
    )
    .await;
    assert_eq!(delete.status, 204);
    let missing = oss_call(
        &c,
        "GET",
        ("my-bucket", "dir/hello.txt"),
        &[],
        &[],
        b"",
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("<Code>NoSuchKey</Code>"));
    let delete = oss_call(&c, "DELETE", ("my-bucket", ""), &[], &[], b"", None).await;
    assert_eq!(delete.status, 204);
    let gone = oss_call(&c, "GET", ("my-bucket", ""), &[("acl", "")], &[], b"", None).await;
    assert_eq!(gone.status, 404);
    assert!(gone.body.contains("<Code>NoSuchBucket</Code>"));
    let bad_name = oss_call(&c, "PUT", ("Bad_Name", ""), &[], &[], b"", None).await;
    assert_eq!(bad_name.status, 400);
    assert!(bad_name.body.contains("<Code>InvalidBucketName</Code>"));

    assert_eq!(sim.calls("PutBucket"), 2);
    assert_eq!(sim.calls("PutObject"), 2);
    assert_eq!(sim.calls("DeleteBucket"), 2);
    assert_eq!(
        sim.calls("GetObject"),
        2,
        "the forged GET never reached the action"
    );
    assert!(sim.inventory().is_empty());
}

#[tokio::test(start_paused = true)]
async fn instances_go_pending_starting_running_in_virtual_time() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let c = Client::new(&sim);
    let vpc = s(&c.ok("CreateVpc", VPC, &[("CidrBlock", "10.0.0.0/8")]).await["VpcId"]);
    assert_eq!(sim.inventory().vpcs[0].status, "Pending");
    let vsw_params = [
        ("VpcId", vpc.as_str()),
        ("ZoneId", "cn-hangzhou-i"),
        ("CidrBlock", "10.1.0.0/24"),
    ];
    let (_, code, _) = c.err("CreateVSwitch", VPC, &vsw_params).await;
    assert_eq!(code, "IncorrectVpcStatus");
    tokio::time::advance(Duration::from_secs(1)).await;
    let vpcs = c.ok("DescribeVpcs", VPC, &[("VpcId", &vpc)]).await;
    assert_eq!(vpcs["Vpcs"]["Vpc"][0]["Status"], "Available");
    let vsw = s(&c.ok("CreateVSwitch", VPC, &vsw_params).await["VSwitchId"]);
    let sg = s(&c.ok("CreateSecurityGroup", ECS, &[("VpcId", &vpc)]).await["SecurityGroupId"]);
    tokio::time::advance(Duration::from_secs(1)).await;

    let run = c
        .ok(
            "RunInstances",
            ECS,
            &[
                ("ImageId", "ubuntu_22_04_x64_20G_alibase_20240101.vhd"),
                ("InstanceType", "ecs.g7.large"),
                ("SecurityGroupId", &sg),
                ("VSwitchId", &vsw),
                ("Amount", "3"),
                ("InstanceName", "web"),
                ("HostName", "web"),
                ("UniqueSuffix", "true"),
                ("InternetMaxBandwidthOut", "5"),
            ],
        )
        .await;
    let ids: Vec<String> = run["InstanceIdSets"]["InstanceIdSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert_eq!(ids.len(), 3);
    let statuses = |inventory: iac_aliyun::sim::Inventory| {
        inventory
            .instances
            .into_iter()
            .map(|i| i.status)
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(sim.inventory()), ["Pending"; 3]);
    tokio::time::advance(Duration::from_millis(2000)).await;
    let described = c
        .ok(
            "DescribeInstances",
            ECS,
            &[("InstanceIds", &serde_json::to_string(&ids).unwrap())],
        )
        .await;
    let instances = described["Instances"]["Instance"].as_array().unwrap();
    assert_eq!(instances.len(), 3);
    assert!(
        instances.iter().all(|i| i["Status"] == "Starting"),
        "{described}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(statuses(sim.inventory()), ["Running"; 3]);

    let inventory = sim.inventory();
    let names: Vec<&str> = inventory
        .instances
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, ["web001", "web002", "web003"]);
    assert_eq!(inventory.instances[2].host_name, "web003");
    let ips: Vec<&str> = inventory
        .instances
        .iter()
        .map(|i| i.private_ip.as_str())
        .collect();
    assert!(ips.iter().all(|ip| ip.starts_with("10.1.0.")), "{ips:?}");
    assert!(ips[0] != ips[1] && ips[1] != ips[2] && ips[0] != ips[2]);
    assert!(inventory.instances.iter().all(|i| i.public_ip.is_some()));
    assert_eq!(inventory.instances[0].zone_id, "cn-hangzhou-i");
}

#[tokio::test]
async fn client_tokens_replay_and_mismatch() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    let params = [("CidrBlock", "192.168.0.0/16"), ("ClientToken", "token-1")];
    let first = c.ok("CreateVpc", VPC, &params).await;
    let second = c.ok("CreateVpc", VPC, &params).await;
    assert_eq!(first["VpcId"], second["VpcId"]);
    assert_ne!(first["RequestId"], second["RequestId"]);
    assert_eq!(sim.inventory().vpcs.len(), 1);
    let (status, code, _) = c
        .err(
            "CreateVpc",
            VPC,
            &[("CidrBlock", "10.0.0.0/16"), ("ClientToken", "token-1")],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "IdempotentParameterMismatch")
    );
    let long = "x".repeat(65);
    let (_, code, _) = c.err("CreateVpc", VPC, &[("ClientToken", &long)]).await;
    assert_eq!(code, "InvalidClientToken.Malformed");
    assert_eq!(sim.inventory().vpcs.len(), 1);
}

#[tokio::test]
async fn deleting_what_others_depend_on_is_refused() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    let (vpc, vsw, sg) = network(&c).await;
    let (status, code, _) = c.err("DeleteVpc", VPC, &[("VpcId", &vpc)]).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "DependencyViolation.VSwitch")
    );

    let run = c
        .ok(
            "RunInstances",
            ECS,
            &[
                ("ImageId", "img"),
                ("InstanceType", "ecs.t6"),
                ("SecurityGroupId", &sg),
                ("VSwitchId", &vsw),
            ],
        )
        .await;
    let id = s(&run["InstanceIdSets"]["InstanceIdSet"][0]);
    let (_, code, message) = c
        .err("DeleteSecurityGroup", ECS, &[("SecurityGroupId", &sg)])
        .await;
    assert_eq!(code, "DependencyViolation");
    assert!(message.contains("instance"), "{message}");
    let (_, code, _) = c.err("DeleteVSwitch", VPC, &[("VSwitchId", &vsw)]).await;
    assert_eq!(code, "DependencyViolation");
    let (status, code, _) = c
        .err("DeleteInstances", ECS, &[("InstanceId.1", &id)])
        .await;
    assert_eq!((status, code.as_str()), (403, "IncorrectInstanceStatus"));
    let (status, code, _) = c
        .err(
            "DeleteInstances",
            ECS,
            &[
                ("InstanceId.1", &id),
                ("InstanceId.2", "i-missing"),
                ("Force", "true"),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidInstanceId.NotFound"));
    assert_eq!(sim.inventory().instances.len(), 1, "none deleted");
    c.ok(
        "DeleteInstances",
        ECS,
        &[("InstanceId.1", &id), ("Force", "true")],
    )
    .await;
    c.ok("DeleteVSwitch", VPC, &[("VSwitchId", &vsw)]).await;
    let (_, code, _) = c.err("DeleteVpc", VPC, &[("VpcId", &vpc)]).await;
    assert_eq!(code, "DependencyViolation.SecurityGroup");
    c.ok("DeleteSecurityGroup", ECS, &[("SecurityGroupId", &sg)])
        .await;
    c.ok("DeleteVpc", VPC, &[("VpcId", &vpc)]).await;
    let (status, code, _) = c.err("DeleteVpc", VPC, &[("VpcId", &vpc)]).await;
    assert_eq!((status, code.as_str()), (404, "InvalidVpcId.NotFound"));
    assert!(sim.inventory().is_empty());
}

#[tokio::test(start_paused = true)]
async fn quotas_throttle_and_calls_are_counted() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    sim.set_faults(Faults {
        quota_per_second: HashMap::from([("CreateVpc".to_owned(), 2)]),
        ..Faults::default()
    });
    c.ok("CreateVpc", VPC, &[]).await;
    c.ok("CreateVpc", VPC, &[]).await;
    let (status, code, _) = c.err("CreateVpc", VPC, &[]).await;
    assert_eq!((status, code.as_str()), (400, "Throttling.User"));
    c.ok("DescribeVpcs", VPC, &[]).await;
    assert_eq!(sim.calls("CreateVpc"), 3);
    assert_eq!(sim.calls("DescribeVpcs"), 1);
    assert_eq!(sim.total_calls(), 4);
    assert_eq!(
        sim.inventory().vpcs.len(),
        2,
        "the throttled call did nothing"
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    c.ok("CreateVpc", VPC, &[]).await;
    assert_eq!(sim.inventory().vpcs.len(), 3);
    assert_eq!(
        sim.call_counts().into_iter().collect::<Vec<_>>(),
        [("CreateVpc".to_owned(), 4), ("DescribeVpcs".to_owned(), 1)]
    );
    sim.reset_counts();
    assert_eq!(sim.total_calls(), 0);
}

#[tokio::test]
async fn dropped_and_lost_responses_are_transport_errors() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    sim.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    // `send` itself fails: no status line or headers ever arrive.
    let dropped = c
        .http
        .post(format!("{}/", c.endpoint))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(c.signed("CreateVpc", VPC, &[]).encoded)
        .send()
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    assert!(
        sim.inventory().vpcs.is_empty(),
        "a dropped call does nothing"
    );

    sim.set_faults(Faults {
        timeout_after_success_rate: 1.0,
        ..Faults::default()
    });
    let lost = c.try_call("CreateVpc", VPC, &[("VpcName", "lost")]).await;
    assert!(lost.is_err(), "{lost:?}");
    let inventory = sim.inventory();
    assert_eq!(inventory.vpcs.len(), 1, "the call was performed");
    assert_eq!(inventory.vpcs[0].name, "lost");

    sim.set_faults(Faults {
        server_error_rate: 1.0,
        ..Faults::default()
    });
    let (status, code, _) = c.err("CreateVpc", VPC, &[]).await;
    assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"));
    assert_eq!(sim.inventory().vpcs.len(), 1);
    assert_eq!(sim.calls("CreateVpc"), 3);

    sim.set_faults(Faults::default());
    c.ok("CreateVpc", VPC, &[]).await;
    assert_eq!(sim.inventory().vpcs.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn latency_is_added_in_virtual_time() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    sim.set_faults(Faults {
        latency: Duration::from_secs(30),
        ..Faults::default()
    });
    let start = tokio::time::Instant::now();
    c.ok("DescribeVpcs", VPC, &[]).await;
    assert!(start.elapsed() >= Duration::from_secs(30));
}

#[tokio::test]
async fn describe_instances_pages_with_next_token() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    let (_, vsw, sg) = network(&c).await;
    let run = c
        .ok(
            "RunInstances",
            ECS,
            &[
                ("ImageId", "img"),
                ("InstanceType", "ecs.t6"),
                ("SecurityGroupId", &sg),
                ("VSwitchId", &vsw),
                ("Amount", "5"),
                ("Tag.1.Key", "app"),
                ("Tag.1.Value", "web"),
            ],
        )
        .await;
    let mut created: Vec<String> = run["InstanceIdSets"]["InstanceIdSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let mut params = vec![("MaxResults", "2"), ("Tag.1.Key", "app")];
        if !token.is_empty() {
            params.push(("NextToken", &token));
        }
        let page = c.ok("DescribeInstances", ECS, &params).await;
        pages += 1;
        assert_eq!(page["TotalCount"], 5);
        let items = page["Instances"]["Instance"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|i| s(&i["InstanceId"])));
        token = s(&page["NextToken"]);
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    created.sort();
    seen.sort();
    assert_eq!(seen, created);
    let none = c
        .ok(
            "DescribeInstances",
            ECS,
            &[("Tag.1.Key", "app"), ("Tag.1.Value", "db")],
        )
        .await;
    assert_eq!(none["TotalCount"], 0);
    let (_, code, _) = c
        .err("DescribeInstances", ECS, &[("MaxResults", "101")])
        .await;
    assert_eq!(code, "InvalidParameter");
}

#[tokio::test]
async fn validation_errors_name_the_parameter() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    let (_, vsw, sg) = network(&c).await;
    let (status, code, message) = c
        .err(
            "RunInstances",
            ECS,
            &[
                ("InstanceType", "ecs.t6"),
                ("SecurityGroupId", &sg),
                ("VSwitchId", &vsw),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "MissingParameter"));
    assert_eq!(
        message,
        "The input parameter \"ImageId\" that is mandatory for processing this request is not supplied."
    );
    let (_, code, message) = c
        .err("CreateVpc", VPC, &[("CidrBlock", "10.0.0.0/33")])
        .await;
    assert_eq!(code, "InvalidCidrBlock.Malformed");
    assert!(message.contains("CidrBlock"), "{message}");
    let (_, code, message) = c
        .err(
            "AuthorizeSecurityGroup",
            ECS,
            &[
                ("SecurityGroupId", &sg),
                ("Permissions.1.IpProtocol", "tcp"),
                ("Permissions.1.PortRange", "22/22"),
                ("Permissions.2.IpProtocol", "tcp"),
                ("Permissions.2.PortRange", "80/70"),
            ],
        )
        .await;
    assert_eq!(code, "InvalidPortRange.Malformed");
    assert!(message.contains("Permissions.2.PortRange"), "{message}");
    let (_, code, message) = c
        .err(
            "AuthorizeSecurityGroup",
            ECS,
            &[
                ("SecurityGroupId", &sg),
                ("IpProtocol", "tcpx"),
                ("PortRange", "1/2"),
            ],
        )
        .await;
    assert_eq!(code, "InvalidIpProtocol.Malformed");
    assert!(message.contains("IpProtocol"), "{message}");
    let (_, code, message) = c
        .err(
            "CreateVSwitch",
            VPC,
            &[
                ("VpcId", "vpc-x"),
                ("ZoneId", "cn-hangzhou-h"),
                ("CidrBlock", "172.16.1.0/24"),
            ],
        )
        .await;
    assert_eq!(code, "InvalidVpcId.NotFound");
    assert!(message.contains("vpc-x"), "{message}");
    let (_, code, _) = c
        .err(
            "RunInstances",
            ECS,
            &[
                ("ImageId", "img"),
                ("InstanceType", "ecs.t6"),
                ("SecurityGroupId", &sg),
                ("VSwitchId", &vsw),
                ("UserData", "not base64!"),
            ],
        )
        .await;
    assert_eq!(code, "InvalidUserData.Base64FormatInvalid");
    let (_, code, _) = c
        .err(
            "RunInstances",
            ECS,
            &[
                ("ImageId", "img"),
                ("InstanceType", "ecs.t6"),
                ("SecurityGroupId", &sg),
                ("VSwitchId", &vsw),
                ("Amount", "101"),
            ],
        )
        .await;
    assert_eq!(code, "InvalidParameter.Amount");
    let (status, code, _) = c.err("CreateVpc", VPC, &[("RegionId", "us-west-1")]).await;
    assert_eq!((status, code.as_str()), (400, "InvalidRegionId.NotFound"));
    let (status, code, _) = c.err("LaunchRocket", ECS, &[]).await;
    assert_eq!((status, code.as_str()), (404, "InvalidAction.NotFound"));

    // Rules: an identical rule adds nothing, revoking a missing one succeeds.
    let rule = [
        ("SecurityGroupId", sg.as_str()),
        ("IpProtocol", "TCP"),
        ("PortRange", "22/22"),
        ("SourceCidrIp", "0.0.0.0/0"),
    ];
    c.ok("AuthorizeSecurityGroup", ECS, &rule).await;
    c.ok("AuthorizeSecurityGroup", ECS, &rule).await;
    let attribute = c
        .ok(
            "DescribeSecurityGroupAttribute",
            ECS,
            &[("SecurityGroupId", &sg)],
        )
        .await;
    let permissions = attribute["Permissions"]["Permission"].as_array().unwrap();
    assert_eq!(permissions.len(), 1, "{attribute}");
    assert_eq!(permissions[0]["PortRange"], "22/22");
    c.ok("RevokeSecurityGroup", ECS, &rule).await;
    c.ok("RevokeSecurityGroup", ECS, &rule).await;
    assert!(sim.inventory().security_groups[0].rules.is_empty());
}

#[tokio::test(start_paused = true)]
async fn load_balancers_and_file_systems_work() {
    let sim = Simulator::start(SimConfig {
        delays: Delays {
            listener_starting: Duration::from_secs(1),
            mount_target_pending: Duration::from_secs(2),
            ..Delays::none()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let (vpc, vsw, sg) = network(&c).await;
    let run = c
        .ok(
            "RunInstances",
            ECS,
            &[
                ("ImageId", "img"),
                ("InstanceType", "ecs.t6"),
                ("SecurityGroupId", &sg),
                ("VSwitchId", &vsw),
                ("Amount", "2"),
            ],
        )
        .await;
    let ids: Vec<String> = run["InstanceIdSets"]["InstanceIdSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();

    let lb = c
        .ok(
            "CreateLoadBalancer",
            SLB,
            &[
                ("AddressType", "intranet"),
                ("VSwitchId", &vsw),
                ("LoadBalancerSpec", "slb.s1.small"),
            ],
        )
        .await;
    let lb_id = s(&lb["LoadBalancerId"]);
    assert!(s(&lb["Address"]).starts_with("172.16.1."), "{lb}");
    assert_eq!(lb["NetworkType"], "vpc");
    let listener = [
        ("LoadBalancerId", lb_id.as_str()),
        ("ListenerPort", "80"),
        ("BackendServerPort", "8080"),
        ("Bandwidth", "-1"),
    ];
    c.ok("CreateLoadBalancerTCPListener", SLB, &listener).await;
    let (_, code, _) = c.err("CreateLoadBalancerTCPListener", SLB, &listener).await;
    assert_eq!(code, "ListenerAlreadyExists");
    let (_, code, message) = c
        .err(
            "CreateLoadBalancerTCPListener",
            SLB,
            &[
                ("LoadBalancerId", &lb_id),
                ("ListenerPort", "81"),
                ("BackendServerPort", "81"),
            ],
        )
        .await;
    assert_eq!(code, "MissingParameter");
    assert!(message.contains("Bandwidth"));
    let port = [("LoadBalancerId", lb_id.as_str()), ("ListenerPort", "80")];
    let attr = c
        .ok("DescribeLoadBalancerTCPListenerAttribute", SLB, &port)
        .await;
    assert_eq!(attr["Status"], "stopped");
    c.ok("StartLoadBalancerListener", SLB, &port).await;
    let attr = c
        .ok("DescribeLoadBalancerTCPListenerAttribute", SLB, &port)
        .await;
    assert_eq!(attr["Status"], "starting");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        sim.inventory().load_balancers[0].listeners[0].status,
        "running"
    );

    let servers = serde_json::json!([
        {"ServerId": ids[0], "Weight": "50"},
        {"ServerId": ids[1]},
    ])
    .to_string();
    let added = c
        .ok(
            "AddBackendServers",
            SLB,
            &[("LoadBalancerId", &lb_id), ("BackendServers", &servers)],
        )
        .await;
    assert_eq!(
        added["BackendServers"]["BackendServer"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let unknown = r#"[{"ServerId":"i-nope"}]"#;
    let (_, code, _) = c
        .err(
            "AddBackendServers",
            SLB,
            &[("LoadBalancerId", &lb_id), ("BackendServers", unknown)],
        )
        .await;
    assert_eq!(code, "BackendServer.InvalidServerId");
    c.ok(
        "DeleteInstances",
        ECS,
        &[("InstanceId.1", &ids[1]), ("Force", "true")],
    )
    .await;
    let attr = c
        .ok(
            "DescribeLoadBalancerAttribute",
            SLB,
            &[("LoadBalancerId", &lb_id)],
        )
        .await;
    let backends = attr["BackendServers"]["BackendServer"].as_array().unwrap();
    assert_eq!(backends.len(), 1, "{attr}");
    assert_eq!(backends[0]["Weight"], 50);
    assert_eq!(
        attr["ListenerPortsAndProtocol"]["ListenerPortAndProtocol"][0]["ListenerProtocol"],
        "tcp"
    );

    let fs = s(&c
        .ok(
            "CreateFileSystem",
            NAS,
            &[("ProtocolType", "NFS"), ("StorageType", "Performance")],
        )
        .await["FileSystemId"]);
    assert_eq!(fs.len(), 10);
    let mt = c
        .ok(
            "CreateMountTarget",
            NAS,
            &[
                ("FileSystemId", &fs),
                ("NetworkType", "vpc"),
                ("VpcId", &vpc),
                ("VSwitchId", &vsw),
            ],
        )
        .await;
    let domain = s(&mt["MountTargetDomain"]);
    assert!(
        domain.ends_with(".cn-hangzhou.nas.aliyuncs.com"),
        "{domain}"
    );
    let targets = c
        .ok("DescribeMountTargets", NAS, &[("FileSystemId", &fs)])
        .await;
    assert_eq!(
        targets["MountTargets"]["MountTarget"][0]["Status"],
        "Pending"
    );
    assert_eq!(
        targets["MountTargets"]["MountTarget"][0]["AccessGroup"],
        "DEFAULT_VPC_GROUP_NAME"
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    let described = c
        .ok("DescribeFileSystems", NAS, &[("FileSystemId", &fs)])
        .await;
    let item = &described["FileSystems"]["FileSystem"][0];
    assert_eq!(item["MountTargets"]["MountTarget"][0]["Status"], "Active");
    let (status, code, _) = c
        .err("DeleteFileSystem", NAS, &[("FileSystemId", &fs)])
        .await;
    assert_eq!((status, code.as_str()), (403, "Forbidden.NasNotEmpty"));
    let (_, code, _) = c.err("DeleteVSwitch", VPC, &[("VSwitchId", &vsw)]).await;
    assert_eq!(code, "DependencyViolation");
    c.ok(
        "DeleteMountTarget",
        NAS,
        &[("FileSystemId", &fs), ("MountTargetDomain", &domain)],
    )
    .await;
    let (status, code, _) = c
        .err(
            "DeleteMountTarget",
            NAS,
            &[("FileSystemId", &fs), ("MountTargetDomain", &domain)],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidMountTarget.NotFound")
    );
    c.ok("DeleteFileSystem", NAS, &[("FileSystemId", &fs)])
        .await;
    c.ok("DeleteLoadBalancer", SLB, &[("LoadBalancerId", &lb_id)])
        .await;
    let (status, code, _) = c
        .err(
            "DescribeLoadBalancerAttribute",
            SLB,
            &[("LoadBalancerId", &lb_id)],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidLoadBalancerId.NotFound")
    );
    let inventory = sim.inventory();
    assert!(inventory.load_balancers.is_empty() && inventory.file_systems.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn get_queries_and_vpc_paging_work_and_shutdown_stops_serving() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    for n in 0..3 {
        c.ok("CreateVpc", VPC, &[("VpcName", &format!("vpc-{n}"))])
            .await;
    }
    let call = rpc::RpcCall {
        method: "GET",
        action: "DescribeVpcs",
        version: VPC,
        region: Some("cn-hangzhou"),
        params: owned(&[("PageSize", "2"), ("PageNumber", "2")]),
    };
    let signed = rpc::sign_call(&call, &c.key, &nonce(), &timestamp());
    let response = c
        .http
        .get(format!("{}/?{}", c.endpoint, signed.encoded))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["TotalCount"], 3);
    assert_eq!(body["PageNumber"], 2);
    assert_eq!(body["PageSize"], 2);
    assert_eq!(body["Vpcs"]["Vpc"].as_array().unwrap().len(), 1);
    assert_eq!(body["Vpcs"]["Vpc"][0]["VpcName"], "vpc-2");
    let (_, code, message) = c.err("DescribeVpcs", VPC, &[("PageSize", "51")]).await;
    assert_eq!(code, "InvalidParameter");
    assert!(message.contains("PageSize"), "{message}");

    let endpoint = sim.endpoint();
    sim.shutdown().await;
    let after = c
        .http
        .post(format!("{endpoint}/"))
        .body(c.signed("DescribeVpcs", VPC, &[]).encoded)
        .send()
        .await;
    assert!(after.is_err(), "{after:?}");
}

#[tokio::test]
async fn the_same_seed_fails_the_same_requests() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    let faults = Faults {
        seed: 7,
        server_error_rate: 0.5,
        ..Faults::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        sim.set_faults(faults.clone());
        let mut pattern = Vec::new();
        for _ in 0..20 {
            pattern.push(c.call("DescribeVpcs", VPC, &[]).await.0);
        }
        runs.push(pattern);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&200) && runs[0].contains(&503),
        "{:?}",
        runs[0]
    );
}

/// RunInstances with one instance in the VSwitch of [`network`], plus `extra` parameters.
async fn run_one(c: &Client, sg: &str, vsw: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut params = vec![
        ("ImageId", "img"),
        ("InstanceType", "ecs.t6"),
        ("SecurityGroupId", sg),
        ("VSwitchId", vsw),
    ];
    params.extend_from_slice(extra);
    c.call("RunInstances", ECS, &params).await
}

#[tokio::test]
async fn fixed_private_addresses_are_checked_used_and_freed() {
    let sim = quick_sim().await;
    let c = Client::new(&sim);
    let (_, vsw, sg) = network(&c).await;

    let (status, run) = run_one(&c, &sg, &vsw, &[("PrivateIpAddress", "172.16.1.50")]).await;
    assert_eq!(status, 200, "{run}");
    let id = s(&run["InstanceIdSets"]["InstanceIdSet"][0]);
    let described = c
        .ok(
            "DescribeInstances",
            ECS,
            &[("InstanceIds", &format!("[\"{id}\"]"))],
        )
        .await;
    assert_eq!(
        described["Instances"]["Instance"][0]["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0],
        "172.16.1.50",
        "{described}"
    );
    assert_eq!(sim.inventory().instances[0].private_ip, "172.16.1.50");

    let refused = |ip: &'static str, code: &'static str| (ip, code);
    for (ip, code) in [
        refused("172.16.1.50", "InvalidPrivateIpAddress.Duplicated"),
        refused("172.16.2.50", "InvalidPrivateIpAddress"),
        refused("10.0.0.9", "InvalidPrivateIpAddress"),
        refused("172.16.1.0", "InvalidPrivateIpAddress"),
        refused("172.16.1.1", "InvalidPrivateIpAddress"),
        refused("172.16.1.2", "InvalidPrivateIpAddress"),
        refused("172.16.1.254", "InvalidPrivateIpAddress"),
        refused("172.16.1.255", "InvalidPrivateIpAddress"),
        refused("172.16.1.300", "InvalidPrivateIpAddress.Malformed"),
        refused("nope", "InvalidPrivateIpAddress.Malformed"),
    ] {
        let (status, body) = run_one(&c, &sg, &vsw, &[("PrivateIpAddress", ip)]).await;
        assert_eq!(
            (status, s(&body["Code"]).as_str()),
            (400, code),
            "{ip}: {body}"
        );
        assert!(s(&body["Message"]).contains("PrivateIpAddress"), "{body}");
    }
    let (status, body) = run_one(
        &c,
        &sg,
        &vsw,
        &[("PrivateIpAddress", "172.16.1.60"), ("Amount", "2")],
    )
    .await;
    assert_eq!(
        (status, s(&body["Code"]).as_str()),
        (400, "InvalidParameter")
    );
    assert!(s(&body["Message"]).contains("PrivateIpAddress"), "{body}");
    assert_eq!(sim.inventory().instances.len(), 1);

    // The ends of the usable range are accepted.
    for ip in ["172.16.1.3", "172.16.1.253"] {
        let (status, body) = run_one(&c, &sg, &vsw, &[("PrivateIpAddress", ip)]).await;
        assert_eq!(status, 200, "{ip}: {body}");
    }

    // Load balancers: a fixed intranet address, the same rules, none for internet.
    let lb = |address: &'static str, kind: &'static str| {
        [
            ("AddressType", kind),
            ("VSwitchId", vsw.as_str()),
            ("Address", address),
        ]
    };
    let created = c
        .ok("CreateLoadBalancer", SLB, &lb("172.16.1.70", "intranet"))
        .await;
    assert_eq!(created["Address"], "172.16.1.70");
    let lb_id = s(&created["LoadBalancerId"]);
    for (address, kind, code) in [
        (
            "172.16.1.70",
            "intranet",
            "InvalidPrivateIpAddress.Duplicated",
        ),
        (
            "172.16.1.50",
            "intranet",
            "InvalidPrivateIpAddress.Duplicated",
        ),
        ("172.16.9.9", "intranet", "InvalidPrivateIpAddress"),
        ("172.16.1.71", "internet", "InvalidParameter"),
    ] {
        let (status, code_got, message) =
            c.err("CreateLoadBalancer", SLB, &lb(address, kind)).await;
        assert_eq!((status, code_got.as_str()), (400, code), "{address} {kind}");
        assert!(message.contains("Address"), "{message}");
    }
    let (status, body) = run_one(&c, &sg, &vsw, &[("PrivateIpAddress", "172.16.1.70")]).await;
    assert_eq!(
        (status, s(&body["Code"]).as_str()),
        (400, "InvalidPrivateIpAddress.Duplicated")
    );

    // Automatic addresses skip the fixed ones.
    let (status, body) = run_one(&c, &sg, &vsw, &[("Amount", "3")]).await;
    assert_eq!(status, 200, "{body}");
    let inventory = sim.inventory();
    let mut ips: Vec<&str> = inventory
        .instances
        .iter()
        .map(|i| i.private_ip.as_str())
        .collect();
    ips.sort_unstable();
    ips.dedup();
    assert_eq!(ips.len(), 6, "{ips:?}");
    assert!(!ips.contains(&"172.16.1.70"), "{ips:?}");

    // Deleting frees the address.
    c.ok(
        "DeleteInstances",
        ECS,
        &[("InstanceId.1", &id), ("Force", "true")],
    )
    .await;
    c.ok("DeleteLoadBalancer", SLB, &[("LoadBalancerId", &lb_id)])
        .await;
    let (status, body) = run_one(&c, &sg, &vsw, &[("PrivateIpAddress", "172.16.1.50")]).await;
    assert_eq!(status, 200, "{body}");
    c.ok("CreateLoadBalancer", SLB, &lb("172.16.1.70", "intranet"))
        .await;

    // A replay with the same token and address gives the same instance.
    let token = [
        ("PrivateIpAddress", "172.16.1.80"),
        ("ClientToken", "fixed-1"),
    ];
    let (_, first) = run_one(&c, &sg, &vsw, &token).await;
    let (status, second) = run_one(&c, &sg, &vsw, &token).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(first["InstanceIdSets"], second["InstanceIdSets"]);
}

/// A fresh directory under the system's temporary directory.
fn temp_dir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "iac-sim-{what}-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

fn persisted(path: &std::path::Path, delays: Delays) -> SimConfig {
    SimConfig {
        delays,
        persist: Some(path.to_owned()),
        ..SimConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn the_cloud_persists_across_runs_with_its_timers_and_tokens() {
    let dir = temp_dir("persist");
    let path = dir.join("cloud.json");
    let delays = Delays {
        instance_pending: Duration::from_secs(2),
        instance_starting: Duration::from_secs(3),
        ..Delays::none()
    };
    let sim = Simulator::start(persisted(&path, delays.clone()))
        .await
        .unwrap();
    assert!(sim.inventory().is_empty());
    assert!(!path.exists(), "nothing changed yet");
    let c = Client::new(&sim);
    let (vpc, vsw, sg) = network(&c).await;
    let saved = std::fs::read_to_string(&path).expect("saved after a change");
    assert!(
        saved.contains(&vpc) && saved.contains("\"version\": 1"),
        "{saved}"
    );
    let run_params = [
        ("ImageId", "img"),
        ("InstanceType", "ecs.t6"),
        ("SecurityGroupId", sg.as_str()),
        ("VSwitchId", vsw.as_str()),
        ("PrivateIpAddress", "172.16.1.40"),
        ("InternetMaxBandwidthOut", "5"),
        ("Tag.1.Key", "env"),
        ("Tag.1.Value", "test"),
        ("ClientToken", "persist-1"),
    ];
    let run = c.ok("RunInstances", ECS, &run_params).await;
    let id = s(&run["InstanceIdSets"]["InstanceIdSet"][0]);
    let lb = c
        .ok(
            "CreateLoadBalancer",
            SLB,
            &[("AddressType", "intranet"), ("VSwitchId", &vsw)],
        )
        .await;
    let lb_id = s(&lb["LoadBalancerId"]);
    tokio::time::advance(Duration::from_millis(500)).await;
    let before = sim.inventory();
    assert_eq!(before.instances[0].status, "Pending");
    assert_eq!(before.instances[0].private_ip, "172.16.1.40");
    let public_ip = before.instances[0].public_ip.clone().expect("a public ip");
    sim.shutdown().await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["cloud.json"], "no temporary files are left");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let instance = &saved["instances"][0];
    assert_eq!(
        (
            &instance["status"],
            &instance["pending_ms"],
            &instance["starting_ms"]
        ),
        (
            &Value::from("Pending"),
            &Value::from(1500),
            &Value::from(3000)
        ),
        "{instance}"
    );
    assert!(saved.get("nonces").is_none() && saved.get("calls").is_none());
    assert!(
        !saved.to_string().contains("sim-secret"),
        "no keys are saved"
    );
    let mut contradicted = saved.clone();
    contradicted["instances"][0]["status"] = Value::from("Running");
    let wrong = dir.join("wrong.json");
    std::fs::write(&wrong, contradicted.to_string()).unwrap();
    let err = Simulator::start(persisted(&wrong, Delays::none()))
        .await
        .expect_err("a status the delays contradict");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("/instances/0"), "{err}");
    std::fs::remove_file(&wrong).unwrap();

    // A second run on the same file: the same cloud, the timers resume from the load.
    let sim = Simulator::start(persisted(&path, Delays::none()))
        .await
        .unwrap();
    let after = sim.inventory();
    assert_eq!(
        serde_json::to_value(&after).unwrap(),
        serde_json::to_value(&before).unwrap()
    );
    assert_eq!(after.instances[0].id, id);
    assert_eq!(after.load_balancers[0].id, lb_id);
    assert_eq!(after.vpcs[0].id, vpc);
    let c = Client::new(&sim);
    let replay = c.ok("RunInstances", ECS, &run_params).await;
    assert_eq!(replay["InstanceIdSets"], run["InstanceIdSets"]);
    assert_eq!(sim.inventory().instances.len(), 1);
    let mut other = run_params;
    other[8] = ("ClientToken", "persist-2");
    let (status, body) = c.call("RunInstances", ECS, &other).await;
    assert_eq!(
        (status, s(&body["Code"]).as_str()),
        (400, "InvalidPrivateIpAddress.Duplicated"),
        "addresses stay taken: {body}"
    );
    let (_, fresh) = run_one(&c, &sg, &vsw, &[("InternetMaxBandwidthOut", "1")]).await;
    let fresh = s(&fresh["InstanceIdSets"]["InstanceIdSet"][0]);
    let inventory = sim.inventory();
    let fresh = inventory.instances.iter().find(|i| i.id == fresh).unwrap();
    assert_ne!(fresh.private_ip, "172.16.1.40");
    assert_ne!(fresh.private_ip, after.load_balancers[0].address);
    assert_ne!(fresh.public_ip.as_deref(), Some(public_ip.as_str()));
    assert_eq!(fresh.status, "Running", "new objects take the new delays");

    let status = |sim: &Simulator| {
        sim.inventory()
            .instances
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.status.clone())
            .unwrap()
    };
    tokio::time::advance(Duration::from_millis(1400)).await;
    assert_eq!(status(&sim), "Pending");
    tokio::time::advance(Duration::from_millis(200)).await;
    assert_eq!(status(&sim), "Starting");
    tokio::time::advance(Duration::from_millis(2800)).await;
    assert_eq!(status(&sim), "Starting");
    tokio::time::advance(Duration::from_millis(300)).await;
    assert_eq!(status(&sim), "Running");
    sim.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn persist_files_that_are_not_a_saved_cloud_are_invalid_data() {
    let dir = temp_dir("corrupt");
    let path = dir.join("cloud.json");
    for (text, why) in [
        ("{\"version\": 1, \"vpcs\": [", "EOF"),
        ("not json", "expected"),
        ("{\"version\": 2}", "version 2"),
        ("{\"vpcs\": []}", "version"),
        ("{\"version\": 1}", "missing field"),
    ] {
        std::fs::write(&path, text).unwrap();
        let err = Simulator::start(persisted(&path, Delays::none()))
            .await
            .expect_err(text);
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{text}: {err}");
        let message = err.to_string();
        assert!(message.contains("cloud.json"), "{message}");
        assert!(message.contains(why), "{text}: {message}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn save_writes_only_with_a_persist_file() {
    let sim = quick_sim().await;
    sim.save().expect("nothing to save is fine");
    sim.shutdown().await;

    let dir = temp_dir("save");
    let path = dir.join("nested").join("cloud.json");
    let sim = Simulator::start(persisted(&path, Delays::none()))
        .await
        .expect("a missing file is an empty cloud");
    let err = sim.save().expect_err("the directory does not exist");
    assert!(err.to_string().contains("cloud.json"), "{err}");
    drop(sim);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let sim = Simulator::start(persisted(&path, Delays::none()))
        .await
        .unwrap();
    sim.save().unwrap();
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["vpcs"], serde_json::json!([]));
    drop(sim);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(start_paused = true)]
async fn every_kind_of_object_survives_a_restart() {
    let dir = temp_dir("kinds");
    let path = dir.join("cloud.json");
    let delays = Delays {
        listener_starting: Duration::from_secs(4),
        mount_target_pending: Duration::from_secs(6),
        ..Delays::none()
    };
    let sim = Simulator::start(persisted(&path, delays)).await.unwrap();
    let c = Client::new(&sim);
    let (vpc, vsw, sg) = network(&c).await;
    c.ok(
        "AuthorizeSecurityGroup",
        ECS,
        &[
            ("SecurityGroupId", &sg),
            ("IpProtocol", "tcp"),
            ("PortRange", "22/22"),
            ("SourceCidrIp", "10.0.0.0/8"),
        ],
    )
    .await;
    let (_, run) = run_one(&c, &sg, &vsw, &[]).await;
    let instance = s(&run["InstanceIdSets"]["InstanceIdSet"][0]);
    let lb_id = s(&c
        .ok(
            "CreateLoadBalancer",
            SLB,
            &[
                ("AddressType", "intranet"),
                ("VSwitchId", &vsw),
                ("Address", "172.16.1.99"),
            ],
        )
        .await["LoadBalancerId"]);
    let port = [("LoadBalancerId", lb_id.as_str()), ("ListenerPort", "80")];
    c.ok(
        "CreateLoadBalancerTCPListener",
        SLB,
        &[
            ("LoadBalancerId", &lb_id),
            ("ListenerPort", "80"),
            ("BackendServerPort", "8080"),
            ("Bandwidth", "-1"),
        ],
    )
    .await;
    c.ok("StartLoadBalancerListener", SLB, &port).await;
    let backends = format!("[{{\"ServerId\":\"{instance}\",\"Weight\":\"70\"}}]");
    c.ok(
        "AddBackendServers",
        SLB,
        &[("LoadBalancerId", &lb_id), ("BackendServers", &backends)],
    )
    .await;
    let fs = s(&c
        .ok(
            "CreateFileSystem",
            NAS,
            &[("ProtocolType", "NFS"), ("StorageType", "Performance")],
        )
        .await["FileSystemId"]);
    c.ok(
        "CreateMountTarget",
        NAS,
        &[
            ("FileSystemId", &fs),
            ("NetworkType", "vpc"),
            ("VpcId", &vpc),
            ("VSwitchId", &vsw),
        ],
    )
    .await;
    let put = oss_call(&c, "PUT", ("kept", ""), &[], &[], b"", None).await;
    assert_eq!(put.status, 200, "{}", put.body);
    let data = b"bytes kept\tacross runs\n";
    let put = oss_call(&c, "PUT", ("kept", "a/b.bin"), &[], &[], data, None).await;
    assert_eq!(put.status, 200, "{}", put.body);
    tokio::time::advance(Duration::from_secs(1)).await;
    let before = sim.inventory();
    assert_eq!(before.load_balancers[0].listeners[0].status, "starting");
    assert_eq!(before.file_systems[0].mount_targets[0].status, "Pending");
    sim.shutdown().await;

    let sim = Simulator::start(persisted(&path, Delays::none()))
        .await
        .unwrap();
    let after = sim.inventory();
    assert_eq!(
        serde_json::to_value(&after).unwrap(),
        serde_json::to_value(&before).unwrap()
    );
    assert_eq!(after.security_groups[0].rules.len(), 1);
    assert_eq!(after.load_balancers[0].backend_servers[0].weight, 70);
    assert_eq!(after.load_balancers[0].address, "172.16.1.99");
    let c = Client::new(&sim);
    let got = oss_call(&c, "GET", ("kept", "a/b.bin"), &[], &[], b"", None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body.as_bytes(), data);
    tokio::time::advance(Duration::from_millis(3100)).await;
    let now = sim.inventory();
    assert_eq!(now.load_balancers[0].listeners[0].status, "running");
    assert_eq!(now.file_systems[0].mount_targets[0].status, "Pending");
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        sim.inventory().file_systems[0].mount_targets[0].status,
        "Active"
    );
    sim.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
