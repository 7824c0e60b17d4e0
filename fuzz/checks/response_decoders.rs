// The check of the `response_decoders` fuzz target, shared with the corpus replay of
// `iac-aliyun/tests/fuzz_corpus.rs` (included in both).

use iac_aliyun::api;
use iac_aliyun::error::ApiError;

/// What the client makes of a cloud's answer: the error decoder (JSON, XML or anything),
/// the typed answers of the actions the handlers call, and the form decoder the simulator
/// and the signature checks use. No input may panic. The first byte picks the HTTP status.
pub fn check(data: &[u8]) {
    let Some((&status, rest)) = data.split_first() else {
        return;
    };
    let body = String::from_utf8_lossy(rest);
    let err = ApiError::decode(400 + u16::from(status), &body, Some("Fuzz"));
    let _ = (err.to_string(), err.kind());
    let _ = ApiError::decode(200, &body, None).kind();
    let _ = serde_json::from_str::<api::DescribeInstancesResponse>(&body);
    let _ = serde_json::from_str::<api::DescribeVpcsResponse>(&body);
    let _ = serde_json::from_str::<api::DescribeVSwitchesResponse>(&body);
    let _ = serde_json::from_str::<api::CreateVpcResponse>(&body);
    let _ = serde_json::from_str::<api::RunInstancesResponse>(&body);
    let _ = serde_json::from_str::<api::CreateLoadBalancerResponse>(&body);
    let _ = serde_json::from_str::<api::DescribeFileSystemsResponse>(&body);
    let _ = serde_json::from_str::<api::DescribeMountTargetsResponse>(&body);
    let _ = serde_json::from_str::<api::LoadBalancerAttribute>(&body);
    let _ = serde_json::from_str::<api::ListenerAttribute>(&body);
    let _ = iac_aliyun::sign::rpc::decode_form(&body);
}
